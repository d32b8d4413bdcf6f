//! Bearer auth against tower-http's `ValidateRequestHeaderLayer::bearer`, in one run.

use criterion::{Criterion, criterion_group, criterion_main};
use tower_claude_benches::{auth, run};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("auth");
    for scenario in auth::SCENARIOS {
        let mut service = runtime.block_on(auth::service(scenario));
        group.bench_function(scenario, |b| {
            b.iter(|| runtime.block_on(run(&mut service, auth::scenario_request(scenario))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
