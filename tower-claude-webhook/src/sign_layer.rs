//! The outbound layer that signs every webhook a client sends.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response, Uri};
use http_body::Body;
use http_body_util::Full;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::clock::UnixClock;
use crate::error::{AttemptError, AttemptFailure, SendError};
use crate::outgoing::{new_delivery_id, offered_delivery_id, read_body};
use crate::scheme::{Signer, names};

/// The default largest body a signer accepts: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Which attempt a request is, set by [`DeliveryPolicy`](crate::DeliveryPolicy)
/// in the request extensions (absent: the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub u32);

/// What the signing layer sent, in the response extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentWebhook {
    /// The delivery id.
    pub delivery_id: String,
    /// Which attempt this response answers (1 for the first).
    pub attempt: u32,
    /// The signed timestamp (unix seconds).
    pub timestamp: u64,
}

/// Signs each request with a fresh timestamp and sends it to the inner client.
///
/// - Collects the body up to [`max_body`](Self::max_body) (larger is a
///   [`SendError::BodyTooLarge`], never a signature over a truncated body).
/// - Keeps the delivery id the request carries (`X-Webhook-Delivery-Id` or
///   `webhook-id`), or makes one; takes the event type from `X-Webhook-Event`
///   on the request, or from [`event`](Self::event).
/// - Refuses endpoints other than `https://` unless plain HTTP is allowed.
/// - Times each attempt out after [`attempt_timeout`](Self::attempt_timeout)
///   and logs one `tracing` event per attempt.
///
/// Placed inside `tower::retry` with [`DeliveryPolicy`](crate::DeliveryPolicy),
/// every attempt is signed again with a fresh timestamp.
#[derive(Clone)]
pub struct SignWebhookLayer {
    config: Arc<SignConfig>,
}

#[derive(Clone)]
struct SignConfig {
    signer: Signer,
    event: Option<HeaderValue>,
    max_body: usize,
    http: HttpPolicy,
    timeout: Duration,
    clock: UnixClock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HttpPolicy {
    Refuse,
    Loopback,
    Any,
}

impl SignWebhookLayer {
    /// Signs with `signer`.
    pub fn new(signer: Signer) -> Self {
        Self {
            config: Arc::new(SignConfig {
                signer,
                event: None,
                max_body: DEFAULT_MAX_BODY,
                http: HttpPolicy::Refuse,
                timeout: Duration::from_secs(30),
                clock: UnixClock::system(),
            }),
        }
    }

    /// The event type of requests that name none.
    ///
    /// # Panics
    /// When `event` is not a valid header value; events are names such as
    /// `task.completed`.
    #[must_use]
    pub fn event(mut self, event: &str) -> Self {
        let value = match HeaderValue::from_str(event) {
            Ok(value) => value,
            Err(_) => panic!("{}", SendError::InvalidEvent),
        };
        Arc::make_mut(&mut self.config).event = Some(value);
        self
    }

    /// The largest body signed (default 1 MiB).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.config).max_body = bytes;
        self
    }

    /// Allows `http://` endpoints on loopback addresses (`127.0.0.0/8`, `::1`,
    /// `localhost`), for local receivers and tests.
    #[must_use]
    pub fn allow_http_loopback(mut self) -> Self {
        Arc::make_mut(&mut self.config).http = HttpPolicy::Loopback;
        self
    }

    /// Allows `http://` endpoints anywhere: the body, its signature and the
    /// delivery id then cross the network in the clear.
    #[must_use]
    pub fn allow_insecure(mut self) -> Self {
        Arc::make_mut(&mut self.config).http = HttpPolicy::Any;
        self
    }

    /// The longest one attempt may take (default 30 s).
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).timeout = timeout;
        self
    }

    /// The scheme it signs in.
    pub fn scheme(&self) -> crate::Scheme {
        self.config.signer.scheme()
    }

    /// The largest body it signs.
    pub fn body_limit(&self) -> usize {
        self.config.max_body
    }

    /// Reads the signing time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: UnixClock) -> Self {
        Arc::make_mut(&mut self.config).clock = clock;
        self
    }
}

