//! The replay cache in Redis: a message accepted by one receiver instance is
//! refused by every other.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tower_claude_core::redis::RedisConnection;
use tower_claude_core::{WarnOnce, redact_url, redact_urls};

use crate::replay::{MemoryReplayCache, ReplayCache, ReplayCacheError, ReplayFuture};

/// What a [`RedisReplayCache`] does when Redis is down, slow or failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnReplayCacheFailure {
    /// Refuse the message (503 from the receiver layer; the sender retries
    /// later). The default: accepting would let a replay through.
    #[default]
    Refuse,
    /// Accept it, with a warning: replays pass while Redis is down.
    Allow,
    /// Check it against an in-memory cache while Redis is down: a message first
    /// seen during the outage is refused when replayed to this instance; one
    /// recorded only in Redis before the outage, or replayed to another
    /// instance, is not.
    Fallback,
}

/// Keys in Redis (signed content seen, deliveries processed):
/// `SET <prefix><key> 1 NX PX <window>`, one atomic
/// round trip per message, on one key, so it runs unchanged on a Redis
/// Cluster ([`RedisReplayCache::cluster_builder`]).
#[derive(Clone)]
pub struct RedisReplayCache {
    inner: Arc<Inner>,
}

/// Where a [`RedisReplayCacheBuilder`] connects.
#[derive(Clone)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

struct Inner {
    connection: RedisConnection,
    prefix: String,
    timeout: Duration,
    on_failure: OnReplayCacheFailure,
    fallback: MemoryReplayCache,
    errors: AtomicU64,
    warn: WarnOnce,
}

/// Settings of a [`RedisReplayCache`], from [`RedisReplayCache::builder`]
/// or [`RedisReplayCache::cluster_builder`]: the same names as the rate
/// limiter's `RedisStoreBuilder`.
#[derive(Clone)]
pub struct RedisReplayCacheBuilder {
    target: Target,
    prefix: String,
    timeout: Duration,
    on_failure: OnReplayCacheFailure,
}

/// What a [`RedisReplayCache`] has done, from [`RedisReplayCache::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisReplayStats {
    /// Calls that failed or timed out.
    pub errors: u64,
}

impl RedisReplayCacheBuilder {
    fn new(target: Target) -> Self {
        Self {
            target,
            prefix: "tcwh:".into(),
            timeout: Duration::from_millis(100),
            on_failure: OnReplayCacheFailure::default(),
        }
    }

    /// The key prefix (default `tcwh:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a check may wait for Redis (default 100 ms) before the
    /// failure policy applies.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when Redis fails (default [`OnReplayCacheFailure::Refuse`]).
    #[must_use]
    pub fn on_failure(mut self, on_failure: OnReplayCacheFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// The cache. It connects in the background and reconnects by itself:
    /// Redis need not be up yet, and on a cluster a node that dies, a
    /// replica promoted in its place and slots that move are found again
    /// without a restart (meanwhile the failure policy answers).
    ///
    /// # Errors
    /// An invalid URL, no URL, or no Tokio runtime to run the connection on.
    pub fn build(self) -> Result<RedisReplayCache, ReplayCacheError> {
        let connection = match &self.target {
            Target::Single(url) => RedisConnection::single(url, self.timeout),
            Target::Cluster(urls) => RedisConnection::cluster(urls, self.timeout),
        }
        .map_err(|e| ReplayCacheError(e.to_string()))?;
        Ok(RedisReplayCache {
            inner: Arc::new(Inner {
                connection,
                prefix: self.prefix,
                timeout: self.timeout,
                on_failure: self.on_failure,
                fallback: MemoryReplayCache::new(100_000),
                errors: AtomicU64::new(0),
                warn: WarnOnce::new(Duration::from_secs(10)),
            }),
        })
    }
}

impl Target {
    /// The URLs without their passwords, for messages and logs.
    fn shown(&self) -> String {
        match self {
            Self::Single(url) => redact_url(url),
            Self::Cluster(urls) => redact_urls(urls),
        }
    }
}

impl RedisReplayCache {
    /// Settings for a cache on the Redis at `url` (`redis://` or
    /// `rediss://`).
    pub fn builder(url: impl Into<String>) -> RedisReplayCacheBuilder {
        RedisReplayCacheBuilder::new(Target::Single(url.into()))
    }

