//! The Redis store gives the memory store's decisions for the same request
//! sequence: a worked example, and random ones (proptest against a real
//! `redis-server`, run by CI).
#![cfg(feature = "redis")]

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower_claude_core::Clock;
use tower_claude_ratelimit::{
    Check, ClientKey, Decision, MemoryStore, PolicyInfo, Quota, RateLimitStore, RedisStore,
};
use tower_claude_testkit::redis::RedisServer;

async fn decide<S: RateLimitStore>(store: &S, bucket: &S::Bucket, key: &ClientKey) -> Decision {
    match store.check(bucket, key) {
        Check::Ready(answer) => answer.unwrap(),
        Check::Pending(future) => future.await.unwrap(),
    }
}

/// A memory store and a Redis store on one fake clock (Redis is given the
/// clock's time rather than its own `TIME`), with a timeout for a busy machine.
fn stores(redis: &RedisServer, clock: &Clock) -> (MemoryStore, RedisStore) {
    let memory = MemoryStore::builder().clock(clock.clone()).build();
    let shared = RedisStore::builder(redis.url())
        .clock(clock.clone())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (memory, shared)
}

#[tokio::test]
async fn the_redis_store_answers_exactly_as_the_memory_store() {
    let redis = RedisServer::start();
    let clock = Clock::manual(Duration::ZERO);
    let (memory, shared) = stores(&redis, &clock);
    // 4 per second in bursts of 3: 250 ms a token, whole microseconds.
    let policy = PolicyInfo::new_for_tests("parity", Quota::per_second(4).burst(3));
    let (m, r) = (memory.bucket(&policy), shared.bucket(&policy));
    let key = ClientKey::ip("198.51.100.20".parse().unwrap());
    let steps: [(u64, usize); 8] = [
        (0, 5),
        (100, 2),
        (150, 2),
        (1000, 4),
        (249, 1),
        (1, 1),
        (30, 3),
        (5000, 4),
    ];
    for (advance_ms, requests) in steps {
        clock.advance(Duration::from_millis(advance_ms));
        for _ in 0..requests {
            let expected = decide(&memory, &m, &key).await;
            let actual = decide(&shared, &r, &key).await;
            assert_eq!(actual, expected, "after +{advance_ms} ms");
        }
    }
}

#[test]
fn memory_and_redis_decide_alike_on_random_sequences() {
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let strategy = (
        // Whole microseconds a token (Redis keeps microseconds), 2 s to 10 s:
        // a Redis key expires by Redis's own clock after at least one token's
        // time, which must stay longer than a case takes on a busy machine,
        // or Redis would forget a bucket the fake clock still holds.
        2_000_000u64..10_000_000,
        1u32..200,
        1u32..20,
        prop::collection::vec((0u64..20_000_000, 1u8..6), 1..25),
    );
    let mut runner = TestRunner::new(Config::with_cases(48));
    let case = std::sync::atomic::AtomicU32::new(0);
    let compared = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&strategy, |(interval_us, count, burst, steps)| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let window = Duration::from_micros(interval_us * u64::from(count));
            let Ok(quota) = Quota::try_new(count, window).and_then(|q| q.try_burst(burst)) else {
                return Ok(());
            };
            runtime.block_on(async {
                let clock = Clock::manual(Duration::ZERO);
                let (memory, shared) = stores(&redis, &clock);
                let policy = PolicyInfo::new_for_tests(&format!("parity-{case}"), quota);
                let (m, r) = (memory.bucket(&policy), shared.bucket(&policy));
                let key = ClientKey::ip("198.51.100.20".parse().unwrap());
                for (advance_us, requests) in steps {
                    clock.advance(Duration::from_micros(advance_us));
                    for _ in 0..requests {
                        let expected = decide(&memory, &m, &key).await;
                        let actual = decide(&shared, &r, &key).await;
                        prop_assert_eq!(actual, expected, "{:?} after +{} µs", quota, advance_us);
                        compared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    let compared = compared.into_inner();
    assert!(compared > 200, "only {compared} decisions compared");
}
