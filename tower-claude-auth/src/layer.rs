//! The `BearerAuthLayer` and its builder.

use std::fmt;
use std::sync::Arc;

use tower_claude_core::{
    ClientIpResolver, ConfigError, LogThrottle, PathRules, Responder, SharedResponder,
};
use tower_layer::Layer;

use crate::answers::Challenges;
use crate::credential::Credential;
use crate::service::BearerAuth;
use crate::store::KeyStore;
use crate::verifier::TokenVerifier;

/// The paths that are public in most services: health checks and API docs.
pub const DEFAULT_PUBLIC_PATHS: [&str; 6] = [
    "/health",
    "/healthz",
    "/ready",
    "/livez",
    "/docs",
    "/openapi.json",
];

/// Requires `Authorization: Bearer <token>` on every request but the public ones.
///
/// | request | HTTP answer | gRPC answer |
/// | --- | --- | --- |
/// | no `Authorization` header | 401, `WWW-Authenticate: Bearer realm="..."` | `UNAUTHENTICATED` |
/// | malformed header | 401, `error="invalid_request"` | `UNAUTHENTICATED` |
/// | wrong token | 403 (401 with [`strict_rfc6750`](Self::strict_rfc6750)), `error="invalid_token"` | `UNAUTHENTICATED` |
/// | valid key without a required scope | 403, `error="insufficient_scope"` | `PERMISSION_DENIED` |
/// | verifier down or bcrypt queue full | 503 with `Retry-After` | `UNAVAILABLE` |
/// | valid token | the inner service, with [`Authenticated`](crate::Authenticated) in the extensions | |
///
/// ```
/// use axum::{Extension, Router, routing::get};
/// use tower_claude_auth::{Authenticated, BearerAuthLayer, Credential, DEFAULT_PUBLIC_PATHS};
///
/// let auth = BearerAuthLayer::new(Credential::plaintext("dev-token"))
///     .public_paths(DEFAULT_PUBLIC_PATHS);
/// let app: Router = Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .route("/whoami", get(|Extension(who): Extension<Authenticated>| async move {
///         who.key.to_string()
///     }))
///     .layer(auth);
/// ```
#[derive(Clone)]
pub struct BearerAuthLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
pub(crate) enum Backend {
    Store(KeyStore),
    Custom(Arc<dyn TokenVerifier>),
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) backend: Backend,
    pub(crate) public: PathRules,
    pub(crate) loopback: bool,
    pub(crate) strict_rfc6750: bool,
    pub(crate) required_scopes: Arc<[Box<str>]>,
    pub(crate) realm: Arc<str>,
    pub(crate) challenges: Challenges,
    pub(crate) responder: SharedResponder,
    pub(crate) client_ip: ClientIpResolver,
    /// Bounds the refusal lines a flood writes.
    pub(crate) refusal_log: Arc<LogThrottle>,
    /// RFC 9728: the metadata URL every 401 names.
    pub(crate) resource_metadata: Option<Arc<str>>,
    /// The OAuth resource server in front of the backend.
    #[cfg(feature = "oauth")]
    pub(crate) oauth: Option<crate::oauth::OAuth>,
}

impl Config {
    fn rebuild_challenges(&mut self) {
        self.challenges = Challenges::new(
            &self.realm,
            &self.required_scopes,
            self.resource_metadata.as_deref(),
        );
    }
}

impl BearerAuthLayer {
    /// Accepts one credential: a bare token is checked against it. For several
    /// named keys, use [`with_store`](Self::with_store).
    pub fn new(credential: Credential) -> Self {
        Self::with_store(KeyStore::new().with_default("default", credential))
    }

    /// Accepts the keys of a shared [`KeyStore`]; keep a clone of the store to
    /// add and revoke keys at run time.
    pub fn with_store(store: KeyStore) -> Self {
        Self::with_backend(Backend::Store(store))
    }

    /// Asks another backend, such as OAuth token introspection.
    pub fn with_verifier(verifier: impl TokenVerifier) -> Self {
        Self::with_backend(Backend::Custom(Arc::new(verifier)))
    }

