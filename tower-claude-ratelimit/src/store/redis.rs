//! Buckets in Redis: one atomic GCRA step per decision, in a Lua script.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use tower_claude_core::Clock;

use tower_claude_core::{WarnOnce, redact_url};

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
pub const GCRA_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now
if ARGV[3] ~= nil and ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + interval
local backlog = new_tat - now
if backlog > tolerance then
  return {0, 0, tat - now, backlog - tolerance}
end
local remaining = math.floor((tolerance - backlog) / interval)
local ttl_ms = math.max(1, math.ceil(backlog / 1000))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, remaining, backlog, 0}
";

/// What a [`RedisStore`] does when Redis is down, slow or answers an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnRedisFailure {
    /// Admit the request; log a warning (at most every 10 s) and count it in
    /// [`RedisStats::failed_open`]. No limit while Redis is down.
    Allow,
    /// Refuse with 503 and `Retry-After: 1` (gRPC `UNAVAILABLE`). A Redis
    /// outage becomes an outage of the service.
    Refuse,
    /// Limit with an in-memory store of the same quotas until Redis answers
    /// again (the default): the limit holds per instance, nobody is refused for
    /// Redis being down, and nobody gets an unlimited pass.
    #[default]
    Fallback,
}

/// Counters of a [`RedisStore`].
#[derive(Debug, Default)]
pub struct RedisStats {
    calls: AtomicU64,
    errors: AtomicU64,
    failed_open: AtomicU64,
    fallbacks: AtomicU64,
    local_denials: AtomicU64,
}

impl RedisStats {
    /// Script calls made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Calls that failed or timed out.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Requests admitted unchecked under [`OnRedisFailure::Allow`].
    pub fn failed_open(&self) -> u64 {
        self.failed_open.load(Ordering::Relaxed)
    }

    /// Requests decided by the in-memory fallback.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Requests refused from the local deny cache, without asking Redis.
    pub fn local_denials(&self) -> u64 {
        self.local_denials.load(Ordering::Relaxed)
    }
}

/// A connection to a single Redis or to a Redis Cluster.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

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
    connection: Connection,
    script: redis::Script,
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
    stats: RedisStats,
    /// The failure warning: the first at once, then at most every 10 s.
    warn: WarnOnce,
    display_url: String,
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

/// Settings of a [`RedisStore`].
pub struct RedisStoreBuilder {
    urls: Vec<String>,
    prefix: String,
    timeout: Duration,
    on_failure: OnRedisFailure,
    injected: Option<Time>,
    deny_capacity: usize,
}

/// A [`RedisStore`] could not be made.
#[derive(Debug)]
pub struct RedisStoreError(String);

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisStoreError {}

impl RedisStore {
    /// Settings for a store on the Redis at `url` (`redis://` or `rediss://`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            urls: vec![url.into()],
            prefix: "tcrl:".into(),
            timeout: Duration::from_millis(50),
            on_failure: OnRedisFailure::default(),
            injected: None,
            deny_capacity: 100_000,
        }
    }

    /// Settings for a store on a Redis Cluster, given some of its nodes.
    pub fn cluster_builder(urls: impl IntoIterator<Item = impl Into<String>>) -> RedisStoreBuilder {
        let mut builder = Self::builder(String::new());
        builder.urls = urls.into_iter().map(Into::into).collect();
        builder
    }

    /// The store's counters.
    pub fn stats(&self) -> &RedisStats {
        &self.inner.stats
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
        let mut connection = self.inner.connection.clone();
        let command = redis::cmd("PING");
        let call = async {
            match &mut connection {
                Connection::Single(manager) => command.query_async::<String>(manager).await,
                Connection::Cluster(cluster) => command.query_async::<String>(cluster).await,
            }
        };
        let shown = &self.inner.display_url;
        match tokio::time::timeout(within, call).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(RedisStoreError(format!("Redis {shown}: {error}"))),
            Err(_) => Err(RedisStoreError(format!(
                "Redis {shown}: no answer within {within:?}"
            ))),
        }
    }
}

