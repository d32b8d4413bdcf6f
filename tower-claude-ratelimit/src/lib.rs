#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod decision;
mod error;
mod future;
mod headers;
mod key;
mod layer;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod plan;
mod quota;
mod service;
mod store;

pub use audit::AUDIT_TARGET;
pub use decision::{Decision, NewTat};
pub use error::RateLimitConfigError;
pub use future::ResponseFuture;
pub use headers::RateLimitHeaders;
pub use key::{ClientKey, HeaderKey, KeyExtractor, KeyInput};
pub use layer::RateLimitLayer;
pub use quota::Quota;
pub use service::RateLimit;
pub use store::{
    AtCapacity, Check, MemoryBucket, MemoryStore, MemoryStoreBuilder, PolicyInfo, RateLimitStore,
    StoreError,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::{
    GCRA_SCRIPT, OnRedisFailure, RedisBucket, RedisClusterBuilder, RedisStats, RedisStore,
    RedisStoreBuilder, RedisStoreError,
};
