//! The in-memory store: one dashmap of GCRA timestamps per policy, swept and capped.

mod builder;
mod capacity;

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::{Entry, VacantEntry};
use siphasher::sip128::{Hasher128, SipHasher13};

use super::time::Time;
use super::{Check, PolicyInfo, RateLimitStore, StoreError};
use crate::decision::Decision;
use crate::key::ClientKey;

/// A warning time meaning "never warned": the first warning is written at
/// once, even when the clock (which may start at zero) has not reached an
/// interval yet.
const NEVER: u64 = u64::MAX;

/// 128 bits naming a client: an address, or a keyed hash of a named key. Two
/// words rather than a `u128` so that an entry is 24 bytes, not 32.
type Slot = [u64; 2];

/// What the store does with a client it does not track yet once it tracks
/// [`max_keys`](MemoryStoreBuilder::max_keys) clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AtCapacity {
    /// Refuse it (429, `Retry-After: 1`) until a sweep frees room. Clients
    /// already tracked keep their buckets; only newcomers wait. This keeps the
    /// limit: a spray of fresh addresses cannot buy untracked requests.
    #[default]
    RefuseNew,
    /// Admit it without tracking it. Nobody is refused for the table being
    /// full, but while it is full, new clients are not limited at all.
    AdmitUntracked,
}

/// Buckets in memory, per instance: the default store.
///
/// - Each tracked client costs one 24-byte entry in a hash table (about 40
///   bytes with the table's slack; see the crate README for the measurement).
/// - A client whose bucket is full again is forgotten by the next sweep, which
///   loses nothing: a full bucket and no entry are the same state. Sweeps run
///   every [`sweep_interval`](MemoryStoreBuilder::sweep_interval) inside a
///   request, with no task of their own.
/// - At most [`max_keys`](MemoryStoreBuilder::max_keys) clients are tracked;
///   [`AtCapacity`] says what happens to the next one.
///
/// ```
/// use std::time::Duration;
/// use tower_claude_core::Clock;
/// use tower_claude_ratelimit::{MemoryStore, Quota, RateLimitLayer};
///
/// let clock = Clock::manual(Duration::ZERO);
/// let store = MemoryStore::builder()
///     .clock(clock.clone())
///     .max_keys(100_000)
///     .build();
/// let limit = RateLimitLayer::with_store(store, Quota::per_second(10));
/// clock.advance(Duration::from_secs(1));
/// # let _ = limit;
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    time: Time,
    hash_key: (u64, u64),
    tracked: AtomicUsize,
    max_keys: usize,
    at_capacity: AtCapacity,
    sweep_every: u64,
    /// When the next scheduled sweep of every table is due.
    next_sweep: AtomicU64,
    /// When the store last swept for room and warned that it was full.
    full_warned_at: AtomicU64,
    /// The earliest time a tracked bucket is full again (and so can be
    /// forgotten to make room): the lowest theoretical arrival time, computed
    /// by each sweep and lowered by each new client.
    next_free_at: AtomicU64,
    /// When a full store last swept for room, so that such sweeps (a walk of
    /// every table) run at most once per `reclaim_every`, not per newcomer.
    capacity_swept_at: AtomicU64,
    /// The least time between two sweeps for room: a second, or the sweep
    /// interval when that is shorter.
    reclaim_every: u64,
    /// Every table made by this store, so that a sweep reaches the quiet ones
    /// too, and two layers with the same policy share one table.
    tables: Mutex<Vec<Weak<Table>>>,
}

/// The table of one policy in a [`MemoryStore`].
#[derive(Clone)]
pub struct MemoryBucket {
    table: Arc<Table>,
}

/// foldhash rather than std's SipHash: a third of the cost per request, with a
/// random seed per table, so an attacker choosing addresses cannot aim them at
/// one hash chain.
type SlotHasher = foldhash::quality::RandomState;

struct Table {
    map: DashMap<Slot, u64, SlotHasher>,
    interval: u64,
    tolerance: u64,
    name: Arc<str>,
    shared: Arc<Shared>,
    #[cfg(feature = "metrics")]
    tracked: crate::metrics::TrackedGauge,
}

