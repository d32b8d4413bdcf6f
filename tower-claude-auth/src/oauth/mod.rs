//! An OAuth 2 resource server (the `oauth` feature): JWT access tokens
//! (RFC 9068) verified locally against the issuer's keys, opaque tokens
//! through introspection (RFC 7662), and Protected Resource Metadata
//! (RFC 9728), as the MCP authorization specification asks of a server on a
//! network.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use tower_claude_auth::oauth::{OAuth, ProtectedResource};
//! use tower_claude_auth::{BearerAuthLayer, KeyStore, RequireScopesLayer};
//!
//! // Any Tower HTTP client; hyper-util's with an HTTPS connector in production.
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//! let oauth = OAuth::builder(client)
//!     .issuer("https://auth.example.com")
//!     .audience("https://mcp.example.com/mcp")
//!     .build()?;
//! let resource = ProtectedResource::new("https://mcp.example.com/mcp")?
//!     .authorization_server("https://auth.example.com")
//!     .scopes_supported(["read", "admin"]);
//! let app: Router = Router::new()
//!     .route("/mcp", get(|| async { "tools" }))
//!     .route("/admin", get(|| async { "admin" }).route_layer(RequireScopesLayer::new(["admin"])))
//!     .route_service(resource.path(), resource.service())
//!     .layer(BearerAuthLayer::with_store(KeyStore::new()).oauth(oauth).resource_metadata(&resource));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Which path a token takes: a token shaped as a JWT (three base64url
//! parts) is verified locally and never introspected; any other token is
//! checked against the layer's own keys first (so an API key never reaches
//! the authorization server), then introspected when introspection is
//! configured. A refused OAuth token gets 401 with `error="invalid_token"`.

mod http;
mod introspect;
mod jwks;
mod jwt;
mod resource;
mod urls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::http::Uri;
use tower_claude_core::Clock;

pub use http::HttpClient;
pub use resource::{MetadataService, ProtectedResource, ResourceError};

use crate::cache::TtlCache;
use crate::keyed_hash::TokenHasher;
use crate::verifier::{TokenVerifier, Verification, VerifyFuture};
use introspect::{CacheLimits, Introspection};
use jwks::KeySource;
use jwt::Rules;

/// The leeway on `exp` and `nbf` by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The least time between two fetches of the issuer's keys for an unknown
/// key id, by default.
pub const DEFAULT_KEY_REFRESH: Duration = Duration::from_secs(5);
/// The oldest the issuer's key set is used before it is fetched again, by
/// default: a key the issuer removed stops being trusted within it.
pub const DEFAULT_KEY_MAX_AGE: Duration = Duration::from_secs(600);

/// The resource server's verifier: give it to
/// [`BearerAuthLayer::oauth`](crate::BearerAuthLayer::oauth). Cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Rules,
    keys: Option<KeySource>,
    introspection: Option<Introspection>,
    /// Accepted JWTs, by keyed hash, until their `exp` (at most
    /// [`JWT_CACHE_TTL`]): a token sent again costs a hash, not a signature
    /// check.
    accepted: TtlCache<Verification>,
    hasher: TokenHasher,
    jwt_cache_ttl: Duration,
}

/// The longest an accepted JWT's verdict is kept, by default.
pub const JWT_CACHE_TTL: Duration = Duration::from_secs(300);

/// Settings of an [`OAuth`]; see [`OAuth::builder`].
pub struct OAuthBuilder {
    client: http::Client,
    issuer: Option<String>,
    audience: Option<String>,
    jwt: bool,
    introspection: Option<(String, String, String)>,
    leeway: Duration,
    key_refresh: Duration,
    key_max_age: Duration,
    jwt_cache_ttl: Duration,
    introspection_needs_audience: bool,
    timeout: Duration,
    limits: CacheLimits,
    clock: Clock,
}

/// A setting [`OAuthBuilder::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfigError(String);

impl fmt::Display for OAuthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OAuthConfigError {}

impl OAuth {
    /// Settings, calling the authorization server through `client`: any Tower
    /// HTTP client (hyper-util's legacy client, a `tower-http` stack) whose
    /// requests are `http::Request<Full<Bytes>>`.
    pub fn builder(client: impl HttpClient) -> OAuthBuilder {
        OAuthBuilder {
            client: http::client(client),
            issuer: None,
            audience: None,
            jwt: true,
            introspection: None,
            leeway: DEFAULT_LEEWAY,
            key_refresh: DEFAULT_KEY_REFRESH,
            key_max_age: DEFAULT_KEY_MAX_AGE,
            jwt_cache_ttl: JWT_CACHE_TTL,
            introspection_needs_audience: true,
            timeout: Duration::from_secs(5),
            limits: CacheLimits {
                max_active: Duration::from_secs(300),
                active_without_exp: Duration::from_secs(60),
                inactive: Duration::from_secs(10),
                capacity: 100_000,
            },
            clock: Clock::system(),
        }
    }

