//! What a Redis store does when Redis fails, and what it counts.

use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(doc)]
use super::RedisStore;

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

/// What a [`RedisStore`] has done, from [`RedisStore::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisStats {
    /// Script calls made.
    pub calls: u64,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// Requests admitted unchecked under [`OnRedisFailure::Allow`].
    pub failed_open: u64,
    /// Requests decided by the in-memory fallback.
    pub fallbacks: u64,
    /// Requests refused from the local deny cache, without asking Redis.
    pub local_denials: u64,
}

/// The counters behind [`RedisStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) failed_open: AtomicU64,
    pub(super) fallbacks: AtomicU64,
    pub(super) local_denials: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> RedisStats {
        RedisStats {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            failed_open: self.failed_open.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            local_denials: self.local_denials.load(Ordering::Relaxed),
        }
    }
}
