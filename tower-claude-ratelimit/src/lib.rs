//! Per-client token-bucket rate limiting for Tower services, that holds under
//! attack.
//!
//! [`RateLimitLayer`] gives every client a bucket of a [`Quota`] (GCRA, as in
//! `governor`), keyed by the address that [`ClientIpResolver`] resolves: the
//! peer, or behind [trusted proxies](RateLimitLayer::trusted_proxies) the
//! forwarded client, never an address a client merely claims. IPv6 clients are
//! grouped by `/64`. Refusals are 429 with `Retry-After` (gRPC:
//! `RESOURCE_EXHAUSTED`), every limited response carries the IETF `RateLimit`
//! fields and the legacy `X-RateLimit-*` trio, and memory stays bounded: idle
//! clients are swept inside requests and the store tracks at most
//! [`max_keys`](MemoryStoreBuilder::max_keys) of them.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_claude_ratelimit::{Quota, RateLimitLayer};
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(RateLimitLayer::per_ip(Quota::per_minute(100)).exempt_paths(["/health"]));
//! // Serve it with connect info, so the layer sees the peer address:
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//! ```
//!
//! [`ClientIpResolver`]: tower_claude_core::ClientIpResolver
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod decision;
mod error;
mod future;
mod headers;
mod key;
mod layer;
mod quota;
mod service;
mod store;

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
pub use store::{
    GCRA_SCRIPT, OnRedisFailure, RedisBucket, RedisStats, RedisStore, RedisStoreBuilder,
    RedisStoreError,
};

/// The clocks a [`MemoryStore`] can read, re-exported from `governor`.
pub mod clock {
    pub use governor::clock::{Clock, FakeRelativeClock, QuantaClock};
}