    /// Whether `token` goes to the JWT check (JWT-shaped, and JWTs are on).
    pub(crate) fn takes_jwt(&self, token: &[u8]) -> bool {
        self.inner.keys.is_some() && jwt::is_jwt_shaped(token)
    }

    /// Whether opaque tokens are introspected.
    pub(crate) fn introspects(&self) -> bool {
        self.inner.introspection.is_some()
    }

    /// The verdict kept for a JWT accepted before, if `token` is one.
    pub(crate) fn cached_jwt(&self, token: &[u8]) -> Option<Verification> {
        // Only accepted JWTs are kept, so a hit needs no shape check; the
        // prefix (a JSON header begins `{"`, base64 `ey`) spares other tokens
        // the hash. A JWT without it is verified every time, never wrongly.
        if self.inner.keys.is_none() || !token.starts_with(b"ey") {
            return None;
        }
        let inner = &*self.inner;
        inner
            .accepted
            .get(&inner.hasher.hash(token), tokio::time::Instant::now())
    }

    /// The introspection answer kept for `token`, if any.
    pub(crate) fn cached_introspection(&self, token: &[u8]) -> Option<Verification> {
        self.inner.introspection.as_ref()?.cached(token)
    }

    /// Verifies a JWT-shaped token locally.
    pub(crate) async fn verify_jwt(&self, token: &str) -> Verification {
        let Some(keys) = &self.inner.keys else {
            return Verification::Invalid;
        };
        let inner = &*self.inner;
        let hash = inner.hasher.hash(token.as_bytes());
        let now = tokio::time::Instant::now();
        if let Some(cached) = inner.accepted.get(&hash, now) {
            return cached;
        }
        let (verdict, valid_for) = jwt::verify(keys, &inner.rules, token).await;
        if let Some(valid_for) = valid_for {
            let keep = valid_for.min(inner.jwt_cache_ttl);
            inner
                .accepted
                .insert_until(hash, verdict.clone(), now, now + keep);
        }
        verdict
    }

    /// Asks the introspection endpoint about an opaque token.
    pub(crate) async fn introspect(&self, token: &str) -> Verification {
        match &self.inner.introspection {
            Some(introspection) => introspection.verify(&self.inner.rules, token).await,
            None => Verification::Invalid,
        }
    }
}

impl TokenVerifier for OAuth {
    /// Alone (through [`BearerAuthLayer::with_verifier`](crate::BearerAuthLayer::with_verifier)):
    /// a JWT-shaped token is verified locally, any other introspected.
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            if self.takes_jwt(token.as_bytes()) {
                self.verify_jwt(token).await
            } else {
                self.introspect(token).await
            }
        })
    }
}

impl OAuthBuilder {
    /// The issuer identifier (required for JWTs): tokens' `iss` must be exactly this,
    /// and its keys are found through its metadata (RFC 8414
    /// `/.well-known/oauth-authorization-server`, then OpenID Connect's
    /// `/.well-known/openid-configuration`). `https://`, or `http://` on a
    /// loopback host.
    #[must_use]
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// This resource's identifier (required): tokens' `aud` (a string or an
    /// array) must contain it (RFC 8707).
    #[must_use]
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// Opaque tokens are checked at `endpoint` with these client credentials
    /// (`client_secret_basic`). `https://`, or `http://` on a loopback host.
    #[must_use]
    pub fn introspection(mut self, endpoint: &str, client_id: &str, client_secret: &str) -> Self {
        self.introspection = Some((
            endpoint.to_owned(),
            client_id.to_owned(),
            client_secret.to_owned(),
        ));
        self
    }

    /// Verifies JWT access tokens locally (default on). Off, a JWT-shaped
    /// token is introspected like any other.
    #[must_use]
    pub fn jwt(mut self, on: bool) -> Self {
        self.jwt = on;
        self
    }

    /// The leeway on `exp` and `nbf` for clocks that disagree (default 30 s).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two key fetches for an unknown key id (default
    /// 5 s): a rotated key is picked up within it, and a flood of made-up key
    /// ids costs the issuer one fetch per interval.
    #[must_use]
    pub fn key_refresh_interval(mut self, interval: Duration) -> Self {
        self.key_refresh = interval;
        self
    }

    /// The oldest the issuer's key set is used before one request fetches it
    /// again while the others go on with it (default 10 min): a key the
    /// issuer removed stops being trusted within it.
    #[must_use]
    pub fn key_max_age(mut self, max_age: Duration) -> Self {
        self.key_max_age = max_age;
        self
    }

