//! Where buckets live: the [`RateLimitStore`] trait and the in-memory store.

mod memory;
#[cfg(feature = "redis")]
mod redis;
mod time;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use memory::{AtCapacity, MemoryBucket, MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
pub use redis::{
    GCRA_SCRIPT, OnRedisFailure, RedisBucket, RedisClusterBuilder, RedisStats, RedisStore,
    RedisStoreBuilder, RedisStoreError,
};

use crate::decision::Decision;
use crate::key::ClientKey;
use crate::quota::Quota;

/// The buckets of every client, behind one interface so that a distributed store
/// can replace the in-memory one.
///
/// A store is a cheap handle (`Clone`). For each policy of a layer it makes a
/// [`Bucket`](Self::Bucket) once, when the layer is built; then for each request
/// it takes one GCRA step ([`Decision::gcra`]) on the client's bucket.
///
/// A store that answers synchronously (the in-memory one) returns
/// [`Check::Ready`] and costs no allocation; one that must wait (a network
/// store) returns [`Check::Pending`], and the layer boxes the rest of the
/// request.
pub trait RateLimitStore: Clone + Send + Sync + 'static {
    /// What the store keeps per policy (its table, or its key prefix).
    type Bucket: Clone + Send + Sync + 'static;
    /// The answer of a store that must wait.
    type Future: Future<Output = Result<Decision, StoreError>> + Send + 'static;

    /// The per-policy state of `policy`.
    fn bucket(&self, policy: &PolicyInfo) -> Self::Bucket;

    /// One request of `key` under the policy of `bucket`.
    fn check(&self, bucket: &Self::Bucket, key: &ClientKey) -> Check<Self::Future>;

    /// What the store is, for the `store` label of the layer's store-latency
    /// metric (the `metrics` feature): `memory`, `redis`, or a custom store's
    /// own name (`custom` unless it says).
    fn kind(&self) -> &'static str {
        "custom"
    }
}

/// The answer of [`RateLimitStore::check`].
#[derive(Debug)]
pub enum Check<F> {
    /// Decided at once.
    Ready(Result<Decision, StoreError>),
    /// Decided when the future completes.
    Pending(F),
}

/// The name and quota of a policy, as a store sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    name: Arc<str>,
    quota: Quota,
}

impl PolicyInfo {
    pub(crate) fn new(name: Arc<str>, quota: Quota) -> Self {
        Self { name, quota }
    }

    /// A policy outside any layer, to drive a store directly in tests and
    /// benchmarks.
    #[doc(hidden)]
    pub fn new_for_tests(name: &str, quota: Quota) -> Self {
        Self::new(name.into(), quota)
    }

    /// The policy's name (`default`, or the name of a route policy).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }
}

/// A store could not decide: the layer answers 503 with `Retry-After`
/// (`UNAVAILABLE` for gRPC).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreError {
    message: Arc<str>,
    retry_after: Duration,
}

impl StoreError {
    /// An error a client should retry after `retry_after` (rounded up to whole
    /// seconds, at least one). The message is logged, never sent.
    pub fn new(message: impl Into<Arc<str>>, retry_after: Duration) -> Self {
        Self {
            message: message.into(),
            retry_after,
        }
    }

    /// What went wrong, for the log.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When the client may try again.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("message", &self.message)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate-limit store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}