impl RedisStoreBuilder {
    /// The key prefix (default `tcrl:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a decision may wait for Redis (default 50 ms) before the
    /// failure policy applies.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when Redis fails (default [`OnRedisFailure::Fallback`]).
    #[must_use]
    pub fn on_failure(mut self, on_failure: OnRedisFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// Passes time from `clock` to the script instead of Redis `TIME`, so a
    /// test can compare this store with [`MemoryStore`] step by step.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.injected = Some(Time::from_clock(clock));
        self
    }

    /// The most keys the local deny cache holds (default 100,000).
    #[must_use]
    pub fn deny_cache_capacity(mut self, capacity: usize) -> Self {
        self.deny_capacity = capacity;
        self
    }

    /// A store on a single Redis. It connects on first use and reconnects by
    /// itself; Redis need not be up yet.
    ///
    /// # Errors
    /// An invalid URL, or no Tokio runtime to run the connection on (call it
    /// inside the runtime, as from `#[tokio::main]`).
    pub fn build(self) -> Result<RedisStore, RedisStoreError> {
        let url = self.urls.first().cloned().unwrap_or_default();
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisStoreError(
                "RedisStore::build must run inside a Tokio runtime (it starts the connection task)"
                    .into(),
            ));
        }
        let client = redis::Client::open(url.as_str())
            .map_err(|e| RedisStoreError(format!("invalid Redis URL {}: {e}", redact_url(&url))))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(self.timeout.max(Duration::from_millis(10))))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisStoreError(format!("Redis {}: {e}", redact_url(&url))))?;
        Ok(self.finish(Connection::Single(manager), redact_url(&url)))
    }

    /// A store on a Redis Cluster.
    ///
    /// # Errors
    /// Invalid URLs, or no node reachable.
    pub async fn build_cluster(self) -> Result<RedisStore, RedisStoreError> {
        let shown = self
            .urls
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(",");
        let client = redis::cluster::ClusterClient::builder(self.urls.clone())
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(self.timeout.max(Duration::from_millis(10)))
            .build()
            .map_err(|e| RedisStoreError(format!("Redis Cluster {shown}: {e}")))?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(|e| RedisStoreError(format!("Redis Cluster {shown}: {e}")))?;
        Ok(self.finish(Connection::Cluster(connection), shown))
    }

    fn finish(self, connection: Connection, display_url: String) -> RedisStore {
        let local = self.injected.clone().unwrap_or_else(Time::quanta);
        let fallback = match &self.injected {
            Some(time) => MemoryStore::builder().time(time.clone()).build(),
            None => MemoryStore::new(),
        };
        RedisStore {
            inner: Arc::new(Inner {
                connection,
                script: redis::Script::new(GCRA_SCRIPT),
                prefix: self.prefix.into(),
                timeout: self.timeout,
                on_failure: self.on_failure,
                fallback,
                injected: self.injected,
                local,
                denied: DashMap::with_hasher(foldhash::quality::RandomState::default()),
                deny_capacity: self.deny_capacity,
                deny_swept_at: AtomicU64::new(0),
                stats: RedisStats::default(),
                warn: WarnOnce::new(Duration::from_secs(10)),
                display_url,
            }),
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

impl RateLimitStore for RedisStore {
    type Bucket = RedisBucket;
    type Future = Answer;

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
        let mut invocation = self.script.key(&redis_key);
        invocation
            .arg(bucket.interval_us)
            .arg(bucket.tolerance_us)
            .arg(now_arg);
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let mut connection = self.connection.clone();
        let call = async {
            match &mut connection {
                Connection::Single(manager) => invocation.invoke_async::<Vec<i64>>(manager).await,
                Connection::Cluster(cluster) => invocation.invoke_async::<Vec<i64>>(cluster).await,
            }
        };
        let reply = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => return self.failed(bucket, key, &error.to_string()),
            Err(_) => {
                return self.failed(bucket, key, &format!("no answer within {:?}", self.timeout));
            }
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
                redis = %self.display_url,
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
            .field("redis", &self.inner.display_url)
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

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field(
                "urls",
                &self.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            )
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .finish_non_exhaustive()
    }
}
