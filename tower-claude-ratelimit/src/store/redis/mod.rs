//! Buckets in Redis: one atomic GCRA step per decision, in a Lua script.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tower_claude_core::WarnOnce;
use tower_claude_core::redis::{LuaScript, RedisConnection};

mod builder;
mod stats;

pub use builder::{RedisClusterBuilder, RedisStoreBuilder, RedisStoreError};
use stats::Counters;
pub use stats::{OnRedisFailure, RedisStats};

use super::memory::{MemoryBucket, MemoryStore};
use super::time::Time;
use super::{Check, PolicyInfo, RateLimitStore, StoreError};
use crate::decision::Decision;
use crate::key::ClientKey;

/// The GCRA step of [`Decision::gcra`] in microseconds, atomically on one key.
///
/// `KEYS[1]` the client's bucket; `ARGV` the emission interval and tolerance in
/// microseconds, and the time (empty: the server's `TIME`, so replicas with
/// skewed clocks agree). The key holds the theoretical arrival time and expires
/// when the bucket is full again, so Redis keeps only active clients.
/// Returns `{allowed, remaining, reset_us, retry_after_us}`.
pub const GCRA_SCRIPT: &str = include_str!("gcra.lua");

/// Buckets in Redis, shared by every instance that uses the same Redis and
/// key prefix.
///
/// - **One round trip per decision**: [`GCRA_SCRIPT`] by `EVALSHA` (loaded on
///   `NOSCRIPT`), on one key per client, so it runs unchanged on Redis Cluster.
///   Its answers are exactly those of [`MemoryStore`] (same step, in
///   microseconds), so the response fields do not change with the store.
/// - **Time from Redis** (`TIME` in the script), so replicas with skewed clocks
///   agree; an injected clock (tests) is passed in instead.
/// - **Memory follows active clients**: each key expires when its bucket would
///   be full again.
/// - **Failures** (down, slow past the timeout, errors) follow
///   [`OnRedisFailure`]; the connection reconnects by itself.
/// - **Local deny cache**: a key Redis refused is refused here until its retry
///   time without asking Redis again, so a flood from one address costs Redis
///   about one call per retry interval per instance.
///
/// Keys are `<prefix><policy>:<burst>x<interval µs>:<client>`
/// (`tcrl:default:100x600000:ip:192.0.2.1`). To
/// group keys on one Cluster slot, put a hash tag in the prefix
/// (`{tcrl}:`); one key per call never needs it.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: RedisConnection,
    script: LuaScript,
    prefix: Arc<str>,
    timeout: Duration,
    on_failure: OnRedisFailure,
    fallback: MemoryStore,
    /// The injected clock, passed to the script; `None`: Redis `TIME`.
    injected: Option<Time>,
    /// The time the deny cache runs on (nanoseconds).
    local: Time,
    denied: DashMap<Box<str>, Denied, foldhash::quality::RandomState>,
    deny_capacity: usize,
    deny_swept_at: AtomicU64,
    stats: Counters,
    /// The failure warning: the first at once, then at most every 10 s.
    warn: WarnOnce,
}

/// A key Redis refused: until when, and when its bucket is full (local µs).
#[derive(Debug, Clone, Copy)]
struct Denied {
    until: u64,
    full_at: u64,
}

/// The per-policy state of a [`RedisStore`].
#[derive(Clone)]
pub struct RedisBucket {
    key_prefix: Arc<str>,
    interval_us: u64,
    tolerance_us: u64,
    burst: u32,
    fallback: MemoryBucket,
}