    /// The longest an accepted JWT's verdict is kept (default 5 min; never
    /// past the token's `exp`). Zero checks every signature.
    #[must_use]
    pub fn jwt_cache_ttl(mut self, ttl: Duration) -> Self {
        self.jwt_cache_ttl = ttl;
        self
    }

    /// Whether an active introspection answer must name this resource in
    /// `aud` (default on: the MCP authorization specification asks a server
    /// to accept only tokens issued for it). Off, an answer without `aud` is
    /// accepted; one with another `aud` never is.
    #[must_use]
    pub fn introspection_requires_audience(mut self, required: bool) -> Self {
        self.introspection_needs_audience = required;
        self
    }

    /// The time a call to the authorization server may take (default 5 s);
    /// past it the request is answered 503 with `Retry-After`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long introspection answers are kept: an active one until its
    /// `exp` but at most `max_active` (default 5 min; `active_without_exp`,
    /// default 1 min, when it has none), an inactive one for `inactive`
    /// (default 10 s); at most `capacity` answers (default 100,000).
    #[must_use]
    pub fn introspection_cache(
        mut self,
        max_active: Duration,
        active_without_exp: Duration,
        inactive: Duration,
        capacity: usize,
    ) -> Self {
        self.limits = CacheLimits {
            max_active,
            active_without_exp,
            inactive,
            capacity,
        };
        self
    }

    /// The clock `exp` and `nbf` are read against (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The verifier.
    ///
    /// # Errors
    /// No issuer or audience, a URL that is not `https://` (or `http://` on
    /// loopback), or no JWT crypto provider in the build.
    pub fn build(self) -> Result<OAuth, OAuthConfigError> {
        let refuse = |why: String| Err(OAuthConfigError(why));
        let Some(audience) = self.audience else {
            return refuse("an audience (this resource's identifier) is required".into());
        };
        let issuer_uri = match &self.issuer {
            None if self.jwt => {
                return refuse(
                    "an issuer is required to verify JWT access tokens (or turn them off \
                     with jwt(false) and introspect every token)"
                        .into(),
                );
            }
            None => None,
            Some(issuer) => match issuer.parse::<Uri>() {
                Ok(uri) if http::is_allowed(&uri) => Some(uri),
                _ => {
                    return refuse(format!(
                        "issuer {issuer:?}: not an https:// URL (http:// only on loopback)"
                    ));
                }
            },
        };
        if !self.jwt && self.introspection.is_none() {
            return refuse("neither JWT access tokens nor introspection is on".into());
        }
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return refuse(
                "no JWT crypto provider: another crate turned on jsonwebtoken's aws_lc_rs \
                 beside rust_crypto; install one with CryptoProvider::install_default"
                    .into(),
            );
        }
        let introspection = match self.introspection {
            None => None,
            Some((endpoint, client_id, secret)) => {
                let uri = match endpoint.parse::<Uri>() {
                    Ok(uri) if http::is_allowed(&uri) => uri,
                    _ => {
                        return refuse(format!(
                            "introspection endpoint {endpoint:?}: not an https:// URL \
                             (http:// only on loopback)"
                        ));
                    }
                };
                let Some(introspection) = Introspection::new(
                    self.client.clone(),
                    uri,
                    &client_id,
                    &secret,
                    self.timeout,
                    self.limits,
                ) else {
                    return refuse("the client credentials are not header-safe".into());
                };
                Some(introspection)
            }
        };
        let keys = match (self.jwt, &self.issuer, issuer_uri) {
            (true, Some(issuer), Some(uri)) => Some(KeySource::new(
                self.client,
                issuer.clone(),
                uri,
                self.timeout,
                self.key_refresh,
                self.key_max_age,
            )),
            _ => None,
        };
        Ok(OAuth {
            inner: Arc::new(Inner {
                rules: Rules {
                    issuer: self.issuer,
                    audience,
                    leeway: self.leeway,
                    clock: self.clock,
                    introspection_needs_audience: self.introspection_needs_audience,
                },
                keys,
                introspection,
                accepted: TtlCache::new(Duration::ZERO, self.limits.capacity),
                hasher: TokenHasher::random(),
                jwt_cache_ttl: self.jwt_cache_ttl,
            }),
        })
    }
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.inner.rules.issuer)
            .field("audience", &self.inner.rules.audience)
            .field("jwt", &self.inner.keys.is_some())
            .field("introspection", &self.inner.introspection.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("introspection", &self.introspection.as_ref().map(|i| &i.0))
            .finish_non_exhaustive()
    }
}
