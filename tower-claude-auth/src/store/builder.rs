//! Tuning a key store: cache lifetimes and sizes, bcrypt workers and queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::{Inner, KeyStore};
use crate::bcrypt_pool::BcryptPool;
use crate::cache::TtlCache;
use crate::fair::Limits;
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
    bcrypt_queue_per_client: usize,
    failing_client_period: Duration,
}

/// Clients with a recent failed verification remembered at most; past it the
/// oldest mark is forgotten (a spray of addresses cannot grow it).
const MAX_FAILING_CLIENTS: usize = 100_000;

/// bcrypt workers by default: one fewer than the cores, at least one, so that
/// bcrypt never takes the core the async executor needs to answer public
/// routes and cached tokens.
fn default_bcrypt_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_sub(1)
        .max(1)
}

impl Default for KeyStoreBuilder {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            failure_ttl: Duration::from_secs(10),
            failure_capacity: 10_000,
            bcrypt_workers: default_bcrypt_workers(),
            bcrypt_queue: None,
            bcrypt_queue_per_client: 2,
            failing_client_period: Duration::from_secs(60),
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

    /// How many bcrypt runs at once. Default: one fewer than the CPU count,
    /// at least one, so the async executor keeps a core.
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

    /// How many bcrypt runs one client may have waiting (default 2); past
    /// that its requests get a fast 503.
    #[must_use]
    pub fn bcrypt_queue_per_client(mut self, queue: usize) -> Self {
        self.bcrypt_queue_per_client = queue;
        self
    }

    /// How long a client whose bcrypt verification failed waits behind the
    /// clients whose did not (default 1 minute). Clients take turns either
    /// way; a failing client gets what the others leave.
    #[must_use]
    pub fn failing_client_period(mut self, period: Duration) -> Self {
        self.failing_client_period = period;
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
                pool: BcryptPool::new(Limits {
                    workers: self.bcrypt_workers,
                    max_queued: queue,
                    per_client: self.bcrypt_queue_per_client,
                    suspect_for: self.failing_client_period,
                    max_suspects: MAX_FAILING_CLIENTS,
                }),
            }),
        }
    }
}
