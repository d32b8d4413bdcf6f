//! The receiver layer: read the raw body, verify, hand the same bytes on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tokio::sync::Semaphore;
use tower_claude_core::{LogThrottle, Rejection, Responder, ResponseBody, SharedResponder};
use tower_layer::Layer;
use tower_service::Service;

use crate::verify::Verifier;
use crate::verify::answers::{duplicate, rejection_for};

/// The default largest webhook body a receiver reads: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The default time a webhook body may take to arrive once its headers have.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The default memory all unfinished webhook bodies of one layer may hold.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16 * 1024 * 1024;

/// Verifies every request as a signed webhook before the handler sees it.
///
/// | request | answer |
/// | --- | --- |
/// | missing or malformed signature headers, stale or future timestamp | 401 at once, before the body is read |
/// | `Content-Length` over the limit | 413 at once; a body that grows past it: 413 |
/// | bodies in flight would hold more than `max_in_flight` (charged as bytes arrive) | 503 with `Retry-After` |
/// | body not complete within [`body_timeout`](Self::body_timeout) | 408 |
/// | body unreadable | 400 |
/// | bad signature, replayed signed content | 401, the reason in the JSON body (`code`: `missing_signature_header`, `malformed_signature_header`, `timestamp_too_old`, `timestamp_in_future`, `bad_signature`, `replayed_delivery`) |
/// | a new attempt of a delivery already processed (same delivery id, fresh signed content) | 200 `{"duplicate":true,"delivery_id":...}`, the handler not run |
/// | replay cache unavailable | 503 with `Retry-After` |
/// | valid | the handler, with the identical raw bytes as its body and [`VerifiedWebhook`](crate::verify::VerifiedWebhook) in the extensions; a 2xx answer marks the delivery processed |
///
/// The request body type must be `From<Bytes>` (axum's `Body`, `Full<Bytes>`):
/// the layer reads it and hands the handler a new body of the same type holding
/// the same bytes. On plain hyper, map `Incoming` into such a body first.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_claude_webhook::{WebhookSecret, verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer}};
///
/// let verifier = Verifier::x_webhook(WebhookSecret::new("s3cret").unwrap());
/// let app: Router = Router::new().route(
///     "/webhooks/incoming",
///     post(|Extension(hook): Extension<VerifiedWebhook>, body: axum::body::Bytes| async move {
///         format!("{:?} {}", hook.event, body.len())
///     })
///     .layer(VerifyWebhookLayer::new(verifier)),
/// );
/// ```
#[derive(Clone)]
pub struct VerifyWebhookLayer {
    config: Arc<ReceiveConfig>,
}

#[derive(Clone)]
pub(super) struct ReceiveConfig {
    pub(super) verifier: Verifier,
    pub(super) limit: usize,
    pub(super) body_timeout: Duration,
    pub(super) max_in_flight: usize,
    /// Bytes of body memory left for unfinished bodies.
    pub(super) in_flight: Arc<Semaphore>,
    responder: SharedResponder,
    pub(super) refusal_log: Arc<LogThrottle>,
}

impl VerifyWebhookLayer {
    /// Verifies with `verifier`, reading at most 1 MiB per body within 10 s,
    /// at most 16 MiB of unfinished bodies at once.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            config: Arc::new(ReceiveConfig {
                verifier,
                limit: DEFAULT_MAX_BODY,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT,
                in_flight: Arc::new(Semaphore::new(permits(DEFAULT_MAX_IN_FLIGHT))),
                responder: SharedResponder::default(),
                refusal_log: Arc::new(LogThrottle::standard()),
            }),
        }
    }

    /// The largest body read (default 1 MiB); a larger one gets 413.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.limit = bytes;
        // One whole body (its buffer may double once while growing) always
        // fits the in-flight budget.
        if config.max_in_flight < bytes.saturating_mul(2) {
            config.max_in_flight = bytes.saturating_mul(2);
            config.in_flight = Arc::new(Semaphore::new(permits(bytes.saturating_mul(2))));
        }
        self
    }

    /// How refusals are written (default: the JSON body, or a gRPC status for
    /// gRPC requests).
    #[must_use]
    pub fn responder(mut self, responder: impl Responder) -> Self {
        Arc::make_mut(&mut self.config).responder = SharedResponder::new(responder);
        self
    }

    /// The time a body may take to arrive once the headers have (default
    /// 10 s); a slower one gets 408 and its memory back.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).body_timeout = timeout;
        self
    }

    /// The memory all unfinished bodies of this layer (and its clones) may
    /// hold at once (default 16 MiB, never less than twice the largest body, as a
    /// buffer may double once while growing). Bodies
    /// are charged as their bytes arrive, so a connection that announces a
    /// large body and stalls holds only what it sent; a request whose next
    /// chunk does not fit gets 503 with `Retry-After`.
    #[must_use]
    pub fn max_in_flight(mut self, bytes: usize) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.max_in_flight = bytes.max(config.limit.saturating_mul(2));
        config.in_flight = Arc::new(Semaphore::new(permits(config.max_in_flight)));
        self
    }
}

