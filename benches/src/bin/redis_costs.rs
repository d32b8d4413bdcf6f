//! What going distributed costs: decision latency (median, p99) in memory, on
//! a local redis-server and on a three-primary Redis Cluster, Redis calls per request in normal traffic and under
//! a one-address flood, and the reference server's requests per second with
//! and without Redis, in one run.
//!
//! Usage: `cargo run --release -p tower-claude-benches --bin redis_costs`
//! (needs `redis-server`; the run starts its own on a free port).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_claude_benches::redis_store::{client, decide, policy, stores};
use tower_claude_examples::config::{Rate, RedisOnFailure, ServerArgs};
use tower_claude_examples::web::reference_app;
use tower_claude_ratelimit::{ClientKey, Quota, RateLimitStore, RedisStore};
use tower_claude_testkit::redis::{RedisCluster, RedisServer};

const DECISIONS: u32 = 20_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn latencies<S: RateLimitStore>(store: &S, bucket: &S::Bucket) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(DECISIONS as usize);
    for n in 0..DECISIONS {
        let key = client(n);
        let started = Instant::now();
        std::hint::black_box(decide(store, bucket, &key).await);
        times.push(started.elapsed());
    }
    times.sort_unstable();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn server_args(redis_urls: Vec<String>) -> ServerArgs {
    ServerArgs {
        bind: None,
        password_hash: None,
        password: Some("bench".into()),
        rate_limit: Rate {
            count: 1_000_000_000,
            per: Duration::from_secs(1),
        },
        burst: None,
        max_clients: 1_000_000,
        trusted_proxies: Vec::new(),
        webhook_secret: None,
        webhook_url: None,
        allow_insecure_webhooks: false,
        notify_budget: Duration::from_secs(5),
        redis_urls,
        redis_on_failure: RedisOnFailure::Fallback,
    }
}

/// Requests per second against `/docs` (public, rate limited) with 32
/// concurrent keep-alive clients for three seconds.
async fn requests_per_second(addr: SocketAddr) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let done = Arc::clone(&done);
        tasks.spawn(async move {
            let client = tower_claude_testkit::http_client();
            while Instant::now() < deadline {
                let request = http::Request::get(format!("http://{addr}/docs"))
                    .body(http_body_util::Full::default())
                    .expect("a request");
                let response = client.request(request).await.expect("an answer");
                assert!(response.status().is_success(), "{}", response.status());
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    done.load(Ordering::Relaxed) as f64 / 3.0
}

/// Script calls on every node of `cluster`.
fn cluster_calls(cluster: &RedisCluster) -> u64 {
    cluster
        .nodes()
        .iter()
        .map(|node| node.command_calls("evalsha"))
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let redis = RedisServer::start();
    let (memory, shared) = stores(&redis.url());
    let policy = policy();
    let (m, r) = (memory.bucket(&policy), shared.bucket(&policy));
    // Warm both up (script load, connection).
    for n in 0..1000 {
        decide(&memory, &m, &client(n)).await;
        decide(&shared, &r, &client(n)).await;
    }
    let cluster = RedisCluster::start();
    let on_cluster = RedisStore::cluster_builder(cluster.urls())
        .build()
        .expect("cluster URLs");
    on_cluster
        .ping(Duration::from_secs(10))
        .await
        .expect("the cluster answers");
    let c = on_cluster.bucket(&policy);
    for n in 0..1000 {
        decide(&on_cluster, &c, &client(n)).await;
    }
    let (memory_median, memory_p99) = latencies(&memory, &m).await;
    let (redis_median, redis_p99) = latencies(&shared, &r).await;
    let cluster_calls_before = cluster_calls(&cluster);
    let (cluster_median, cluster_p99) = latencies(&on_cluster, &c).await;
    let cluster_calls =
        (cluster_calls(&cluster) - cluster_calls_before) as f64 / f64::from(DECISIONS);
    println!("decision latency, {DECISIONS} decisions over 10,000 clients:");
    println!("  memory:  median {memory_median:?}, p99 {memory_p99:?}");
    println!("  redis:   median {redis_median:?}, p99 {redis_p99:?}");
    println!(
        "  cluster: median {cluster_median:?}, p99 {cluster_p99:?} (three primaries; {cluster_calls:.3} script calls per decision)"
    );

    let before = redis.command_calls("evalsha");
    for n in 0..10_000 {
        decide(&shared, &r, &client(n)).await;
    }
    let normal = (redis.command_calls("evalsha") - before) as f64 / 10_000.0;
    let strict = tower_claude_ratelimit::PolicyInfo::new_for_tests("flood", Quota::per_minute(10));
    let flood_bucket = shared.bucket(&strict);
    let flooder = ClientKey::ip("203.0.113.66".parse().expect("an address"));
    let before = redis.command_calls("evalsha");
    for _ in 0..10_000 {
        decide(&shared, &flood_bucket, &flooder).await;
    }
    let flood = (redis.command_calls("evalsha") - before) as f64 / 10_000.0;
    println!(
        "Redis script calls per request: normal traffic {normal:.3}, one-address flood {flood:.4}"
    );

    let mut results = Vec::new();
    for (name, urls) in [("memory", Vec::new()), ("redis", vec![redis.url()])] {
        let app = reference_app(&server_args(urls)).expect("a reference app");
        let addr = tower_claude_testkit::serve_axum(app.router).await;
        results.push((name, requests_per_second(addr).await));
    }
    for (name, rps) in results {
        println!("reference server, GET /docs, 32 clients: {name}: {rps:.0} requests/s");
    }
}