impl RedisStore {
    /// Settings for a store on the Redis at `url` (`redis://` or `rediss://`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder::new(url.into())
    }

    /// Settings for a store on a Redis Cluster, given some of its nodes
    /// (primaries or replicas; the client discovers the rest).
    pub fn cluster_builder(urls: impl IntoIterator<Item = impl AsRef<str>>) -> RedisClusterBuilder {
        RedisClusterBuilder::new(
            urls.into_iter()
                .map(|url| url.as_ref().to_owned())
                .collect(),
        )
    }

    /// What the store has done so far.
    pub fn stats(&self) -> RedisStats {
        self.inner.stats.snapshot()
    }

    /// The in-memory store used under [`OnRedisFailure::Fallback`].
    pub fn fallback(&self) -> &MemoryStore {
        &self.inner.fallback
    }

    /// Whether Redis answers a `PING` within `within`: for a start-up check
    /// that says at once when the store begins on its failure policy.
    ///
    /// # Errors
    /// Why Redis did not answer (the URL shown without its password).
    pub async fn ping(&self, within: Duration) -> Result<(), RedisStoreError> {
        let shown = self.inner.connection.shown();
        match self.inner.connection.ping(within).await {
            Ok(_) => Ok(()),
            Err(error) => Err(RedisStoreError(format!("Redis {shown}: {error}"))),
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

impl RateLimitStore for RedisStore {
    type Bucket = RedisBucket;
    type Future = Answer;

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn bucket(&self, policy: &PolicyInfo) -> RedisBucket {
        let quota = policy.quota();
        // Microseconds, rounded up: a rate finer than a microsecond per request
        // is held to one per microsecond (stricter, never looser).
        let interval_us = quota.interval_nanos().div_ceil(1000).max(1);
        let tolerance_us = interval_us.saturating_mul(u64::from(quota.burst_size()));
        RedisBucket {
            // The quota is part of the key: two layers whose policies share a
            // name but not a quota must not share buckets.
            key_prefix: format!(
                "{}{}:{}x{}:",
                self.inner.prefix,
                policy.name(),
                quota.burst_size(),
                interval_us
            )
            .into(),
            interval_us,
            tolerance_us,
            burst: quota.burst_size(),
            fallback: self.inner.fallback.bucket(policy),
        }
    }

    fn check(&self, bucket: &RedisBucket, key: &ClientKey) -> Check<Answer> {
        let redis_key = format!("{}{}", bucket.key_prefix, key.to_store_key());
        if let Some(decision) = self.inner.locally_denied(&redis_key) {
            return Check::Ready(Ok(decision));
        }
        let inner = Arc::clone(&self.inner);
        let bucket = bucket.clone();
        let key = key.clone();
        Check::Pending(Box::pin(async move {
            inner.decide(&bucket, &key, redis_key).await
        }))
    }
}

impl Inner {
    fn local_us(&self) -> u64 {
        self.local.now() / 1000
    }

    fn locally_denied(&self, redis_key: &str) -> Option<Decision> {
        let now = self.local_us();
        let denied = *self.denied.get(redis_key)?;
        if denied.until <= now {
            return None;
        }
        self.stats.local_denials.fetch_add(1, Ordering::Relaxed);
        Some(Decision::from_parts(
            false,
            0,
            Duration::from_micros(denied.full_at.saturating_sub(now)),
            Duration::from_micros(denied.until - now),
        ))
    }

    async fn decide(
        &self,
        bucket: &RedisBucket,
        key: &ClientKey,
        redis_key: String,
    ) -> Result<Decision, StoreError> {
        let now_arg = self
            .injected
            .as_ref()
            .map(|time| (time.now() / 1000).to_string())
            .unwrap_or_default();
        let (interval, tolerance) = (
            bucket.interval_us.to_string(),
            bucket.tolerance_us.to_string(),
        );
        let args = [interval.as_str(), tolerance.as_str(), now_arg.as_str()];
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let reply = match self
            .connection
            .eval::<Vec<i64>>(&self.script, &[&redis_key], &args, self.timeout)
            .await
        {
            Ok(reply) => reply,
            Err(error) => return self.failed(bucket, key, &error.to_string()),
        };
        let [allowed, remaining, reset_us, retry_us] = reply[..] else {
            return self.failed(bucket, key, "the script answered in an unexpected shape");
        };
        let micros = |n: i64| Duration::from_micros(u64::try_from(n).unwrap_or(0));
        let decision = Decision::from_parts(
            allowed == 1,
            u32::try_from(remaining).unwrap_or(0),
            micros(reset_us),
            micros(retry_us),
        );
        if !decision.is_allowed() {
            self.remember_denial(redis_key, &decision);
        }
        Ok(decision)
    }

    fn remember_denial(&self, redis_key: String, decision: &Decision) {
        let now = self.local_us();
        if self.denied.len() >= self.deny_capacity {
            // Full: drop the expired entries, at most once a second (a scan per
            // denial would stall every lookup); until then, new denials go
            // uncached and ask Redis each time.
            let swept = self.deny_swept_at.load(Ordering::Relaxed);
            if now.saturating_sub(swept) >= 1_000_000
                && self
                    .deny_swept_at
                    .compare_exchange(swept, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.denied.retain(|_, denied| denied.until > now);
            }
            if self.denied.len() >= self.deny_capacity {
                return;
            }
        }
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.denied.insert(
            redis_key.into_boxed_str(),
            Denied {
                until: now.saturating_add(micros(decision.retry_after())),
                full_at: now.saturating_add(micros(decision.reset())),
            },
        );
    }

    fn failed(
        &self,
        bucket: &RedisBucket,
        key: &ClientKey,
        why: &str,
    ) -> Result<Decision, StoreError> {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        if self.warn.due() {
            tracing::warn!(
                target: "tower_claude_ratelimit",
                redis = %self.connection.shown(),
                error = why,
                on_failure = ?self.on_failure,
                "Redis rate-limit store failed; applying the failure policy (this warning repeats at most every 10 s)"
            );
        }
        match self.on_failure {
            OnRedisFailure::Allow => {
                self.stats.failed_open.fetch_add(1, Ordering::Relaxed);
                Ok(Decision::from_parts(
                    true,
                    bucket.burst.saturating_sub(1),
                    Duration::from_micros(bucket.interval_us),
                    Duration::ZERO,
                ))
            }
            OnRedisFailure::Refuse => Err(StoreError::new(
                format!("Redis: {why}"),
                Duration::from_secs(1),
            )),
            OnRedisFailure::Fallback => {
                self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                match self.fallback.check(&bucket.fallback, key) {
                    Check::Ready(answer) => answer,
                    Check::Pending(_) => Err(StoreError::new(
                        "the fallback store must answer at once",
                        Duration::from_secs(1),
                    )),
                }
            }
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.inner.connection.shown())
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .field("on_failure", &self.inner.on_failure)
            .field("stats", &self.inner.stats)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBucket")
            .field("key_prefix", &self.key_prefix)
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}
