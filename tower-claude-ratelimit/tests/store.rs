//! The store trait from the outside: a store that answers later (as a network
//! store does) and one that fails.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::StatusCode;
use tower_claude_core::Clock;
use tower_claude_ratelimit::{
    Check, ClientKey, Decision, MemoryBucket, MemoryStore, PolicyInfo, Quota, RateLimitLayer,
    RateLimitStore, StoreError,
};

use support::{Harness, header};

const PEER: &str = "198.51.100.4:9";

type Answer = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

/// The in-memory store behind a yield, so every decision is `Check::Pending`.
#[derive(Clone)]
struct Later(MemoryStore);

impl RateLimitStore for Later {
    type Bucket = MemoryBucket;
    type Future = Answer;

    fn bucket(&self, policy: &PolicyInfo) -> MemoryBucket {
        self.0.bucket(policy)
    }

    fn check(&self, bucket: &MemoryBucket, key: &ClientKey) -> Check<Answer> {
        let decided = match self.0.check(bucket, key) {
            Check::Ready(result) => result,
            Check::Pending(_) => unreachable!("the memory store decides at once"),
        };
        Check::Pending(Box::pin(async move {
            tokio::task::yield_now().await;
            decided
        }))
    }
}

/// A store whose backend is down.
#[derive(Clone)]
struct Down;

impl RateLimitStore for Down {
    type Bucket = ();
    type Future = Answer;

    fn bucket(&self, _policy: &PolicyInfo) {}

    fn check(&self, _bucket: &(), _key: &ClientKey) -> Check<Answer> {
        Check::Pending(Box::pin(async {
            Err(StoreError::new(
                "connection refused",
                Duration::from_millis(1500),
            ))
        }))
    }
}

#[tokio::test]
async fn a_store_that_answers_later_gives_the_same_answers() {
    let clock = Clock::manual(Duration::ZERO);
    let store = Later(MemoryStore::builder().clock(clock.clone()).build());
    let harness = Harness::new(&RateLimitLayer::with_store(store, Quota::per_minute(2)));
    let first = harness.get(PEER, "/", &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.body().as_ref(), b"ok");
    assert_eq!(header(&first, "ratelimit"), r#""default";r=1;t=30"#);
    assert_eq!(harness.get(PEER, "/", &[]).await.status(), StatusCode::OK);
    let refused = harness.get(PEER, "/", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "30");
    clock.advance(Duration::from_secs(30));
    assert_eq!(harness.get(PEER, "/", &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_failing_store_is_a_503_with_retry_after() {
    let harness = Harness::new(&RateLimitLayer::with_store(Down, Quota::per_minute(2)));
    let reply = harness.get(PEER, "/", &[]).await;
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&reply, "retry-after"), "2", "1.5 s rounded up");
    let body = std::str::from_utf8(reply.body()).unwrap();
    assert!(
        body.contains(r#""code":"rate_limit_unavailable""#),
        "{body}"
    );
    assert!(
        !body.contains("connection refused"),
        "backend details stay in the log"
    );
}
