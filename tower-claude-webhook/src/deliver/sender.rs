//! The sender: signs a webhook, sends it through any HTTP client, retries it
//! under one id, and says how it ended.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::Full;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use crate::deliver::retry::{AttemptOutcome, retry_after};
use crate::deliver::{
    DeliveryError, DeliveryFailure, DeliveryReport, PlainHttp, RetryPolicy, SendError, Webhook,
};
use crate::names;
use crate::sign::Signer;
use tower_claude_core::Clock;

/// The default largest body a sender signs: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The future of one delivery.
pub type DeliveryFuture =
    Pin<Box<dyn Future<Output = Result<DeliveryReport, DeliveryError>> + Send>>;

/// Signs and delivers [`Webhook`]s through `client`, any HTTP client
/// `Service` (hyper-util's, or one with your own layers).
///
/// One delivery reads in one direction: the checks that no retry changes
/// (the endpoint is `https://` unless [`plain_http`](Self::plain_http) allows
/// otherwise, the body fits [`max_body`](Self::max_body), the headers are
/// valid), then per attempt: sign with a fresh timestamp under the delivery's
/// id, send, wait at most the policy's attempt timeout, and let the
/// [`RetryPolicy`] decide. The answer is typed:
/// `Ok(`[`DeliveryReport`]`)` when the receiver answered 2xx, otherwise a
/// [`DeliveryError`] saying what failed last. One `tracing` event per attempt
/// and one at the end.
///
/// It is a `Service<Webhook>` too, so tower's concurrency limits, buffers and
/// load shedding stack in front of it.
///
/// ```
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower_claude_webhook::WebhookSecret;
/// use tower_claude_webhook::deliver::{RetryPolicy, Webhook, WebhookSender};
/// use tower_claude_webhook::sign::Signer;
///
/// # async fn run() {
/// // Plain HTTP here; give the client an HTTPS connector (hyper-rustls,
/// // hyper-tls) for real endpoints, which must be https://.
/// let http = Client::builder(TokioExecutor::new())
///     .build_http::<http_body_util::Full<bytes::Bytes>>();
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let sender = WebhookSender::new(http, Signer::x_webhook(secret))
///     .retry_policy(RetryPolicy::default().retries(5));
/// let url = "https://hooks.example.com/in".parse().unwrap();
/// match sender.send(Webhook::new(url, r#"{"task":7}"#).event("task.completed")).await {
///     Ok(report) => println!("{report}"),
///     Err(error) => eprintln!("{error}"),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct WebhookSender<C> {
    client: C,
    config: Arc<SenderConfig>,
}

#[derive(Clone)]
struct SenderConfig {
    signer: Signer,
    retry: RetryPolicy,
    plain_http: PlainHttp,
    max_body: usize,
    clock: Clock,
}

impl<C> WebhookSender<C> {
    /// Sends through `client`, signing with `signer`.
    pub fn new(client: C, signer: Signer) -> Self {
        Self {
            client,
            config: Arc::new(SenderConfig {
                signer,
                retry: RetryPolicy::default(),
                plain_http: PlainHttp::default(),
                max_body: DEFAULT_MAX_BODY,
                clock: Clock::system(),
            }),
        }
    }

    /// When to retry and how long an attempt may take (default
    /// [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        Arc::make_mut(&mut self.config).retry = policy;
        self
    }

    /// Where plain `http://` endpoints are allowed (default nowhere).
    #[must_use]
    pub fn plain_http(mut self, allowed: PlainHttp) -> Self {
        Arc::make_mut(&mut self.config).plain_http = allowed;
        self
    }

    /// The largest body sent (default 1 MiB); a larger one is refused whole.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.config).max_body = bytes;
        self
    }

    /// Reads the signing time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        Arc::make_mut(&mut self.config).clock = clock;
        self
    }

    /// The HTTP client.
    pub fn get_ref(&self) -> &C {
        &self.client
    }

    /// The HTTP client, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.client
    }

    /// The HTTP client, taken out.
    pub fn into_inner(self) -> C {
        self.client
    }
}

impl<C, RB> WebhookSender<C>
where
    C: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    RB: Send + 'static,
{
    /// Delivers `webhook`, retrying as the policy says.
    pub fn send(&self, webhook: Webhook) -> DeliveryFuture {
        Box::pin(deliver(
            self.client.clone(),
            Arc::clone(&self.config),
            webhook,
        ))
    }
}

impl<C, RB> Service<Webhook> for WebhookSender<C>
where
    C: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = DeliveryReport;
    type Error = DeliveryError;
    type Future = DeliveryFuture;

    /// Always ready: each attempt waits for the client's readiness itself,
    /// as one delivery makes several calls, and that wait counts against the
    /// attempt's timeout. To bound deliveries in flight (or shed them), put
    /// tower's `ConcurrencyLimit` or `LoadShed` in front of the sender; a
    /// limit inside the client only makes attempts wait.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DeliveryError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, webhook: Webhook) -> DeliveryFuture {
        self.send(webhook)
    }
}

