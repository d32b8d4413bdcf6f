//! `SecurityHeadersLayer` and the `SecurityHeaders` service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::builder::SecurityHeadersBuilder;
use crate::future::ResponseFuture;
use crate::policy::Policy;

/// Adds security headers to every response, the inner service's refusals and
/// 404s included. Put it outermost, so that a 401 from auth or a 429 from the
/// rate limiter carries them too.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_claude_headers::security::SecurityHeadersLayer;
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(SecurityHeadersLayer::web());
/// ```
#[derive(Clone)]
pub struct SecurityHeadersLayer {
    policy: Arc<Policy>,
}

impl SecurityHeadersLayer {
    pub(crate) fn from_policy(policy: Arc<Policy>) -> Self {
        Self { policy }
    }

    /// The [`SecurityHeadersBuilder::web`] preset: helmet's defaults, for HTML apps.
    pub fn web() -> Self {
        preset(SecurityHeadersBuilder::web())
    }

    /// The [`SecurityHeadersBuilder::strict_api`] preset, for JSON APIs.
    pub fn strict_api() -> Self {
        preset(SecurityHeadersBuilder::strict_api())
    }

    /// The [`SecurityHeadersBuilder::basic`] preset: five headers.
    pub fn basic() -> Self {
        preset(SecurityHeadersBuilder::basic())
    }

    /// An empty builder.
    pub fn builder() -> SecurityHeadersBuilder {
        SecurityHeadersBuilder::new()
    }
}

fn preset(builder: SecurityHeadersBuilder) -> SecurityHeadersLayer {
    match builder.try_build() {
        Ok(layer) => layer,
        // Every preset value is a literal, and the tests build each preset.
        Err(error) => unreachable!("a preset is valid: {error}"),
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

impl fmt::Debug for SecurityHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersLayer")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The service of [`SecurityHeadersLayer`].
pub struct SecurityHeaders<S> {
    inner: S,
    policy: Arc<Policy>,
}

tower_claude_core::inner_service_access!(SecurityHeaders<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let facts = self.policy.observe(&mut request);
        ResponseFuture::new(self.inner.call(request), Arc::clone(&self.policy), facts)
    }
}

impl<S: Clone> Clone for SecurityHeaders<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SecurityHeaders<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeaders")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