/// Bytes as semaphore permits, one a byte.
fn permits(bytes: usize) -> usize {
    bytes.min(Semaphore::MAX_PERMITS)
}

impl<S> Layer<S> for VerifyWebhookLayer {
    type Service = VerifyWebhook<S>;

    fn layer(&self, inner: S) -> VerifyWebhook<S> {
        VerifyWebhook {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`VerifyWebhookLayer`].
#[derive(Clone)]
pub struct VerifyWebhook<S> {
    inner: S,
    config: Arc<ReceiveConfig>,
}

tower_claude_core::inner_service_access!(VerifyWebhook<S>);

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB> Service<Request<B>> for VerifyWebhook<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    RB: Send + 'static,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut inner = tower_claude_core::take_ready(&mut self.inner);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let refuse = |parts: &http::request::Parts, rejection: Rejection| {
                #[cfg(feature = "metrics")]
                crate::metrics::refused(rejection.code());
                config.audit_refused(parts, &rejection);
                let head =
                    tower_claude_core::RequestHead::new(&parts.method, &parts.uri, &parts.headers)
                        .with_version(parts.version);
                config.responder.respond(&head, &rejection)
            };
            // What the headers alone can show is checked before the body.
            if let Err(error) = config.verifier.check_headers(&parts.headers) {
                return Ok(refuse(&parts, rejection_for(&error)));
            }
            let bytes = match config.read_body(&parts, body).await {
                Ok(bytes) => bytes,
                Err(rejection) => return Ok(refuse(&parts, *rejection)),
            };
            let webhook = match config.verifier.verify(&parts.headers, &bytes).await {
                Ok(webhook) => webhook,
                Err(error) => return Ok(refuse(&parts, rejection_for(&error))),
            };
            let delivery = config.verifier.delivery(&webhook, &bytes);
            if let Some(delivery) = &delivery {
                match config.verifier.is_processed(delivery).await {
                    Ok(false) => {}
                    Ok(true) => {
                        #[cfg(feature = "metrics")]
                        crate::metrics::already_processed();
                        config.audit_duplicate(&parts, &webhook);
                        return Ok(duplicate(&webhook));
                    }
                    Err(error) => return Ok(refuse(&parts, rejection_for(&error))),
                }
            }
            config.audit_accepted(&parts, &webhook);
            #[cfg(feature = "metrics")]
            crate::metrics::accepted();
            parts.extensions.insert(webhook.clone());
            let response = inner
                .call(Request::from_parts(parts, B::from(bytes)))
                .await?;
            if response.status().is_success()
                && let Some(delivery) = &delivery
                && let Err(error) = config.verifier.remember_processed(delivery).await
            {
                tracing::warn!(
                    target: "tower_claude_webhook",
                    delivery_id = webhook.delivery_id.as_deref(),
                    %error,
                    "a processed delivery could not be remembered; a retry of it would run again"
                );
            }
            Ok(response.map(ResponseBody::inner))
        })
    }
}

impl fmt::Debug for VerifyWebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyWebhookLayer")
            .field("verifier", &self.config.verifier)
            .field("max_body", &self.config.limit)
            .field("body_timeout", &self.config.body_timeout)
            .field("max_in_flight", &self.config.max_in_flight)
            .finish()
    }
}

impl<S: fmt::Debug> fmt::Debug for VerifyWebhook<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyWebhook")
            .field("inner", &self.inner)
            .field("verifier", &self.config.verifier)
            .field("max_body", &self.config.limit)
            .finish()
    }
}