impl Table {
    /// Clients this table starts tracking: in the store's count (the cap) and
    /// in the policy's gauge.
    fn count_in(&self, clients: usize) {
        self.shared.tracked.fetch_add(clients, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.tracked.add(clients);
    }

    /// Clients this table stops tracking.
    fn count_out(&self, clients: usize) {
        self.shared.tracked.fetch_sub(clients, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.tracked.sub(clients);
    }
}

impl Drop for Table {
    /// A dropped policy's clients no longer count against the cap.
    fn drop(&mut self) {
        self.count_out(self.map.len());
    }
}

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    time: Option<Time>,
    max_keys: usize,
    at_capacity: AtCapacity,
    sweep_interval: Duration,
}

impl MemoryStore {
    /// The default store: a million tracked clients at most, swept every ten
    /// seconds, on the quanta clock.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Settings for a store.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            time: None,
            max_keys: 1_000_000,
            at_capacity: AtCapacity::default(),
            sweep_interval: Duration::from_secs(10),
        }
    }

    /// Clients tracked now, over all policies.
    pub fn tracked_keys(&self) -> usize {
        self.shared.tracked.load(Ordering::Relaxed)
    }

    /// The most clients the store tracks.
    pub fn max_keys(&self) -> usize {
        self.shared.max_keys
    }

    /// Forgets every client whose bucket is full again, in every table, at
    /// once rather than at the next scheduled sweep; returns how many it forgot.
    pub fn sweep(&self) -> usize {
        self.sweep_all(self.shared.time.now())
    }

    /// The registry of tables, locked, with those of dropped layers gone.
    fn live_tables(&self) -> MutexGuard<'_, Vec<Weak<Table>>> {
        let mut registry = self
            .shared
            .tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        registry.retain(|table| table.strong_count() > 0);
        registry
    }

    fn sweep_all(&self, now: u64) -> usize {
        let tables: Vec<Arc<Table>> = self
            .live_tables()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        // Forgotten first and lowered at the end, so a client added to a table
        // this sweep has already passed keeps the lower time it set.
        self.shared.next_free_at.store(NEVER, Ordering::Relaxed);
        let mut forgotten = 0;
        let mut next_free_at = NEVER;
        for table in &tables {
            let (gone, earliest) = sweep_table(table, now);
            forgotten += gone;
            next_free_at = next_free_at.min(earliest);
        }
        self.shared
            .next_free_at
            .fetch_min(next_free_at, Ordering::Relaxed);
        tracing::debug!(
            target: "tower_claude_ratelimit",
            forgotten,
            tracked = self.tracked_keys(),
            "swept idle rate-limit buckets"
        );
        forgotten
    }

    /// Sweeps every table when the time has come; one caller wins the race.
    fn maybe_sweep(&self, now: u64) {
        let shared = &self.shared;
        let due = shared.next_sweep.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now.saturating_add(shared.sweep_every);
        if shared
            .next_sweep
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.sweep_all(now);
        }
    }

    fn slot(&self, key: &ClientKey) -> Slot {
        if let Some(ip) = key.as_ip() {
            return match ip {
                // IPv4-mapped form: no grouped IPv6 key (low 64 bits zero) and
                // no mapped address (folded to IPv4 by the resolver) looks alike.
                IpAddr::V4(v4) => split(u128::from(v4.to_ipv6_mapped())),
                IpAddr::V6(v6) => split(u128::from(v6)),
            };
        }
        let (k0, k1) = self.shared.hash_key;
        let mut hasher = SipHasher13::new_with_keys(k0, k1);
        std::hash::Hasher::write(&mut hasher, key.as_name().unwrap_or_default());
        let hash = hasher.finish128();
        [hash.h1, hash.h2]
    }

    fn decide(&self, table: &Table, key: &ClientKey) -> Decision {
        let now = self.shared.time.now();
        self.maybe_sweep(now);
        match table.map.entry(self.slot(key)) {
            Entry::Occupied(mut entry) => step(table, entry.get_mut(), now),
            Entry::Vacant(entry) => {
                let (decision, new_tat) = Decision::gcra(0, now, table.interval, table.tolerance);
                let Some(tat) = new_tat else {
                    return decision;
                };
                if self.has_room() {
                    self.track(table, entry, tat);
                    return decision;
                }
                drop(entry);
                self.at_capacity(table, key, now, tat, decision)
            }
        }
    }

    /// Tracks a new client whose bucket's step gave `tat`.
    fn track(&self, table: &Table, entry: VacantEntry<'_, Slot, u64>, tat: u64) {
        // Counted before it is visible, so a sweep can never subtract it
        // first and wrap the count.
        table.count_in(1);
        self.shared.next_free_at.fetch_min(tat, Ordering::Relaxed);
        entry.insert(tat);
    }
}

/// One GCRA step on a tracked client's bucket, written back when admitted.
fn step(table: &Table, tat: &mut u64, now: u64) -> Decision {
    let (decision, new_tat) = Decision::gcra(*tat, now, table.interval, table.tolerance);
    if let Some(new_tat) = new_tat {
        *tat = new_tat;
    }
    decision
}

/// Forgets the clients of `table` whose bucket is full again; returns how
/// many, and the earliest time one of those kept will be.
fn sweep_table(table: &Table, now: u64) -> (usize, u64) {
    let mut forgotten = 0usize;
    let mut earliest = NEVER;
    table.map.retain(|_, tat| {
        let keep = *tat > now;
        forgotten += usize::from(!keep);
        if keep {
            earliest = earliest.min(*tat);
        }
        keep
    });
    table.count_out(forgotten);
    (forgotten, earliest)
}

fn split(value: u128) -> Slot {
    [(value >> 64) as u64, value as u64]
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimitStore for MemoryStore {
    type Bucket = MemoryBucket;
    type Future = std::future::Ready<Result<Decision, StoreError>>;

    fn kind(&self) -> &'static str {
        "memory"
    }

    /// The table of `policy`: the one another layer on this store already
    /// made for the same name and quota, or a new one.
    fn bucket(&self, policy: &PolicyInfo) -> MemoryBucket {
        let quota = policy.quota();
        let (interval, tolerance) = (quota.interval_nanos(), quota.tolerance_nanos());
        let mut registry = self.live_tables();
        let existing = registry.iter().filter_map(Weak::upgrade).find(|table| {
            *table.name == *policy.name()
                && table.interval == interval
                && table.tolerance == tolerance
        });
        if let Some(table) = existing {
            return MemoryBucket { table };
        }
        let table = Arc::new(Table {
            map: DashMap::with_hasher(SlotHasher::default()),
            interval,
            tolerance,
            name: policy.name().into(),
            shared: Arc::clone(&self.shared),
            #[cfg(feature = "metrics")]
            tracked: crate::metrics::TrackedGauge::new(policy.name().into()),
        });
        registry.push(Arc::downgrade(&table));
        MemoryBucket { table }
    }

    fn check(&self, bucket: &MemoryBucket, key: &ClientKey) -> Check<Self::Future> {
        Check::Ready(Ok(self.decide(&bucket.table, key)))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("tracked_keys", &self.tracked_keys())
            .field("max_keys", &self.shared.max_keys)
            .field("at_capacity", &self.shared.at_capacity)
            .field("clock", &self.shared.time)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MemoryBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBucket")
            .field("policy", &self.table.name)
            .field("tracked", &self.table.map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
