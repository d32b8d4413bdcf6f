//! Remembering what was received: the [`ReplayCache`] a
//! [`Verifier`](crate::verify::Verifier) refuses replays and acknowledges
//! duplicates with, in memory or (feature `redis`) in Redis for every instance.

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::{MemoryReplayCache, ReplayCache, ReplayCacheError, ReplayFuture};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{
    OnReplayCacheFailure, RedisReplayCache, RedisReplayCacheBuilder, RedisReplayStats,
};
