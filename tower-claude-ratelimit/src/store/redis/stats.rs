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

/// Counters of a [`RedisStore`].
#[derive(Debug, Default)]
pub struct RedisStats {
    pub(super) calls: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) failed_open: AtomicU64,
    pub(super) fallbacks: AtomicU64,
    pub(super) local_denials: AtomicU64,
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
