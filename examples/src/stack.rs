//! The layers every server stacks, built from the shared options.

use std::fmt;

use tower_claude_auth::{BearerAuthLayer, Credential, DEFAULT_PUBLIC_PATHS, KeyStore};
use tower_claude_core::ClientIpResolver;
use tower_claude_headers::security::{SecurityHeadersBuilder, SecurityHeadersLayer};
use tower_claude_ratelimit::{MemoryStore, Quota, RateLimitLayer, RedisStore};

use crate::config::{RedisOnFailure, ServerArgs};
use crate::redis::RedisTarget;
use crate::store::AnyStore;

/// Health routes: public and never rate limited (monitors poll them; so is
/// the gRPC health check, [`crate::grpc::GRPC_HEALTH_CHECK`]).
pub const HEALTH_PATHS: [&str; 4] = ["/health", "/healthz", "/ready", "/livez"];

/// Why a server could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The three layers, in the order headers -> rate limit -> auth.
#[derive(Clone)]
pub struct Stack {
    /// Security headers, outermost: even a 401 or a 429 carries them.
    pub headers: SecurityHeadersLayer,
    /// Rate limiting, before auth: a flood is refused before bcrypt runs.
    pub ratelimit: RateLimitLayer<AnyStore>,
    /// Bearer auth.
    pub auth: BearerAuthLayer,
    /// The key store behind `auth` (for its bcrypt statistics).
    pub keys: KeyStore,
    /// The token generated when no credential was configured.
    pub dev_token: Option<String>,
    /// The Redis store behind `ratelimit`, with `--redis-url`.
    pub redis: Option<RedisStore>,
    /// What `--redis-url` names, parsed once for every component on it.
    pub redis_target: Option<RedisTarget>,
}

impl Stack {
    /// The layers for `args`, with `public` paths open without a token.
    ///
    /// # Errors
    /// A bad hash, rate or burst.
    pub fn new(args: &ServerArgs, public: &[&str]) -> Result<Self, StartError> {
        Self::build(args, public, true)
    }

    /// [`new`](Self::new); with `dev_token` false, no credential configured
    /// means no key at all (OAuth tokens only), not a generated token.
    ///
    /// # Errors
    /// A bad hash, rate or burst.
    pub fn build(args: &ServerArgs, public: &[&str], dev_token: bool) -> Result<Self, StartError> {
        let configured = args.password_hash.is_some() || args.password.is_some();
        let (keys, dev_token) = if configured || dev_token {
            let (credential, generated) = credential(args)?;
            (
                KeyStore::new().with_default("default", credential),
                generated,
            )
        } else {
            (KeyStore::new(), None)
        };
        let resolver =
            ClientIpResolver::new().trusted_proxies(args.trusted_proxies.iter().copied());
        let public_paths: Vec<&str> = DEFAULT_PUBLIC_PATHS.iter().chain(public).copied().collect();
        let auth = BearerAuthLayer::with_store(keys.clone())
            .public_paths(public_paths)
            .client_ip(resolver.clone());
        let quota: Quota = args
            .quota()
            .map_err(|e| StartError(format!("--rate-limit/--burst: {e}")))?;
        let redis_target = RedisTarget::of(&args.redis_urls).map_err(StartError)?;
        let redis = redis_target
            .as_ref()
            .map(|target| target.store(args.redis_on_failure.into()))
            .transpose()
            .map_err(StartError)?;
        let store = match &redis {
            Some(redis) => AnyStore::Redis(redis.clone()),
            None => AnyStore::Memory(MemoryStore::builder().max_keys(args.max_clients).build()),
        };
        let ratelimit = RateLimitLayer::with_store(store, quota)
            .client_ip(resolver.clone())
            .exempt_paths(
                HEALTH_PATHS
                    .into_iter()
                    .chain([crate::grpc::GRPC_HEALTH_CHECK]),
            );
        let headers = SecurityHeadersBuilder::web()
            .csp_nonces(true)
            .client_ip(resolver)
            .try_build()
            .map_err(|e| StartError(format!("security headers: {e}")))?;
        Ok(Self {
            headers,
            ratelimit,
            auth,
            keys,
            dev_token,
            redis,
            redis_target,
        })
    }

    /// With Redis, asks it once at start-up and says on stderr whether the
    /// server begins on it or on its failure policy, rather than leaving the
    /// first warning to the first request.
    ///
    /// # Errors
    /// `--redis-url` given once for a cluster node, or several times for
    /// nodes outside a cluster.
    pub async fn check_redis(&self, args: &ServerArgs) -> Result<(), StartError> {
        let (Some(redis), Some(target)) = (&self.redis, &self.redis_target) else {
            return Ok(());
        };
        crate::redis::check(target).await.map_err(StartError)?;
        let shared = match target {
            RedisTarget::Single(_) => "Redis answers",
            RedisTarget::Cluster(_) => "The Redis Cluster answers",
        };
        let meanwhile = match args.redis_on_failure {
            RedisOnFailure::Fallback => {
                "Starting in fallback: rate limits are kept per instance, in memory"
            }
            RedisOnFailure::Allow => {
                "Starting with --redis-on-failure allow: requests are not rate limited"
            }
            RedisOnFailure::Refuse => {
                "Starting with --redis-on-failure refuse: rate-limited requests are refused (503)"
            }
        };
        match redis.ping(std::time::Duration::from_secs(2)).await {
            Ok(()) => crate::observe::announce(
                "INFO",
                &format!("{shared}: rate limits are shared through it"),
                &[],
            ),
            Err(error) => crate::observe::announce(
                "WARN",
                &format!(
                    "WARNING: {error}. {meanwhile}, and signed webhooks are refused (503) until \
                     Redis answers."
                ),
                &[],
            ),
        }
        Ok(())
    }
}

/// The configured credential, or a fresh development token.
fn credential(args: &ServerArgs) -> Result<(Credential, Option<String>), StartError> {
    if let Some(hash) = &args.password_hash {
        let credential =
            Credential::bcrypt(hash).map_err(|e| StartError(format!("--password-hash: {e}")))?;
        return Ok((credential, None));
    }
    if let Some(password) = &args.password {
        tracing::warn!("using a plaintext token from --password; prefer --password-hash");
        return Ok((Credential::plaintext(password.clone()), None));
    }
    let token = random_token().map_err(StartError)?;
    Ok((Credential::plaintext(token.clone()), Some(token)))
}

/// 32 random bytes as hex.
pub fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("no randomness for a development token: {e}"))?;
    Ok(tower_claude_core::encoding::hex(&bytes))
}

/// The one-time warning with the development token.
pub fn announce_dev_token(token: &str) {
    let warning = "no credential configured (--password-hash or TOWER_CLAUDE_PASSWORD_HASH); \
         this run accepts a generated development token, printed once";
    if crate::observe::is_json() {
        // A structured log goes to collectors: the token goes to the
        // terminal's standard output instead, never into the log.
        crate::observe::announce("WARN", &format!("{warning} on standard output"), &[]);
        println!("Development token: {token}");
    } else {
        eprintln!("WARNING: {warning}.\nDevelopment token: {token}");
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("keys", &self.keys)
            .field("dev_token", &self.dev_token.as_ref().map(|_| "<generated>"))
            .finish_non_exhaustive()
    }
}
