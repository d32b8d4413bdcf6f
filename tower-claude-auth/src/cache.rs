//! A small bounded map of verification outcomes with a time to live.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::keyed_hash::{PassThrough, TokenHash};

pub(crate) struct TtlCache<V> {
    map: RwLock<HashMap<TokenHash, (Instant, V), PassThrough>>,
    ttl: Duration,
    capacity: usize,
    /// When a full map was last swept: at most once a second, so that a
    /// flood of new tokens cannot make every insert a walk of the map.
    swept: std::sync::Mutex<Option<Instant>>,
}

/// The least time between two sweeps of a full map.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::with_hasher(PassThrough)),
            ttl,
            capacity,
            swept: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn get(&self, key: &TokenHash, now: Instant) -> Option<V> {
        if self.capacity == 0 {
            return None;
        }
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            _ => None,
        }
    }

    /// Remembers `value` until the TTL passes. At capacity, expired entries are
    /// swept first; if the map is still full the value is not remembered (the
    /// next request verifies again), so a flood cannot grow the map.
    pub(crate) fn insert(&self, key: TokenHash, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        self.insert_until(key, value, now, now + self.ttl);
    }

    /// [`insert`](Self::insert), remembered until `expires` rather than for
    /// the cache's TTL.
    pub(crate) fn insert_until(&self, key: TokenHash, value: V, now: Instant, expires: Instant) {
        if self.capacity == 0 || expires <= now {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let mut swept = self.swept.lock().unwrap_or_else(PoisonError::into_inner);
            if swept.is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY) {
                return;
            }
            *swept = Some(now);
            drop(swept);
            map.retain(|_, (expires, _)| *expires > now);
            if map.len() >= self.capacity {
                return;
            }
        }
        map.insert(key, (expires, value));
    }

    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (_, value)| keep(value));
    }

    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
