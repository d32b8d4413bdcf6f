//! The `RateLimitLayer` and its builder.

use std::fmt;
use std::sync::Arc;

use tower_claude_core::{
    ClientIpResolver, IpCidr, Ipv6Prefix, LogThrottle, PathRules, Responder, SharedResponder,
};
use tower_layer::Layer;

use crate::error::RateLimitConfigError;
use crate::headers::{PolicyHeaders, RateLimitHeaders, is_valid_policy_name};
use crate::key::KeyExtractor;
use crate::quota::Quota;
use crate::service::RateLimit;
use crate::store::{MemoryStore, PolicyInfo, RateLimitStore};

pub(crate) const LAYER: &str = "tower_claude_ratelimit";

/// Limits each client to a [`Quota`], keyed by its address.
///
/// | request | HTTP answer | gRPC answer |
/// | --- | --- | --- |
/// | within the quota | the inner service, with the rate-limit fields | the same |
/// | over the quota | 429, `Retry-After` in whole seconds (never 0) and the fields | `RESOURCE_EXHAUSTED` |
/// | no peer address recorded by the server | 500, one `tracing` error naming the fix | `INTERNAL` |
/// | store failed (distributed stores) | 503 with `Retry-After` | `UNAVAILABLE` |
/// | exempt path or exempt address | the inner service, untouched | the same |
///
/// The client address comes from [`ClientIpResolver`]: the peer address unless
/// [trusted proxies](Self::client_ip) are configured, so a client cannot
/// pick its bucket with `X-Forwarded-For`. IPv6 clients are grouped by their
/// `/64` (see [`ipv6_prefix`](Self::ipv6_prefix)), as one subscriber holds a
/// whole `/64`.
///
/// ```
/// use http::Method;
/// use tower_claude_core::{ClientIpResolver, PathRules};
/// use tower_claude_ratelimit::{Quota, RateLimitLayer};
///
/// let limit = RateLimitLayer::per_ip(Quota::per_minute(100).burst(20))
///     .client_ip(ClientIpResolver::new().trusted_proxies(["10.0.0.0/8".parse().unwrap()]))
///     .ipv6_prefix(56)
///     .exempt_paths(["/health"])
///     .route("login", PathRules::new().exact_for(Method::POST, "/login"), Quota::per_minute(5));
/// let app: axum::Router = axum::Router::new().layer(limit);
/// ```
pub struct RateLimitLayer<St: RateLimitStore = MemoryStore> {
    config: Arc<Config<St>>,
}

pub(crate) struct Policy<B> {
    pub(crate) info: PolicyInfo,
    pub(crate) bucket: B,
    pub(crate) headers: Arc<PolicyHeaders>,
    #[cfg(feature = "metrics")]
    pub(crate) counters: Arc<crate::metrics::PolicyCounters>,
}

pub(crate) struct Route<B> {
    pub(crate) rules: PathRules,
    pub(crate) policy: Policy<B>,
}

pub(crate) struct Config<St: RateLimitStore> {
    pub(crate) store: St,
    pub(crate) default: Policy<St::Bucket>,
    pub(crate) routes: Vec<Route<St::Bucket>>,
    pub(crate) exempt: PathRules,
    pub(crate) exempt_ips: Vec<IpCidr>,
    pub(crate) resolver: ClientIpResolver,
    pub(crate) ipv6_prefix: Ipv6Prefix,
    pub(crate) key: Option<Arc<dyn KeyExtractor>>,
    pub(crate) headers: RateLimitHeaders,
    pub(crate) responder: SharedResponder,
    /// Bounds the warnings a failing store writes under a flood.
    pub(crate) refusal_log: Arc<LogThrottle>,
}

impl RateLimitLayer<MemoryStore> {
    /// Limits each client to `quota`, with buckets in memory.
    pub fn new(quota: Quota) -> Self {
        Self::with_store(MemoryStore::new(), quota)
    }

    /// The same as [`new`](Self::new): each client address its own bucket.
    pub fn per_ip(quota: Quota) -> Self {
        Self::new(quota)
    }
}

impl<St: RateLimitStore> RateLimitLayer<St> {
    /// Limits each client to `quota`, with buckets in `store`.
    pub fn with_store(store: St, quota: Quota) -> Self {
        let default = policy(&store, "default".into(), quota);
        Self {
            config: Arc::new(Config {
                store,
                default,
                routes: Vec::new(),
                exempt: PathRules::new(),
                exempt_ips: Vec::new(),
                resolver: ClientIpResolver::new(),
                ipv6_prefix: Ipv6Prefix::DEFAULT,
                key: None,
                headers: RateLimitHeaders::default(),
                responder: SharedResponder::default(),
                refusal_log: Arc::new(LogThrottle::standard()),
            }),
        }
    }