/// One delivery, start to end.
async fn deliver<C, RB>(
    mut client: C,
    config: Arc<SenderConfig>,
    webhook: Webhook,
) -> Result<DeliveryReport, DeliveryError>
where
    C: Service<Request<Full<Bytes>>, Response = Response<RB>> + Send,
    C::Error: Into<BoxError>,
{
    let started = Instant::now();
    let Webhook {
        url,
        id,
        event,
        content_type,
        body,
    } = webhook;
    let end = |attempts, failure| DeliveryError {
        delivery_id: id.clone(),
        attempts,
        elapsed: started.elapsed(),
        failure,
    };
    let headers = match request_headers(&config, &url, event.as_deref(), &content_type, &body) {
        Ok(headers) => headers,
        Err(error) => {
            let error = end(0, DeliveryFailure::Refused(error));
            #[cfg(feature = "metrics")]
            crate::metrics::delivery(false, config.signer.scheme());
            tracing::error!(target: "tower_claude_webhook", error = %error, "webhook refused before sending");
            return Err(error);
        }
    };
    let timeout = config.retry.timeout();
    let endpoint = url.to_string();
    let mut last_failure: Option<DeliveryFailure> = None;
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let mut headers = headers.clone();
        let signed = config.signer.sign_unique_to(
            endpoint.as_bytes(),
            &mut headers,
            id.as_str(),
            config.clock.unix_seconds(),
            &body,
        );
        if let Err(error) = signed {
            // After a sent attempt, what the receiver did last is the news;
            // before any, nothing was sent.
            let error = match last_failure.take() {
                Some(failure) => end(attempt - 1, failure),
                None => end(0, DeliveryFailure::Refused(error)),
            };
            #[cfg(feature = "metrics")]
            crate::metrics::delivery(false, config.signer.scheme());
            tracing::error!(target: "tower_claude_webhook", error = %error, "webhook not delivered");
            return Err(error);
        }
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url.clone();
        *request.headers_mut() = headers;
        let sent = Instant::now();
        let call = async {
            let ready = client.ready().await.map_err(Into::into)?;
            ready.call(request).await.map_err(Into::into)
        };
        let answer: Result<Result<Response<RB>, BoxError>, _> =
            tokio::time::timeout(timeout, call).await;
        let latency_ms = sent.elapsed().as_millis() as u64;
        let (outcome, failure) = match answer {
            Ok(Ok(response)) => {
                let status = response.status();
                tracing::info!(target: "tower_claude_webhook", delivery_id = %id, attempt, status = status.as_u16(), latency_ms, "webhook attempt answered");
                if status.is_success() {
                    let report = DeliveryReport {
                        delivery_id: id.clone(),
                        attempts: attempt,
                        status,
                        elapsed: started.elapsed(),
                    };
                    tracing::info!(target: "tower_claude_webhook", delivery_id = %id, attempts = attempt, status = status.as_u16(), elapsed_ms = report.elapsed.as_millis() as u64, "webhook delivered");
                    #[cfg(feature = "metrics")]
                    {
                        crate::metrics::attempt("ok");
                        crate::metrics::delivery(true, config.signer.scheme());
                    }
                    return Ok(report);
                }
                let outcome = AttemptOutcome::Answered(status, retry_after(response.headers()));
                (outcome, DeliveryFailure::Status(status))
            }
            Ok(Err(error)) => {
                tracing::warn!(target: "tower_claude_webhook", delivery_id = %id, attempt, latency_ms, error = %error, "webhook attempt failed");
                (AttemptOutcome::NoAnswer, DeliveryFailure::Transport(error))
            }
            Err(_) => {
                tracing::warn!(target: "tower_claude_webhook", delivery_id = %id, attempt, latency_ms, "webhook attempt timed out");
                (AttemptOutcome::NoAnswer, DeliveryFailure::TimedOut(timeout))
            }
        };
        match config.retry.next_delay(attempt, outcome) {
            Some(delay) => {
                #[cfg(feature = "metrics")]
                crate::metrics::attempt("retryable");
                tracing::debug!(target: "tower_claude_webhook", delivery_id = %id, next_attempt = attempt.saturating_add(1), delay_ms = delay.as_millis() as u64, "webhook will be retried");
                last_failure = Some(failure);
                tokio::time::sleep(delay).await;
            }
            None => {
                #[cfg(feature = "metrics")]
                {
                    crate::metrics::attempt("final");
                    crate::metrics::delivery(false, config.signer.scheme());
                }
                let error = end(attempt, failure);
                tracing::error!(target: "tower_claude_webhook", error = %error, "webhook not delivered");
                return Err(error);
            }
        }
    }
}

/// The headers every attempt shares, or why the webhook cannot be sent.
fn request_headers(
    config: &SenderConfig,
    url: &http::Uri,
    event: Option<&str>,
    content_type: &str,
    body: &Bytes,
) -> Result<HeaderMap, SendError> {
    if !config.plain_http.permits(url) {
        return Err(SendError::InsecureEndpoint(origin(url)));
    }
    if body.len() > config.max_body {
        return Err(SendError::BodyTooLarge {
            limit: config.max_body,
        });
    }
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(CONTENT_TYPE, visible_ascii(content_type, "content type")?);
    if let Some(event) = event {
        headers.insert(names::X_WEBHOOK_EVENT, visible_ascii(event, "event type")?);
    }
    Ok(headers)
}

/// `text` as a header value a receiver will read: the verifier reads these
/// headers with `HeaderValue::to_str` (visible ASCII), so the sender refuses
/// by the same rule rather than one of its own.
fn visible_ascii(text: &str, what: &'static str) -> Result<HeaderValue, SendError> {
    match HeaderValue::from_str(text) {
        Ok(value) if !text.is_empty() && value.to_str().is_ok() => Ok(value),
        _ => Err(SendError::InvalidHeader(what)),
    }
}

/// The scheme, host and port of `url`: what an error may show of an
/// endpoint whose path or user part may hold a token.
pub(crate) fn origin(url: &http::Uri) -> String {
    let scheme = url.scheme_str().unwrap_or("?");
    let host = url.host().unwrap_or("?");
    match url.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

impl<C: fmt::Debug> fmt::Debug for WebhookSender<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("client", &self.client)
            .field("signer", &self.config.signer)
            .field("retry_policy", &self.config.retry)
            .field("plain_http", &self.config.plain_http)
            .field("max_body", &self.config.max_body)
            .field("clock", &self.config.clock)
            .finish()
    }
}
