//! Runs one benchmark scenario N times, for `valgrind --tool=callgrind`.
//!
//! Instruction counts repeat exactly from run to run, unlike wall time on a
//! shared machine. `benches/instructions.sh` runs each scenario at two counts and
//! reports the difference per call, which cancels start-up and warm-up.
//!
//! Usage: `instructions <scenario> <iterations>`.

use std::process::ExitCode;

use tower_claude_benches::auth;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(scenario), Some(iterations)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: instructions <scenario> <iterations>; scenarios: {:?}",
            auth::SCENARIOS
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
    runtime.block_on(async {
        let mut service = auth::service(&scenario).await;
        for _ in 0..iterations {
            let status = auth::run(&mut service, &scenario).await;
            std::hint::black_box(status);
        }
    });
    ExitCode::SUCCESS
}
