//! Settings of the in-memory store.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_claude_core::Clock;

use super::{AtCapacity, MemoryStore, MemoryStoreBuilder, NEVER, Shared};
use crate::store::time::Time;

impl MemoryStoreBuilder {
    /// Reads time from `clock` (a manual [`Clock`] in tests).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.time = Some(Time::from_clock(clock));
        self
    }

    /// Reads time from a clock shared with another store.
    #[cfg(feature = "redis")]
    pub(crate) fn time(mut self, time: Time) -> Self {
        self.time = Some(time);
        self
    }

    /// The most clients tracked at once, over all policies (default 1,000,000,
    /// about 40 MB).
    #[must_use]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// What happens to a new client when the store is full.
    #[must_use]
    pub fn at_capacity(mut self, at_capacity: AtCapacity) -> Self {
        self.at_capacity = at_capacity;
        self
    }

    /// How often the store forgets clients whose bucket is full again
    /// (default 10 s, between 10 ms and an hour). A sweep walks every table
    /// inside one request.
    #[must_use]
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval.clamp(Duration::from_millis(10), Duration::from_secs(3600));
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        let sweep_every = u64::try_from(self.sweep_interval.as_nanos()).unwrap_or(u64::MAX);
        MemoryStore {
            shared: Arc::new(Shared {
                time: self.time.unwrap_or_else(Time::quanta),
                hash_key: tower_claude_core::random::random_key(),
                tracked: AtomicUsize::new(0),
                max_keys: self.max_keys,
                at_capacity: self.at_capacity,
                sweep_every,
                next_sweep: AtomicU64::new(sweep_every),
                full_warned_at: AtomicU64::new(NEVER),
                next_free_at: AtomicU64::new(NEVER),
                capacity_swept_at: AtomicU64::new(NEVER),
                reclaim_every: sweep_every.min(1_000_000_000),
                tables: Mutex::new(Vec::new()),
            }),
        }
    }
}