    /// The store, to read its statistics.
    pub fn store(&self) -> &St {
        &self.config.store
    }

    /// Holds requests that match `rules` to their own `quota`, in buckets of
    /// their own, under the policy `name` (sent in the `RateLimit` fields).
    /// The first matching route wins; the rest take the default quota.
    ///
    /// Routes are chosen by the path as any router or proxy might resolve it
    /// (percent-encoded ASCII decoded, `//`, `.`, `..` and `;params`
    /// resolved): `/log%69n`, `//login` and `/login;x` are held to the
    /// `/login` quota, not let off with the default one.
    ///
    /// # Panics
    /// On an invalid or repeated name; see [`try_route`](Self::try_route).
    #[must_use]
    pub fn route(self, name: &str, rules: PathRules, quota: Quota) -> Self {
        match self.try_route(name, rules, quota) {
            Ok(layer) => layer,
            Err(error) => panic!("{error}"),
        }
    }

    /// [`route`](Self::route), from configuration.
    ///
    /// # Errors
    /// When `name` is not 1 to 64 of `A-Z a-z 0-9 _ - .`, or another policy
    /// of this layer has it.
    pub fn try_route(
        mut self,
        name: &str,
        rules: PathRules,
        quota: Quota,
    ) -> Result<Self, RateLimitConfigError> {
        self.check_name(name)?;
        let config = Arc::make_mut(&mut self.config);
        let policy = policy(&config.store, name.into(), quota);
        config.routes.push(Route { rules, policy });
        Ok(self)
    }

    /// Names the default policy (`default` unless set).
    ///
    /// # Panics
    /// On an invalid or repeated name; see
    /// [`try_default_policy_name`](Self::try_default_policy_name).
    #[must_use]
    pub fn default_policy_name(self, name: &str) -> Self {
        self.try_default_policy_name(name)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`default_policy_name`](Self::default_policy_name), reporting an
    /// invalid or repeated name instead of panicking.
    ///
    /// # Errors
    /// [`RateLimitConfigError::PolicyName`] or
    /// [`RateLimitConfigError::DuplicatePolicy`].
    pub fn try_default_policy_name(mut self, name: &str) -> Result<Self, RateLimitConfigError> {
        self.check_name(name)?;
        let config = Arc::make_mut(&mut self.config);
        let quota = config.default.info.quota();
        config.default = policy(&config.store, name.into(), quota);
        Ok(self)
    }

