//! The outer layer of a delivery: one id for every attempt, and the report.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use tower::BoxError;
use tower::retry::{Retry, RetryLayer};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{AttemptError, DeliveryError};
use crate::outgoing::{new_delivery_id, offered_delivery_id, read_body};
use crate::policy::DeliveryPolicy;
use crate::scheme::Scheme;
use crate::sign_layer::{DEFAULT_MAX_BODY, SentWebhook, SignWebhook, SignWebhookLayer};

/// How a delivery ended well: in the response extensions of
/// [`WebhookDelivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The delivery id every attempt carried.
    pub delivery_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// The status of the last answer (which may be a non-retryable error such
    /// as 400, or the last 503 when retries ran out).
    pub status: StatusCode,
    /// Time from the first attempt to the last answer.
    pub elapsed: Duration,
}

/// Readies a webhook for delivery with retries: reads the body once (up to a
/// limit), fixes the delivery id every attempt will carry, and reports the
/// outcome ([`DeliveryReport`] in the response extensions, or
/// [`DeliveryError`]) with one final `tracing` event.
///
/// It goes outside `tower::retry` (which must clone the request, so needs its
/// body in memory); [`webhook_client`] builds the whole stack.
#[derive(Debug, Clone)]
pub struct WebhookDeliveryLayer {
    scheme: Scheme,
    max_body: usize,
}

impl WebhookDeliveryLayer {
    /// Delivery ids in `scheme`'s header.
    pub fn new(scheme: Scheme) -> Self {
        Self {
            scheme,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest body (default 1 MiB).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

impl<S> Layer<S> for WebhookDeliveryLayer {
    type Service = WebhookDelivery<S>;

    fn layer(&self, inner: S) -> WebhookDelivery<S> {
        WebhookDelivery {
            inner,
            scheme: self.scheme,
            max_body: self.max_body,
        }
    }
}

/// The service of [`WebhookDeliveryLayer`].
#[derive(Debug, Clone)]
pub struct WebhookDelivery<S> {
    inner: S,
    scheme: Scheme,
    max_body: usize,
}

/// The client [`webhook_client`] builds.
pub type WebhookClient<S> = WebhookDelivery<Retry<DeliveryPolicy, SignWebhook<S>>>;

/// A client that signs, sends and retries webhooks: `client` (any HTTP client
/// `Service`, such as hyper-util's) inside `sign`, `tower::retry` with
/// `policy`, and [`WebhookDeliveryLayer`] outside.
///
/// ```
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower_claude_webhook::{DeliveryPolicy, SignWebhookLayer, Signer, WebhookSecret, webhook_client};
///
/// // Plain HTTP here; give the client an HTTPS connector (hyper-rustls,
/// // hyper-tls) for real endpoints, which must be https://.
/// let http = Client::builder(TokioExecutor::new())
///     .build_http::<http_body_util::Full<bytes::Bytes>>();
/// let sign = SignWebhookLayer::new(Signer::seed(WebhookSecret::new("s3cret").unwrap()))
///     .event("task.completed");
/// let webhooks = webhook_client(http, sign, DeliveryPolicy::default());
/// # drop(webhooks);
/// ```
pub fn webhook_client<S>(
    client: S,
    sign: SignWebhookLayer,
    policy: DeliveryPolicy,
) -> WebhookClient<S> {
    let scheme = sign.scheme();
    let max_body = sign.body_limit();
    let sign = sign.attempt_timeout(policy.timeout());
    WebhookDeliveryLayer::new(scheme)
        .max_body(max_body)
        .layer(RetryLayer::new(policy).layer(sign.layer(client)))
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl<S, B, RB> Service<Request<B>> for WebhookDelivery<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = BoxFuture<Response<RB>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (scheme, max_body) = (self.scheme, self.max_body);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let id_header = scheme.id_header();
            let delivery_id = match offered_delivery_id(&parts.headers, &id_header) {
                Ok(Some(id)) => id,
                Ok(None) => {
                    let id = new_delivery_id();
                    if let Ok(value) = HeaderValue::from_str(&id) {
                        parts.headers.insert(id_header, value);
                    }
                    id
                }
                Err(error) => {
                    return Err(Box::new(DeliveryError {
                        delivery_id: String::new(),
                        attempts: 0,
                        elapsed: Duration::ZERO,
                        source: Box::new(error),
                    }) as BoxError);
                }
            };
            let failed = |source: BoxError, attempts: u32, elapsed: Duration| -> BoxError {
                Box::new(DeliveryError {
                    delivery_id: delivery_id.clone(),
                    attempts,
                    elapsed,
                    source,
                })
            };
            let body = match read_body(body, max_body).await {
                Ok(body) => body,
                Err(error) => return Err(failed(Box::new(error), 0, Duration::ZERO)),
            };
            let started = Instant::now();
            match inner
                .call(Request::from_parts(parts, Full::new(body)))
                .await
            {
                Ok(mut response) => {
                    let attempts = response
                        .extensions()
                        .get::<SentWebhook>()
                        .map_or(1, |s| s.attempt);
                    let report = DeliveryReport {
                        delivery_id: delivery_id.clone(),
                        attempts,
                        status: response.status(),
                        elapsed: started.elapsed(),
                    };
                    let delivered = report.status.is_success();
                    tracing::event!(
                        target: "tower_claude_webhook",
                        tracing::Level::INFO,
                        delivery_id = %report.delivery_id,
                        attempts,
                        status = report.status.as_u16(),
                        elapsed_ms = report.elapsed.as_millis() as u64,
                        delivered,
                        "webhook delivery finished"
                    );
                    response.extensions_mut().insert(report);
                    Ok(response)
                }
                Err(error) => {
                    let error: BoxError = error.into();
                    let attempts = error
                        .downcast_ref::<AttemptError>()
                        .map_or(1, AttemptError::attempt);
                    let error = failed(error, attempts, started.elapsed());
                    tracing::error!(target: "tower_claude_webhook", error = %error, "webhook delivery failed");
                    Err(error)
                }
            }
        })
    }
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook {}: {} after {} attempt(s) in {:?}",
            self.delivery_id, self.status, self.attempts, self.elapsed
        )
    }
}
