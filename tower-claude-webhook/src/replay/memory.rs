//! Remembering what was received for the freshness window: signed content, so
//! a captured message cannot be delivered twice, and the ids of processed
//! deliveries, so a sender's retry of one is acknowledged, not run again.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tower_claude_core::Clock;

/// The future of [`ReplayCache::first_seen`].
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, ReplayCacheError>> + Send + 'a>>;

/// Records keys for a time; answers whether one is new.
///
/// The verifier asks only after a signature checked out, so only the holder of
/// a secret can add entries. A distributed implementation (a `SET NX PX` in
/// Redis) makes a replay to another instance fail too.
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `key` for `ttl`; `Ok(true)` if it was not recorded already.
    fn first_seen<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a>;

    /// Whether `key` is recorded now, without recording it.
    fn contains<'a>(&'a self, key: &'a str) -> ReplayFuture<'a>;
}

/// The cache could not answer; the verifier refuses the message (503), since
/// accepting would let a replay through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCacheError(pub String);

impl fmt::Display for ReplayCacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay cache unavailable: {}", self.0)
    }
}

impl std::error::Error for ReplayCacheError {}

/// Keys in memory (signed content seen, deliveries processed), per instance,
/// at most `capacity` of them.
///
/// Entries expire with their window. When the cache is full of unexpired keys
/// it refuses new ones (the verifier answers 503) rather than forget one early,
/// which would let its replay through.
#[derive(Clone)]
pub struct MemoryReplayCache {
    inner: Arc<Mutex<Entries>>,
    clock: Clock,
}

struct Entries {
    /// Key to the unix second it expires at.
    expiry: HashMap<Box<str>, u64>,
    capacity: usize,
    next_sweep: u64,
}

impl MemoryReplayCache {
    /// A cache of at most `capacity` keys (100,000 is a day of one delivery a
    /// second, many windows over).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Entries {
                expiry: HashMap::new(),
                capacity: capacity.max(1),
                next_sweep: 0,
            })),
            clock: Clock::system(),
        }
    }

    /// Reads time from `clock` (a manual [`Clock`] in tests).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Keys remembered now (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves a valid map.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, key: &str, ttl: Duration) -> Result<bool, ReplayCacheError> {
        let now = self.clock.unix_seconds();
        let until = now.saturating_add(ttl.as_secs().max(1));
        let mut entries = self.lock();
        if let Some(expires) = entries.expiry.get(key) {
            if *expires > now {
                return Ok(false);
            }
        } else if entries.expiry.len() >= entries.capacity || now >= entries.next_sweep {
            entries.expiry.retain(|_, expires| *expires > now);
            entries.next_sweep = now.saturating_add(60);
            if entries.expiry.len() >= entries.capacity {
                return Err(ReplayCacheError(format!(
                    "{} unexpired keys held, the configured capacity",
                    entries.capacity
                )));
            }
        }
        entries.expiry.insert(key.into(), until);
        Ok(true)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn first_seen<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        let answer = self.record(key, ttl);
        Box::pin(std::future::ready(answer))
    }

    fn contains<'a>(&'a self, key: &'a str) -> ReplayFuture<'a> {
        let now = self.clock.unix_seconds();
        let live = self
            .lock()
            .expiry
            .get(key)
            .is_some_and(|until| *until > now);
        Box::pin(std::future::ready(Ok(live)))
    }
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.lock();
        f.debug_struct("MemoryReplayCache")
            .field("keys", &entries.expiry.len())
            .field("capacity", &entries.capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_for_the_window_and_refuses_when_full() {
        let clock = Clock::manual(Duration::from_secs(1_000));
        let cache = MemoryReplayCache::new(2).clock(clock.clone());
        let ttl = Duration::from_secs(300);
        assert_eq!(cache.record("a", ttl), Ok(true));
        assert_eq!(cache.record("a", ttl), Ok(false));
        assert_eq!(cache.record("b", ttl), Ok(true));
        assert!(cache.record("c", ttl).is_err(), "full of live keys");
        clock.advance(Duration::from_secs(301));
        assert_eq!(cache.record("c", ttl), Ok(true), "a and b expired");
        assert_eq!(cache.len(), 1);
    }
}
