//! Each layer against the peers a user would pick instead, in one run.
//!
//! `cargo bench -p tower-claude-benches --bench layers -- auth` (or `headers`,
//! `ratelimit`, `webhook`)
//! runs one group.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use tower_claude_benches::{
    BenchService, Body, auth, headers, ratelimit, redis_store, run, stack, webhook,
};
use tower_claude_ratelimit::RateLimitStore;

fn group<F>(
    c: &mut Criterion,
    name: &str,
    scenarios: &[&str],
    service: F,
    request: fn(&str) -> Request<Body>,
) where
    F: AsyncFn(&str) -> BenchService,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group(name);
    for &scenario in scenarios {
        let mut service = runtime.block_on(service(scenario));
        group.bench_function(scenario, |b| {
            b.iter(|| runtime.block_on(run(&mut service, request(scenario))))
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    group(
        c,
        "auth",
        &auth::SCENARIOS,
        auth::service,
        auth::scenario_request,
    );
    group(
        c,
        "headers",
        &headers::SCENARIOS,
        headers::service,
        headers::scenario_request,
    );
    group(
        c,
        "ratelimit",
        &ratelimit::SCENARIOS,
        ratelimit::service,
        ratelimit::scenario_request,
    );
    group(
        c,
        "stack",
        &stack::SCENARIOS,
        stack::service,
        stack::scenario_request,
    );
}

/// Signing throughput, ours next to plain `hmac` + `sha2` on the same bodies.
fn signing(c: &mut Criterion) {
    for size in webhook::SIZES {
        let body = webhook::body(size);
        let mut group = c.benchmark_group(format!("webhook/{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("plain-hmac", |b| b.iter(|| webhook::plain_hmac(&body)));
        group.bench_function("plain-hmac-both", |b| {
            b.iter(|| webhook::plain_hmac_both(&body))
        });
        for scenario in ["x-webhook-256", "x-webhook", "standard"] {
            let signer = webhook::signer(scenario);
            group.bench_function(format!("ours-{scenario}"), |b| {
                b.iter(|| signer.sign("msg_bench", webhook::TIMESTAMP, &body))
            });
        }
        group.finish();
    }
}

/// One rate-limit decision in memory and on a local redis-server, in one run.
fn redis_decisions(c: &mut Criterion) {
    let redis = tower_claude_testkit::redis::RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (memory, shared) = {
        let _inside = runtime.enter();
        redis_store::stores(&redis.url())
    };
    let policy = redis_store::policy();
    let (m, r) = (memory.bucket(&policy), shared.bucket(&policy));
    let mut group = c.benchmark_group("ratelimit-store");
    let mut n = 0u32;
    group.bench_function("memory", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            runtime.block_on(redis_store::decide(&memory, &m, &redis_store::client(n)))
        })
    });
    group.bench_function("redis", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            runtime.block_on(redis_store::decide(&shared, &r, &redis_store::client(n)))
        })
    });
    group.finish();
}

criterion_group!(benches, bench, signing, redis_decisions);
criterion_main!(benches);