    fn with_backend(backend: Backend) -> Self {
        let realm: Arc<str> = Arc::from("api");
        Self {
            config: Arc::new(Config {
                backend,
                public: PathRules::new(),
                loopback: false,
                strict_rfc6750: false,
                required_scopes: Arc::from([]),
                challenges: Challenges::new(&realm, &[], None),
                realm,
                responder: SharedResponder::default(),
                client_ip: ClientIpResolver::new(),
                refusal_log: Arc::new(LogThrottle::standard()),
                resource_metadata: None,
                #[cfg(feature = "oauth")]
                oauth: None,
            }),
        }
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Makes these exact paths public for every method (see
    /// [`PathRules`] for what "exact" means and which shapes are never public).
    ///
    /// # Panics
    /// When a path is not a clean absolute path; see
    /// [`try_public_paths`](Self::try_public_paths).
    #[must_use]
    pub fn public_paths(self, paths: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.try_public_paths(paths)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`public_paths`](Self::public_paths), reporting a path that is not
    /// clean instead of panicking.
    ///
    /// # Errors
    /// The first path that is not a clean absolute path.
    pub fn try_public_paths(
        mut self,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ConfigError> {
        let config = self.config();
        config.public = std::mem::take(&mut config.public).try_exact_all(paths)?;
        Ok(self)
    }

    /// Makes everything under these prefixes public: `/static` covers
    /// `/static` and `/static/...`, never `/staticx`.
    ///
    /// # Panics
    /// When a prefix is not a clean absolute path, or is `/`; see
    /// [`try_public_prefixes`](Self::try_public_prefixes).
    #[must_use]
    pub fn public_prefixes(self, prefixes: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.try_public_prefixes(prefixes)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`public_prefixes`](Self::public_prefixes), reporting a prefix that is
    /// not clean instead of panicking.
    ///
    /// # Errors
    /// The first prefix that is not a clean absolute path, or is `/`.
    pub fn try_public_prefixes(
        mut self,
        prefixes: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ConfigError> {
        let config = self.config();
        config.public = std::mem::take(&mut config.public).try_prefix_all(prefixes)?;
        Ok(self)
    }

    /// Replaces the public paths with `rules`, for per-method rules such as
    /// `PathRules::new().exact_for(Method::GET, "/status")`.
    #[must_use]
    pub fn public(mut self, rules: PathRules) -> Self {
        self.config().public = rules;
        self
    }

    /// Lets requests from a loopback peer through without a token, but only when
    /// they carry no header a proxy adds (`Forwarded`, `Via`, `X-Forwarded-*`,
    /// `X-Real-IP`, `True-Client-IP`, `CF-Connecting-IP`, `X-Client-IP`): a
    /// reverse proxy on the same host would otherwise turn every remote client
    /// into "localhost". Off by default; see SECURITY.md before turning it on.
    #[must_use]
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.config().loopback = allow;
        self
    }

    /// Answers a wrong token with 401, as RFC 6750 says, instead of the
    /// default 403 (which tells a client its token was read and refused,
    /// rather than missing).
    #[must_use]
    pub fn strict_rfc6750(mut self, strict: bool) -> Self {
        self.config().strict_rfc6750 = strict;
        self
    }

    /// Requires every one of these scopes; a valid key without them gets 403
    /// `insufficient_scope`.
    #[must_use]
    pub fn require_scopes(mut self, scopes: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let config = self.config();
        config.required_scopes = scopes.into_iter().map(|s| Box::from(s.as_ref())).collect();
        config.rebuild_challenges();
        self
    }

    /// The realm in `WWW-Authenticate`. Default `api`.
    ///
    /// # Panics
    /// When `realm` holds a quote, a backslash or a byte outside visible ASCII
    /// and space; see [`try_realm`](Self::try_realm).
    #[must_use]
    pub fn realm(self, realm: &str) -> Self {
        self.try_realm(realm)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`realm`](Self::realm), reporting an invalid realm instead of
    /// panicking.
    ///
    /// # Errors
    /// When `realm` holds a quote, a backslash or a byte outside visible ASCII
    /// and space.
    pub fn try_realm(mut self, realm: &str) -> Result<Self, ConfigError> {
        let valid = realm
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if !valid {
            return Err(ConfigError::InvalidValue {
                setting: "realm",
                value: realm.to_owned(),
                reason: "use visible ASCII without quotes or backslashes",
            });
        }
        let config = self.config();
        config.realm = Arc::from(realm);
        config.rebuild_challenges();
        Ok(self)
    }

    /// Shapes the refusals (see [`Responder`]).
    #[must_use]
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.config().responder = SharedResponder::new(responder);
        self
    }

    /// Accepts OAuth access tokens (the `oauth` feature) besides the layer's
    /// keys: a JWT-shaped token is verified by `oauth` alone; any other is
    /// checked against the keys first, then introspected when `oauth` has an
    /// introspection endpoint. A refused OAuth token gets 401
    /// `error="invalid_token"` (RFC 6750), whatever
    /// [`strict_rfc6750`](Self::strict_rfc6750) says.
    #[cfg(feature = "oauth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
    #[must_use]
    pub fn oauth(mut self, oauth: crate::oauth::OAuth) -> Self {
        self.config().oauth = Some(oauth);
        self
    }

    /// Names `resource`'s metadata (RFC 9728) in every 401:
    /// `WWW-Authenticate: Bearer resource_metadata="<its URL>"`, with
    /// `error="invalid_token"` when a token was offered and refused, as the
    /// MCP authorization specification asks; and makes the metadata's path
    /// public.
    ///
    /// # Panics
    /// When the metadata's path cannot be a public path (the resource's path
    /// holds `%`, `;` or another shape [`PathRules`] never makes public); see
    /// [`try_resource_metadata`](Self::try_resource_metadata).
    #[cfg(feature = "oauth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
    #[must_use]
    pub fn resource_metadata(self, resource: &crate::oauth::ProtectedResource) -> Self {
        self.try_resource_metadata(resource)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`resource_metadata`](Self::resource_metadata), reporting a metadata
    /// path that cannot be public instead of panicking.
    ///
    /// # Errors
    /// The metadata's path is not a clean absolute path.
    #[cfg(feature = "oauth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
    pub fn try_resource_metadata(
        mut self,
        resource: &crate::oauth::ProtectedResource,
    ) -> Result<Self, ConfigError> {
        self = self.try_public_paths([resource.path()])?;
        let config = self.config();
        config.resource_metadata = Some(Arc::from(resource.metadata_url()));
        config.rebuild_challenges();
        Ok(self)
    }

    /// How the client address in refusal logs is found. Default: the transport
    /// peer. Authentication itself never depends on it.
    #[must_use]
    pub fn client_ip(mut self, resolver: ClientIpResolver) -> Self {
        self.config().client_ip = resolver;
        self
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth::new(inner, Arc::clone(&self.config))
    }
}

impl fmt::Debug for BearerAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.config, f)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend: &dyn fmt::Debug = match &self.backend {
            Backend::Store(store) => store,
            Backend::Custom(_) => &"custom TokenVerifier",
        };
        f.debug_struct("BearerAuthLayer")
            .field("backend", backend)
            .field("public", &self.public)
            .field("loopback", &self.loopback)
            .field("strict_rfc6750", &self.strict_rfc6750)
            .field("required_scopes", &self.required_scopes)
            .field("realm", &self.realm)
            .finish()
    }
}
