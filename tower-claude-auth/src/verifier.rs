//! Other token backends: OAuth introspection, a database, a remote service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Who a valid token belongs to. The layer puts it in the request extensions,
/// where handlers find it (`Extension<Authenticated>` in axum).
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The name of the key, such as `ci-bot`.
    pub key: Arc<str>,
    /// The scopes the key holds.
    pub scopes: Arc<[Box<str>]>,
}

impl Authenticated {
    /// A key with scopes.
    pub fn new(
        key: impl Into<Arc<str>>,
        scopes: impl IntoIterator<Item = impl Into<Box<str>>>,
    ) -> Self {
        Self {
            key: key.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the key holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| **s == *scope)
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("key", &self.key)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The verdict on a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The token is valid and belongs to this key.
    Valid(Authenticated),
    /// The token is wrong, expired or revoked.
    Invalid,
    /// The backend could not decide (down, overloaded, timed out). Answered 503
    /// with `Retry-After`, never 401: the client's token may be fine.
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

/// The future a [`TokenVerifier`] returns.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Verification> + Send + 'a>>;

/// A token backend other than the built-in [`KeyStore`](crate::KeyStore), for
/// instance OAuth 2.0 token introspection (RFC 7662).
///
/// ```
/// use std::time::Duration;
/// use tower_claude_auth::{Authenticated, BearerAuthLayer, TokenVerifier, Verification, VerifyFuture};
///
/// struct Introspection;
///
/// impl TokenVerifier for Introspection {
///     fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
///         Box::pin(async move {
///             // Ask the authorization server here; on a network error:
///             if token.is_empty() {
///                 return Verification::Unavailable { retry_after: Duration::from_secs(5) };
///             }
///             Verification::Valid(Authenticated::new("introspected", ["read"]))
///         })
///     }
/// }
///
/// let layer = BearerAuthLayer::with_verifier(Introspection);
/// # let _ = layer;
/// ```
pub trait TokenVerifier: Send + Sync + 'static {
    /// Decides whether `token` is valid.
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}
