//! Scopes per route: a layer behind [`BearerAuthLayer`](crate::BearerAuthLayer)
//! that reads the [`Authenticated`] identity it left and refuses a token
//! without the route's scopes, whatever kind of credential it was.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response};
use tower_claude_core::{ConfigError, Rejection, Responder, SharedResponder};
use tower_layer::Layer;
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::verifier::Authenticated;

/// Requires every one of a set of scopes on the routes it wraps: a valid
/// token without them gets 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` (RFC
/// 6750 section 3.1; gRPC `PERMISSION_DENIED`). A request that reached it
/// without an identity (a public path, an allowed loopback peer) gets 401:
/// it fails closed.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_claude_auth::{BearerAuthLayer, Credential, RequireScopesLayer};
///
/// let app: Router = Router::new()
///     .route("/admin", get(|| async { "admin" }).route_layer(RequireScopesLayer::new(["admin"])))
///     .route("/me", get(|| async { "me" }))
///     .layer(BearerAuthLayer::new(Credential::plaintext("dev-token")));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct RequireScopesLayer {
    config: Arc<ScopeConfig>,
}

#[derive(Clone)]
struct ScopeConfig {
    scopes: Box<[Box<str>]>,
    challenge: HeaderValue,
    /// The 401's `WWW-Authenticate` (with `resource_metadata` when set).
    unauthenticated: HeaderValue,
    responder: SharedResponder,
}

impl RequireScopesLayer {
    /// Requires each of `scopes`.
    ///
    /// # Panics
    /// When a scope is empty or holds a character RFC 6749 does not allow in
    /// a scope (a space, `"`, `\`, or a byte outside visible ASCII); see
    /// [`try_new`](Self::try_new).
    pub fn new(scopes: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self::try_new(scopes).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`new`](Self::new), reporting a scope that cannot be one.
    ///
    /// # Errors
    /// The first scope that is empty or holds a character outside RFC 6749's
    /// `scope-token`.
    pub fn try_new(scopes: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let scopes: Box<[Box<str>]> = scopes
            .into_iter()
            .map(|scope| {
                let scope = scope.as_ref();
                if is_scope_token(scope) {
                    Ok(Box::from(scope))
                } else {
                    Err(ConfigError::InvalidValue {
                        setting: "scope",
                        value: scope.to_owned(),
                        reason: "RFC 6749 section 3.3: visible ASCII, no space, quote or backslash",
                    })
                }
            })
            .collect::<Result<_, _>>()?;
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\"",
            scopes.join(" ")
        );
        let challenge =
            HeaderValue::from_str(&challenge).map_err(|_| ConfigError::InvalidValue {
                setting: "scope",
                value: challenge.clone(),
                reason: "a header value",
            })?;
        Ok(Self {
            config: Arc::new(ScopeConfig {
                scopes,
                challenge,
                unauthenticated: HeaderValue::from_static("Bearer"),
                responder: SharedResponder::default(),
            }),
        })
    }

    /// Answers refusals with `responder` (default: JSON, or gRPC trailers).
    #[must_use]
    pub fn responder(mut self, responder: impl Responder) -> Self {
        Arc::make_mut(&mut self.config).responder = SharedResponder::new(responder);
        self
    }

    /// Names `resource`'s metadata (RFC 9728) in the 401 given to a request
    /// that reached this layer without an identity, as the auth layer's
    /// [`resource_metadata`](crate::BearerAuthLayer::resource_metadata) does
    /// in its own.
    #[cfg(feature = "oauth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
    #[must_use]
    pub fn resource_metadata(mut self, resource: &crate::oauth::ProtectedResource) -> Self {
        let value = format!("Bearer resource_metadata=\"{}\"", resource.metadata_url());
        if let Ok(value) = HeaderValue::from_str(&value) {
            Arc::make_mut(&mut self.config).unauthenticated = value;
        }
        self
    }
}

/// RFC 6749 section 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl<S> Layer<S> for RequireScopesLayer {
    type Service = RequireScopes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopes {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`RequireScopesLayer`].
#[derive(Clone)]
pub struct RequireScopes<S> {
    inner: S,
    config: Arc<ScopeConfig>,
}

tower_claude_core::inner_service_access!(RequireScopes<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopes<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<tower_claude_core::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let rejection = match request.extensions().get::<Authenticated>() {
            Some(who) if config.scopes.iter().all(|scope| who.has_scope(scope)) => {
                return ResponseFuture::inner(self.inner.call(request));
            }
            Some(who) => {
                tracing::info!(
                    target: crate::AUDIT_TARGET,
                    outcome = "refused",
                    reason = "insufficient_scope",
                    key = %who.key,
                    method = %request.method(),
                    route = %tower_claude_core::audit::route(request.uri().path()),
                    request_id = tower_claude_core::audit::request_id(request.headers()),
                    "the key lacks a scope this route needs"
                );
                #[cfg(feature = "metrics")]
                crate::metrics::refused("insufficient_scope");
                Rejection::forbidden(
                    "insufficient_scope",
                    "the token is valid but lacks a scope this resource needs",
                )
                .with_header(WWW_AUTHENTICATE, config.challenge.clone())
            }
            None => Rejection::unauthenticated(
                "missing_credentials",
                "this resource needs an authenticated `Authorization: Bearer <token>`",
            )
            .with_header(WWW_AUTHENTICATE, config.unauthenticated.clone()),
        };
        ResponseFuture::refused(config.responder.respond_to(&request, &rejection))
    }
}

impl std::fmt::Debug for RequireScopesLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScopesLayer")
            .field("scopes", &self.config.scopes)
            .finish_non_exhaustive()
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for RequireScopes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireScopes")
            .field("inner", &self.inner)
            .field("scopes", &self.config.scopes)
            .finish()
    }
}

#[cfg(all(test, feature = "oauth"))]
mod tests {
    use std::convert::Infallible;

    use http::{Request, Response, StatusCode};
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::oauth::ProtectedResource;

    #[tokio::test]
    async fn no_identity_gets_401_naming_the_metadata() {
        let resource = ProtectedResource::new("https://api.example/mcp").unwrap();
        let layer = RequireScopesLayer::new(["admin"]).resource_metadata(&resource);
        let service = layer.layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
        let response = service.oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/mcp\""
        );
    }
}