    /// Settings for a cache on a Redis Cluster, given some of its nodes
    /// (primaries or replicas; the client discovers the rest).
    pub fn cluster_builder(
        urls: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> RedisReplayCacheBuilder {
        RedisReplayCacheBuilder::new(Target::Cluster(
            urls.into_iter()
                .map(|url| url.as_ref().to_owned())
                .collect(),
        ))
    }

    /// A cache on the Redis at `url` with the default settings: key prefix
    /// `tcwh:`, a 100 ms timeout, [`OnReplayCacheFailure::Refuse`].
    ///
    /// # Errors
    /// An invalid URL, or no Tokio runtime.
    pub fn new(url: &str) -> Result<Self, ReplayCacheError> {
        Self::builder(url).build()
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> RedisReplayStats {
        RedisReplayStats {
            errors: self.inner.errors.load(Ordering::Relaxed),
        }
    }

    /// Whether Redis answers a `PING` within `within`: for a start-up check
    /// that says at once when replay protection cannot work yet.
    ///
    /// # Errors
    /// Why Redis did not answer (the URL shown without its password).
    pub async fn ping(&self, within: Duration) -> Result<(), ReplayCacheError> {
        let connection = &self.inner.connection;
        match connection.ping(within).await {
            Ok(_) => Ok(()),
            Err(error) => Err(ReplayCacheError(format!(
                "Redis {}: {error}",
                connection.shown()
            ))),
        }
    }
}

impl Inner {
    /// Counts a failed call; warns of the first at once, then at most every 10 s.
    fn failed(&self, why: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.warn.due() {
            tracing::warn!(
                target: "tower_claude_webhook",
                redis = %self.connection.shown(),
                error = %why,
                on_failure = ?self.on_failure,
                "Redis replay cache failed (this warning repeats at most every 10 s)"
            );
        }
    }
}

impl ReplayCache for RedisReplayCache {
    fn contains<'a>(&'a self, key: &'a str) -> ReplayFuture<'a> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut command = redis::cmd("EXISTS");
            command.arg(format!("{}{key}", inner.prefix));
            let why = match inner.connection.query::<u64>(&command, inner.timeout).await {
                Ok(count) => return Ok(count > 0),
                Err(error) => error.to_string(),
            };
            inner.failed(&why);
            match inner.on_failure {
                OnReplayCacheFailure::Refuse => Err(ReplayCacheError(format!("Redis: {why}"))),
                OnReplayCacheFailure::Allow => Ok(false),
                OnReplayCacheFailure::Fallback => inner.fallback.contains(key).await,
            }
        })
    }

    fn first_seen<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        Box::pin(async move {
            let inner = &self.inner;
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut command = redis::cmd("SET");
            command
                .arg(format!("{}{key}", inner.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms);
            let answer = inner
                .connection
                .query::<Option<String>>(&command, inner.timeout)
                .await;
            let why = match answer {
                Ok(set) => return Ok(set.is_some()),
                Err(error) => error.to_string(),
            };
            inner.failed(&why);
            match inner.on_failure {
                OnReplayCacheFailure::Refuse => Err(ReplayCacheError(format!("Redis: {why}"))),
                OnReplayCacheFailure::Allow => Ok(true),
                OnReplayCacheFailure::Fallback => inner.fallback.first_seen(key, ttl).await,
            }
        })
    }
}

impl fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayCache")
            .field("redis", &self.inner.connection.shown())
            .field("prefix", &self.inner.prefix)
            .field("on_failure", &self.inner.on_failure)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisReplayCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayCacheBuilder")
            .field("redis", &self.target.shown())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .finish()
    }
}
