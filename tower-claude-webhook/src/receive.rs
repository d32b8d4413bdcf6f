//! The receiver layer: read the raw body, verify, hand the same bytes on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_claude_core::{Rejection, ResponseBody, SharedResponder};
use tower_layer::Layer;
use tower_service::Service;

use crate::verify::{Verifier, VerifyError};

/// The default largest webhook body a receiver reads: 1 MiB.
pub const DEFAULT_RECEIVE_LIMIT: usize = 1024 * 1024;

/// Verifies every request as a signed webhook before the handler sees it.
///
/// | request | answer |
/// | --- | --- |
/// | body over the limit | 413 |
/// | body unreadable | 400 |
/// | missing or malformed signature headers, stale or future timestamp, bad signature, replayed id | 401, the reason in the JSON body (`code`: `missing_signature_header`, `malformed_signature_header`, `timestamp_too_old`, `timestamp_in_future`, `bad_signature`, `replayed_delivery`) |
/// | replay cache unavailable | 503 with `Retry-After` |
/// | valid | the handler, with the identical raw bytes as its body and [`VerifiedWebhook`](crate::VerifiedWebhook) in the extensions |
///
/// The request body type must be `From<Bytes>` (axum's `Body`, `Full<Bytes>`):
/// the layer reads it and hands the handler a new body of the same type holding
/// the same bytes. On plain hyper, map `Incoming` into such a body first.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_claude_webhook::{VerifiedWebhook, Verifier, VerifyWebhookLayer, WebhookSecret};
///
/// let verifier = Verifier::seed(WebhookSecret::new("s3cret").unwrap());
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

struct ReceiveConfig {
    verifier: Verifier,
    limit: usize,
    responder: SharedResponder,
}

impl VerifyWebhookLayer {
    /// Verifies with `verifier`, reading at most 1 MiB.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            config: Arc::new(ReceiveConfig {
                verifier,
                limit: DEFAULT_RECEIVE_LIMIT,
                responder: SharedResponder::default(),
            }),
        }
    }

    /// The largest body read.
    #[must_use]
    pub fn max_body(self, bytes: usize) -> Self {
        Self {
            config: Arc::new(ReceiveConfig {
                verifier: self.config.verifier.clone(),
                limit: bytes,
                responder: self.config.responder.clone(),
            }),
        }
    }
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let refuse = |parts: &http::request::Parts, rejection: Rejection| {
                let head =
                    tower_claude_core::RequestHead::new(&parts.method, &parts.uri, &parts.headers)
                        .with_version(parts.version);
                config.responder.respond(&head, &rejection)
            };
            let bytes = match Limited::new(body, config.limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<LengthLimitError>() => {
                    let rejection = Rejection::payload_too_large(
                        "webhook_too_large",
                        format!("webhook body is larger than {} bytes", config.limit),
                    );
                    return Ok(refuse(&parts, rejection));
                }
                Err(_) => {
                    let rejection = Rejection::bad_request(
                        "webhook_body_unreadable",
                        "the webhook body could not be read",
                    );
                    return Ok(refuse(&parts, rejection));
                }
            };
            match config.verifier.verify(&parts.headers, &bytes).await {
                Ok(webhook) => {
                    tracing::debug!(
                        target: "tower_claude_webhook",
                        delivery_id = webhook.delivery_id.as_deref(),
                        event = webhook.event.as_deref(),
                        "webhook verified"
                    );
                    parts.extensions.insert(webhook);
                    let response = inner
                        .call(Request::from_parts(parts, B::from(bytes)))
                        .await?;
                    Ok(response.map(ResponseBody::inner))
                }
                Err(error) => {
                    tracing::info!(
                        target: "tower_claude_webhook",
                        reason = error.code(),
                        detail = %error,
                        path = parts.uri.path(),
                        "webhook refused"
                    );
                    Ok(refuse(&parts, rejection_for(&error)))
                }
            }
        })
    }
}

fn rejection_for(error: &VerifyError) -> Rejection {
    match error {
        VerifyError::ReplayCacheUnavailable(_) => Rejection::unavailable(
            error.code(),
            "webhook replay protection is unavailable; retry later",
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("5")),
        _ => Rejection::unauthenticated(error.code(), error.to_string()),
    }
}

impl fmt::Debug for VerifyWebhookLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyWebhookLayer")
            .field("verifier", &self.config.verifier)
            .field("max_body", &self.config.limit)
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