    /// Paths that are never limited, such as health checks (exact paths).
    ///
    /// # Panics
    /// On a path that is not clean; see
    /// [`try_exempt_paths`](Self::try_exempt_paths).
    #[must_use]
    pub fn exempt_paths(self, paths: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.try_exempt_paths(paths)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`exempt_paths`](Self::exempt_paths), reporting a path that is not
    /// clean instead of panicking.
    ///
    /// # Errors
    /// The first path that is not a clean absolute path.
    pub fn try_exempt_paths(
        mut self,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, RateLimitConfigError> {
        let config = Arc::make_mut(&mut self.config);
        config.exempt = std::mem::take(&mut config.exempt).try_exact_all(paths)?;
        Ok(self)
    }

    /// Requests that are never limited, as a set of path rules. Replaces the
    /// paths given before. Paths that could be read two ways are never exempt.
    #[must_use]
    pub fn exempt(mut self, rules: PathRules) -> Self {
        Arc::make_mut(&mut self.config).exempt = rules;
        self
    }

    /// Client addresses that are never limited, such as internal monitors.
    #[must_use]
    pub fn exempt_ips(mut self, blocks: impl IntoIterator<Item = IpCidr>) -> Self {
        Arc::make_mut(&mut self.config).exempt_ips.extend(blocks);
        self
    }

    /// Resolves client addresses with `resolver`: the proxies whose
    /// forwarding headers name the client, and which header they write.
    /// Without trusted proxies the peer address is the client, whatever the
    /// headers say.
    #[must_use]
    pub fn client_ip(mut self, resolver: ClientIpResolver) -> Self {
        Arc::make_mut(&mut self.config).resolver = resolver;
        self
    }

    /// Groups IPv6 clients by their first `bits` bits (default 64).
    ///
    /// # Panics
    /// When `bits` is not between 16 and 128; see
    /// [`try_ipv6_prefix`](Self::try_ipv6_prefix).
    #[must_use]
    pub fn ipv6_prefix(self, bits: u8) -> Self {
        self.try_ipv6_prefix(bits)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`ipv6_prefix`](Self::ipv6_prefix), reporting a length out of range
    /// instead of panicking.
    ///
    /// # Errors
    /// When `bits` is not between 16 and 128.
    pub fn try_ipv6_prefix(mut self, bits: u8) -> Result<Self, RateLimitConfigError> {
        Arc::make_mut(&mut self.config).ipv6_prefix = Ipv6Prefix::new(bits)?;
        Ok(self)
    }

    /// Chooses buckets with `extractor`; requests it returns `None` for stay
    /// keyed by client address.
    #[must_use]
    pub fn key(mut self, extractor: impl KeyExtractor) -> Self {
        Arc::make_mut(&mut self.config).key = Some(Arc::new(extractor));
        self
    }

    /// Which rate-limit fields responses carry (default: both sets).
    #[must_use]
    pub fn headers(mut self, headers: RateLimitHeaders) -> Self {
        Arc::make_mut(&mut self.config).headers = headers;
        self
    }

    /// Shapes refusals with `responder` instead of the core JSON and gRPC
    /// answers.
    #[must_use]
    pub fn responder(mut self, responder: impl Responder) -> Self {
        Arc::make_mut(&mut self.config).responder = SharedResponder::new(responder);
        self
    }

    fn check_name(&self, name: &str) -> Result<(), RateLimitConfigError> {
        if !is_valid_policy_name(name) {
            return Err(RateLimitConfigError::PolicyName(name.to_owned()));
        }
        let config = &self.config;
        let taken = config.default.info.name() == name
            || config.routes.iter().any(|r| r.policy.info.name() == name);
        if taken {
            return Err(RateLimitConfigError::DuplicatePolicy(name.to_owned()));
        }
        Ok(())
    }
}

fn policy<St: RateLimitStore>(store: &St, name: Arc<str>, quota: Quota) -> Policy<St::Bucket> {
    let headers = Arc::new(PolicyHeaders::new(&name, quota));
    #[cfg(feature = "metrics")]
    let counters = Arc::new(crate::metrics::PolicyCounters::new(Arc::clone(&name)));
    let info = PolicyInfo::new(name, quota);
    Policy {
        bucket: store.bucket(&info),
        #[cfg(feature = "metrics")]
        counters,
        info,
        headers,
    }
}

impl<S, St: RateLimitStore> Layer<S> for RateLimitLayer<St> {
    type Service = RateLimit<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.config))
    }
}

impl<St: RateLimitStore> Clone for RateLimitLayer<St> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
        }
    }
}

impl<St: RateLimitStore> Clone for Config<St> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            default: self.default.clone(),
            routes: self
                .routes
                .iter()
                .map(|r| Route {
                    rules: r.rules.clone(),
                    policy: r.policy.clone(),
                })
                .collect(),
            exempt: self.exempt.clone(),
            exempt_ips: self.exempt_ips.clone(),
            resolver: self.resolver.clone(),
            ipv6_prefix: self.ipv6_prefix,
            key: self.key.clone(),
            headers: self.headers,
            responder: self.responder.clone(),
            refusal_log: Arc::clone(&self.refusal_log),
        }
    }
}

impl<B: Clone> Clone for Policy<B> {
    fn clone(&self) -> Self {
        Self {
            info: self.info.clone(),
            bucket: self.bucket.clone(),
            headers: Arc::clone(&self.headers),
            #[cfg(feature = "metrics")]
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<St: RateLimitStore + fmt::Debug> fmt::Debug for RateLimitLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl<St: RateLimitStore + fmt::Debug> fmt::Debug for Config<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<_> = self
            .routes
            .iter()
            .map(|r| (r.policy.info.name(), r.policy.info.quota(), &r.rules))
            .collect();
        f.debug_struct("RateLimitLayer")
            .field("store", &self.store)
            .field("default", &self.default.info)
            .field("routes", &routes)
            .field("exempt", &self.exempt)
            .field("exempt_ips", &self.exempt_ips)
            .field("client_ip", &self.resolver)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .field("custom_key", &self.key.is_some())
            .field("headers", &self.headers)
            .finish()
    }
}
