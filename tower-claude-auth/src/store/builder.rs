//! Tuning a key store: cache lifetimes and sizes, bcrypt workers and queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::{Inner, KeyStore};
use crate::bcrypt_pool::BcryptPool;
use crate::cache::TtlCache;
use crate::keyed_hash::{PassThrough, TokenHasher};

/// Tuning for a [`KeyStore`].
#[derive(Debug, Clone)]
pub struct KeyStoreBuilder {
    cache_ttl: Duration,
    cache_capacity: usize,
    failure_ttl: Duration,
    failure_capacity: usize,
    bcrypt_workers: usize,
    bcrypt_queue: Option<usize>,
}

impl Default for KeyStoreBuilder {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            failure_ttl: Duration::from_secs(10),
            failure_capacity: 10_000,
            bcrypt_workers: std::thread::available_parallelism().map_or(1, usize::from),
            bcrypt_queue: None,
        }
    }
}

impl KeyStoreBuilder {
    /// How long a verified bcrypt token is remembered. Default 5 minutes; zero
    /// turns the cache off.
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many verified tokens are remembered at most. Default 10,000.
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long a wrong bcrypt token is remembered, so that repeating it costs
    /// no bcrypt. Default 10 seconds.
    #[must_use]
    pub fn failure_ttl(mut self, ttl: Duration) -> Self {
        self.failure_ttl = ttl;
        self
    }

    /// How many wrong tokens are remembered at most. Default 10,000.
    #[must_use]
    pub fn failure_capacity(mut self, capacity: usize) -> Self {
        self.failure_capacity = capacity;
        self
    }

    /// How many bcrypt runs at once. Default: the CPU count.
    #[must_use]
    pub fn bcrypt_workers(mut self, workers: usize) -> Self {
        self.bcrypt_workers = workers.max(1);
        self
    }

    /// How many bcrypt runs may wait for a worker before requests get a 503.
    /// Default: 4 per worker.
    #[must_use]
    pub fn bcrypt_queue(mut self, queue: usize) -> Self {
        self.bcrypt_queue = Some(queue);
        self
    }

    /// An empty store with this tuning.
    pub fn build(self) -> KeyStore {
        let queue = self.bcrypt_queue.unwrap_or(self.bcrypt_workers * 4);
        KeyStore {
            inner: Arc::new(Inner {
                keys: RwLock::default(),
                hasher: TokenHasher::random(),
                valid: TtlCache::new(self.cache_ttl, self.cache_capacity),
                invalid: TtlCache::new(self.failure_ttl, self.failure_capacity),
                in_flight: Mutex::new(HashMap::with_hasher(PassThrough)),
                pool: BcryptPool::new(self.bcrypt_workers, queue),
            }),
        }
    }
}
