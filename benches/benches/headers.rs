//! Security headers against seven tower-http `SetResponseHeaderLayer`s and http-security-headers, in one run.

use criterion::{Criterion, criterion_group, criterion_main};
use tower_claude_benches::{headers, run};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("headers");
    for scenario in headers::SCENARIOS {
        let mut service = runtime.block_on(headers::service(scenario));
        group.bench_function(scenario, |b| {
            b.iter(|| runtime.block_on(run(&mut service, headers::scenario_request(scenario))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
