//! Settings of a Redis store, for a single Redis or for a Redis Cluster.
//!
//! The two are different types, so that a cluster's settings can only build
//! a cluster connection (a single-node `build` on cluster URLs would quietly
//! talk to one node).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use dashmap::DashMap;
use tower_claude_core::redis::{LuaScript, RedisConnection};
use tower_claude_core::{Clock, WarnOnce, redact_url, redact_urls};

use super::{Counters, GCRA_SCRIPT, Inner, OnRedisFailure, RedisStore};
use crate::store::memory::MemoryStore;
use crate::store::time::Time;

/// A [`RedisStore`] could not be made.
#[derive(Debug)]
pub struct RedisStoreError(pub(super) String);

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisStoreError {}

/// What both kinds of store are tuned with.
#[derive(Clone)]
struct Settings {
    prefix: String,
    timeout: Duration,
    on_failure: OnRedisFailure,
    injected: Option<Time>,
    deny_capacity: usize,
}

/// Settings of a [`RedisStore`] on a single Redis, from
/// [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    settings: Settings,
}

/// Settings of a [`RedisStore`] on a Redis Cluster, from
/// [`RedisStore::cluster_builder`]: the same settings as
/// [`RedisStoreBuilder`].
pub struct RedisClusterBuilder {
    urls: Vec<String>,
    settings: Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prefix: "tcrl:".into(),
            timeout: Duration::from_millis(50),
            on_failure: OnRedisFailure::default(),
            injected: None,
            deny_capacity: 100_000,
        }
    }
}

/// The setters both builders share, written once.
macro_rules! settings {
    ($builder:ty) => {
        impl $builder {
            /// The key prefix (default `tcrl:`).
            #[must_use]
            pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
                self.settings.prefix = prefix.into();
                self
            }

            /// The longest a decision may wait for Redis (default 50 ms)
            /// before the failure policy applies.
            #[must_use]
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.settings.timeout = timeout;
                self
            }

            /// What to do when Redis fails (default
            /// [`OnRedisFailure::Fallback`]).
            #[must_use]
            pub fn on_failure(mut self, on_failure: OnRedisFailure) -> Self {
                self.settings.on_failure = on_failure;
                self
            }

            /// Passes time from `clock` to the script instead of Redis `TIME`,
            /// so a test can compare this store with [`MemoryStore`] step by
            /// step.
            #[must_use]
            pub fn clock(mut self, clock: Clock) -> Self {
                self.settings.injected = Some(Time::from_clock(clock));
                self
            }

            /// The most keys the local deny cache holds (default 100,000).
            #[must_use]
            pub fn deny_cache_capacity(mut self, capacity: usize) -> Self {
                self.settings.deny_capacity = capacity;
                self
            }
        }
    };
}

settings!(RedisStoreBuilder);
settings!(RedisClusterBuilder);

impl RedisStoreBuilder {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            settings: Settings::default(),
        }
    }

    /// A store on a single Redis. It connects on first use and reconnects by
    /// itself; Redis need not be up yet.
    ///
    /// # Errors
    /// An invalid URL, or no Tokio runtime to run the connection on (call it
    /// inside the runtime, as from `#[tokio::main]`).
    pub fn build(self) -> Result<RedisStore, RedisStoreError> {
        let connection = RedisConnection::single(&self.url, self.settings.response_timeout())
            .map_err(|e| RedisStoreError(e.to_string()))?;
        Ok(self.settings.finish(connection))
    }
}

impl RedisClusterBuilder {
    pub(super) fn new(urls: Vec<String>) -> Self {
        Self {
            urls,
            settings: Settings::default(),
        }
    }

    /// A store on the cluster. Like [`RedisStoreBuilder::build`], it
    /// connects in the background and reconnects by itself: the cluster need
    /// not be up yet, and a node that dies, a replica promoted in its place
    /// and slots that move are found again without a restart (meanwhile the
    /// failure policy answers).
    ///
    /// # Errors
    /// An invalid URL, no URL, or no Tokio runtime to run the connection on.
    pub fn build(self) -> Result<RedisStore, RedisStoreError> {
        let connection = RedisConnection::cluster(&self.urls, self.settings.response_timeout())
            .map_err(|e| RedisStoreError(e.to_string()))?;
        Ok(self.settings.finish(connection))
    }
}

impl Settings {
    fn response_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_millis(10))
    }

    fn finish(self, connection: RedisConnection) -> RedisStore {
        let local = self.injected.clone().unwrap_or_else(Time::quanta);
        let fallback = match &self.injected {
            Some(time) => MemoryStore::builder().time(time.clone()).build(),
            None => MemoryStore::new(),
        };
        RedisStore {
            inner: Arc::new(Inner {
                connection,
                script: LuaScript::new(GCRA_SCRIPT),
                prefix: self.prefix.into(),
                timeout: self.timeout,
                on_failure: self.on_failure,
                fallback,
                injected: self.injected,
                local,
                denied: DashMap::with_hasher(foldhash::quality::RandomState::default()),
                deny_capacity: self.deny_capacity,
                deny_swept_at: AtomicU64::new(0),
                stats: Counters::default(),
                warn: WarnOnce::new(Duration::from_secs(10)),
            }),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &redact_url(&self.url))
            .field("settings", &self.settings)
            .finish()
    }
}

impl fmt::Debug for RedisClusterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClusterBuilder")
            .field("urls", &redact_urls(&self.urls))
            .field("settings", &self.settings)
            .finish()
    }
}
