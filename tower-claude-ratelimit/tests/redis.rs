//! The Redis store against a real `redis-server` (started by the testkit on a
//! free loopback port): shared quotas, parity with memory, faults, memory,
//! the local deny cache and a three-node cluster.
#![cfg(feature = "redis")]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::{Router, routing::get as route_get};
use http::StatusCode;
use tower_claude_ratelimit::{
    Check, ClientKey, Decision, OnRedisFailure, PolicyInfo, Quota, RateLimitLayer, RateLimitStore,
    RedisStore,
};
use tower_claude_testkit::redis::{RedisCluster, RedisServer};
use tower_claude_testkit::{get, serve_axum};

async fn serve(store: RedisStore, quota: Quota) -> SocketAddr {
    let app = Router::new()
        .route("/", route_get(|| async { "ok" }))
        .layer(RateLimitLayer::with_store(store, quota));
    serve_axum(app).await
}

/// A store for tests of behaviour, not of timing: a timeout far above the
/// 50 ms default, so that a busy machine (100,000 calls on one connection with
/// both cores taken) does not turn slow answers into failures (issue 13, item
/// 16). Tests of the timeout set their own.
fn store(redis: &RedisServer) -> RedisStore {
    RedisStore::builder(redis.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn decide<S: RateLimitStore>(store: &S, bucket: &S::Bucket, key: &ClientKey) -> Decision {
    match store.check(bucket, key) {
        Check::Ready(answer) => answer.unwrap(),
        Check::Pending(future) => future.await.unwrap(),
    }
}

#[tokio::test]
async fn two_instances_on_one_redis_share_the_quota() {
    let redis = RedisServer::start();
    let quota = Quota::per_hour(10);
    let a = serve(store(&redis), quota).await;
    let b = serve(store(&redis), quota).await;
    let mut admitted = Vec::new();
    for n in 0..30 {
        let reply = get(if n % 2 == 0 { a } else { b }, "/", &[]).await;
        if reply.status == StatusCode::OK {
            admitted.push(
                reply.headers["x-ratelimit-remaining"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
        } else {
            assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(reply.headers["retry-after"], "360");
            assert_eq!(
                reply.headers["ratelimit-policy"],
                r#""default";q=10;w=3600"#
            );
        }
    }
    assert_eq!(admitted, ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]);
}

#[tokio::test]
async fn when_redis_stops_each_policy_does_what_it_says_and_limiting_resumes() {
    let mut redis = RedisServer::start();
    let quota = Quota::per_minute(3);
    let build = |on_failure| {
        RedisStore::builder(redis.url())
            .on_failure(on_failure)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };
    let (open, closed, fallback) = (
        build(OnRedisFailure::Allow),
        build(OnRedisFailure::Refuse),
        build(OnRedisFailure::Fallback),
    );
    let (open_addr, closed_addr, fallback_addr) = (
        serve(open.clone(), quota).await,
        serve(closed.clone(), quota).await,
        serve(fallback.clone(), quota).await,
    );
    for addr in [open_addr, closed_addr, fallback_addr] {
        assert_eq!(get(addr, "/", &[]).await.status, StatusCode::OK, "Redis up");
    }

    redis.stop();
    let statuses = |addr| async move {
        let mut all = Vec::new();
        for _ in 0..5 {
            all.push(get(addr, "/", &[]).await.status);
        }
        all
    };
    assert_eq!(statuses(open_addr).await, [StatusCode::OK; 5], "fail open");
    assert!(open.stats().failed_open >= 5);
    let refused = get(closed_addr, "/", &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "fail closed"
    );
    assert_eq!(refused.headers["retry-after"], "1");
    let local = statuses(fallback_addr).await;
    assert_eq!(
        local,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "the in-memory fallback limits with the same quota"
    );

    redis.restart();
    let calls_before = closed.stats().calls;
    let errors_before = closed.stats().errors;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get(closed_addr, "/", &[]).await.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "Redis limiting did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed.stats().calls > calls_before);
    let errors_after = closed.stats().errors;
    assert_eq!(get(closed_addr, "/", &[]).await.status, StatusCode::OK);
    assert_eq!(
        closed.stats().errors,
        errors_after,
        "no more errors once reconnected"
    );
    assert!(errors_after >= errors_before);
    assert!(
        redis.cli_text(&["DBSIZE"]).parse::<u64>().unwrap() >= 1,
        "buckets in Redis again"
    );
}

#[tokio::test]
async fn a_tonic_client_sees_unavailable_when_failing_closed() {
    use tonic_health::pb::HealthCheckRequest;

    let mut redis = RedisServer::start();
    let layer = RateLimitLayer::with_store(
        RedisStore::builder(redis.url())
            .on_failure(OnRedisFailure::Refuse)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
        Quota::per_minute(100),
    );
    let (_, mut client) = tower_claude_testkit::grpc::serve_health(layer).await;
    assert!(client.check(HealthCheckRequest::default()).await.is_ok());
    redis.stop();
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn a_stalled_redis_costs_no_more_than_the_timeout() {
    let redis = RedisServer::start();
    let timeout = Duration::from_millis(50);
    let store = RedisStore::builder(redis.url())
        .timeout(timeout)
        .on_failure(OnRedisFailure::Allow)
        .build()
        .unwrap();
    let addr = serve(store.clone(), Quota::per_minute(100)).await;
    assert_eq!(get(addr, "/", &[]).await.status, StatusCode::OK);
    // Stall every client of this Redis for two seconds.
    assert_eq!(redis.cli_text(&["CLIENT", "PAUSE", "2000", "ALL"]), "OK");
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(
            get(addr, "/", &[]).await.status,
            StatusCode::OK,
            "fail open"
        );
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < timeout + Duration::from_millis(450),
        "a request waited {slowest:?} with a {timeout:?} timeout"
    );
    assert!(store.stats().errors >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_memory_follows_the_active_clients() {
    let redis = RedisServer::start();
    let store = store(&redis);
    // Buckets refill within 200 ms, so each key lives at most that long.
    let policy = PolicyInfo::new_for_tests("short", Quota::per_second(10).burst(2));
    let bucket = store.bucket(&policy);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..50u32 {
        let (store, bucket) = (store.clone(), bucket.clone());
        tasks.spawn(async move {
            for n in 0..2_000u32 {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + task * 2_000 + n);
                decide(&store, &bucket, &ClientKey::ip(ip.into())).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(store.stats().errors, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let keys: u64 = redis.cli_text(&["DBSIZE"]).parse().unwrap();
        if keys <= 100 {
            break;
        }
        assert!(Instant::now() < deadline, "{keys} keys left after 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_flood_from_one_limited_address_barely_reaches_redis() {
    let redis = RedisServer::start();
    let store = store(&redis);
    let addr = serve(store.clone(), Quota::per_minute(5)).await;
    for _ in 0..5 {
        assert_eq!(get(addr, "/", &[]).await.status, StatusCode::OK);
    }
    let before = redis.command_calls("evalsha");
    for _ in 0..1000 {
        assert_eq!(
            get(addr, "/", &[]).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let calls = redis.command_calls("evalsha") - before;
    assert!(calls <= 3, "{calls} script calls for 1000 refused requests");
    assert!(store.stats().local_denials >= 997);
}

#[tokio::test]
async fn a_three_node_cluster_gives_the_same_counts() {
    let cluster = RedisCluster::start();
    let store = RedisStore::cluster_builder(cluster.urls()).build().unwrap();
    // It connects in the background: the first answers would otherwise come
    // from the failure policy.
    store.ping(Duration::from_secs(10)).await.unwrap();
    let policy = PolicyInfo::new_for_tests("cluster", Quota::per_minute(7));
    let bucket = store.bucket(&policy);
    for n in 0..60u32 {
        let key = ClientKey::ip(std::net::Ipv4Addr::from(0xc000_0200 + n).into());
        let mut admitted = 0;
        for _ in 0..10 {
            if decide(&store, &bucket, &key).await.is_allowed() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 7, "client {n}");
    }
    let per_node: Vec<u64> = cluster
        .nodes()
        .iter()
        .map(|node| node.cli_text(&["DBSIZE"]).parse().unwrap())
        .collect();
    assert_eq!(per_node.iter().sum::<u64>(), 60, "{per_node:?}");
    assert!(
        per_node.iter().all(|&keys| keys > 0),
        "keys spread over the nodes: {per_node:?}"
    );
}

#[test]
fn the_shared_helper_stops_its_server() {
    let redis = RedisServer::start();
    let port = redis.port();
    drop(redis);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let error = RedisStore::builder("redis://127.0.0.1:1/")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("Tokio runtime"), "{error}");
    assert!(RedisStore::builder("not a url").build().is_err());
}

#[tokio::test]
async fn layers_with_one_policy_name_but_different_quotas_do_not_share_buckets() {
    let redis = RedisServer::start();
    let shared = store(&redis);
    let lenient = serve(shared.clone(), Quota::per_second(100)).await;
    let strict = serve(shared, Quota::per_hour(1)).await;
    assert_eq!(get(strict, "/", &[]).await.status, StatusCode::OK);
    assert_eq!(
        get(strict, "/", &[]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        get(lenient, "/", &[]).await.status,
        StatusCode::OK,
        "the strict layer's bucket is not the lenient one's"
    );
}
