//! One store type for a server that keeps its buckets in memory or in Redis,
//! chosen at start-up.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tower_claude_ratelimit::{
    Check, ClientKey, Decision, MemoryBucket, MemoryStore, PolicyInfo, RateLimitStore, RedisBucket,
    RedisStore, StoreError,
};

/// The in-memory store, or Redis with `--redis-url`.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// Per instance.
    Memory(MemoryStore),
    /// Shared by every instance on the same Redis.
    Redis(RedisStore),
}

/// The bucket of an [`AnyStore`].
#[derive(Debug, Clone)]
pub enum AnyBucket {
    /// In memory.
    Memory(MemoryBucket),
    /// In Redis.
    Redis(RedisBucket),
}

type Answer = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

impl RateLimitStore for AnyStore {
    type Bucket = AnyBucket;
    type Future = Answer;

    fn kind(&self) -> &'static str {
        match self {
            Self::Memory(store) => store.kind(),
            Self::Redis(store) => store.kind(),
        }
    }

    fn bucket(&self, policy: &PolicyInfo) -> AnyBucket {
        match self {
            Self::Memory(store) => AnyBucket::Memory(store.bucket(policy)),
            Self::Redis(store) => AnyBucket::Redis(store.bucket(policy)),
        }
    }

    fn check(&self, bucket: &AnyBucket, key: &ClientKey) -> Check<Answer> {
        match (self, bucket) {
            // The in-memory store answers at once: no box on its path.
            (Self::Memory(store), AnyBucket::Memory(bucket)) => match store.check(bucket, key) {
                Check::Ready(answer) => Check::Ready(answer),
                Check::Pending(future) => Check::Pending(Box::pin(future)),
            },
            (Self::Redis(store), AnyBucket::Redis(bucket)) => store.check(bucket, key),
            _ => Check::Ready(Err(StoreError::new(
                "a bucket of one store was checked against another",
                Duration::from_secs(1),
            ))),
        }
    }
}
