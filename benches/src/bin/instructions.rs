//! Runs one benchmark scenario N times, for `valgrind --tool=callgrind`.
//!
//! Instruction counts repeat exactly from run to run, unlike wall time on a
//! shared machine. `benches/instructions.sh` runs each scenario at two counts and
//! reports the difference per call, which cancels start-up and warm-up.
//!
//! Usage: `instructions <group> <scenario> <iterations>`; groups: auth, headers,
//! ratelimit, stack. Built with `--features metrics`, the layers record into a
//! Prometheus recorder.

use std::process::ExitCode;

use tower_claude_benches::{BenchService, Body, auth, headers, ratelimit, run, stack};

async fn service(
    group: &str,
    scenario: &str,
) -> Option<(BenchService, fn(&str) -> http::Request<Body>)> {
    match group {
        "auth" => Some((auth::service(scenario).await, auth::scenario_request)),
        "headers" => Some((headers::service(scenario).await, headers::scenario_request)),
        "ratelimit" => Some((
            ratelimit::service(scenario).await,
            ratelimit::scenario_request,
        )),
        "stack" => Some((stack::service(scenario).await, stack::scenario_request)),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [group, scenario, iterations] = args.as_slice() else {
        eprintln!(
            "usage: instructions <group> <scenario> <iterations>\n  auth: {:?}\n  headers: {:?}\n  ratelimit: {:?}\n  stack: {:?}",
            auth::SCENARIOS,
            headers::SCENARIOS,
            ratelimit::SCENARIOS,
            stack::SCENARIOS
        );
        return ExitCode::FAILURE;
    };
    let Ok(iterations) = iterations.parse::<u64>() else {
        eprintln!("iterations must be a number");
        return ExitCode::FAILURE;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    // Built with `--features metrics`, the layers record into the exporter
    // the programs use, as they would in production.
    #[cfg(feature = "metrics")]
    if let Err(error) = tower_claude_examples::observe::recorder() {
        eprintln!("{error}");
        return ExitCode::FAILURE;
    }
    runtime.block_on(async {
        let Some((mut service, request)) = service(group, scenario).await else {
            eprintln!("unknown group {group}");
            return ExitCode::FAILURE;
        };
        for _ in 0..iterations {
            std::hint::black_box(run(&mut service, request(scenario)).await);
        }
        ExitCode::SUCCESS
    })
}