impl<S> Layer<S> for SignWebhookLayer {
    type Service = SignWebhook<S>;

    fn layer(&self, inner: S) -> SignWebhook<S> {
        SignWebhook {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`SignWebhookLayer`].
#[derive(Clone)]
pub struct SignWebhook<S> {
    inner: S,
    config: Arc<SignConfig>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl<S, B, RB> Service<Request<B>> for SignWebhook<S>
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
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let scheme = config.signer.scheme();
            let (mut parts, body) = request.into_parts();
            let attempt = parts.extensions.get::<Attempt>().map_or(1, |a| a.0);
            let offered = offered_delivery_id(&parts.headers, &scheme.id_header());
            let delivery_id = match &offered {
                Ok(Some(id)) => id.clone(),
                Ok(None) | Err(_) => new_delivery_id(),
            };
            let refuse = |error: SendError| -> BoxError {
                Box::new(AttemptError {
                    delivery_id: delivery_id.clone(),
                    attempt,
                    kind: AttemptFailure::Refused,
                    source: Some(Box::new(error)),
                })
            };
            if let Err(error) = offered {
                return Err(refuse(error));
            }
            if !config.http.permits(&parts.uri) {
                return Err(refuse(SendError::InsecureEndpoint(parts.uri.to_string())));
            }
            let body = match read_body(body, config.max_body).await {
                Ok(body) => body,
                Err(error) => return Err(refuse(error)),
            };
            if !parts.headers.contains_key(names::X_WEBHOOK_EVENT)
                && let Some(event) = &config.event
            {
                parts.headers.insert(names::X_WEBHOOK_EVENT, event.clone());
            }
            let timestamp = match config.signer.sign_unique(
                &mut parts.headers,
                &delivery_id,
                config.clock.now(),
                &body,
            ) {
                Ok(timestamp) => timestamp,
                Err(error) => return Err(refuse(error)),
            };
            let request = Request::from_parts(parts, Full::new(body));

            let started = Instant::now();
            let outcome = tokio::time::timeout(config.timeout, inner.call(request)).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            match outcome {
                Ok(Ok(mut response)) => {
                    tracing::info!(
                        target: "tower_claude_webhook",
                        delivery_id = %delivery_id,
                        attempt,
                        status = response.status().as_u16(),
                        latency_ms,
                        "webhook attempt answered"
                    );
                    response.extensions_mut().insert(SentWebhook {
                        delivery_id,
                        attempt,
                        timestamp,
                    });
                    Ok(response)
                }
                Ok(Err(error)) => {
                    let error: BoxError = error.into();
                    tracing::warn!(
                        target: "tower_claude_webhook",
                        delivery_id = %delivery_id,
                        attempt,
                        latency_ms,
                        error = %error,
                        "webhook attempt failed"
                    );
                    Err(Box::new(AttemptError {
                        delivery_id,
                        attempt,
                        kind: AttemptFailure::Transport,
                        source: Some(error),
                    }) as BoxError)
                }
                Err(_) => {
                    tracing::warn!(
                        target: "tower_claude_webhook",
                        delivery_id = %delivery_id,
                        attempt,
                        latency_ms,
                        "webhook attempt timed out"
                    );
                    Err(Box::new(AttemptError {
                        delivery_id,
                        attempt,
                        kind: AttemptFailure::TimedOut(config.timeout),
                        source: None,
                    }) as BoxError)
                }
            }
        })
    }
}

impl HttpPolicy {
    fn permits(self, uri: &Uri) -> bool {
        match uri.scheme_str() {
            Some("https") => true,
            Some("http") => match self {
                Self::Any => true,
                Self::Loopback => uri.host().is_some_and(is_loopback_host),
                Self::Refuse => false,
            },
            _ => false,
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for SignWebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl fmt::Debug for SignConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignWebhookLayer")
            .field("signer", &self.signer)
            .field("event", &self.event)
            .field("max_body", &self.max_body)
            .field("http", &self.http)
            .field("attempt_timeout", &self.timeout)
            .finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for SignWebhook<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignWebhook")
            .field("inner", &self.inner)
            .field("config", &*self.config)
            .finish()
    }
}
