//! Each layer against the peers a user would pick instead, in one run.
//!
//! `cargo bench -p tower-claude-benches --bench layers -- auth` (or `headers`, `ratelimit`)
//! runs one group.

use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower_claude_benches::{BenchService, Body, auth, headers, ratelimit, run};

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
