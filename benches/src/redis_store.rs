//! The Redis store against the in-memory one, on a real local `redis-server`.

use std::net::Ipv4Addr;

use tower_claude_ratelimit::{
    Check, ClientKey, Decision, MemoryStore, PolicyInfo, Quota, RateLimitStore, RedisStore,
};

/// The policy every decision runs under: generous, so normal traffic passes.
pub fn policy() -> PolicyInfo {
    PolicyInfo::new_for_tests("bench", Quota::per_second(1_000_000).burst(1_000))
}

/// Client `n` of a population that cycles.
pub fn client(n: u32) -> ClientKey {
    ClientKey::ip(Ipv4Addr::from(0x0a00_0000 + n % 10_000).into())
}

/// One decision.
pub async fn decide<S: RateLimitStore>(store: &S, bucket: &S::Bucket, key: &ClientKey) -> Decision {
    match store.check(bucket, key) {
        Check::Ready(answer) => answer.expect("a decision"),
        Check::Pending(future) => future.await.expect("a decision"),
    }
}

/// A memory store and a Redis store on `url`.
pub fn stores(url: &str) -> (MemoryStore, RedisStore) {
    let redis = RedisStore::builder(url).build().expect("a valid Redis URL");
    (MemoryStore::new(), redis)
}
