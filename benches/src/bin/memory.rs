//! Resident memory per tracked client: a million distinct addresses through one
//! rate-limit scenario, and the growth of this process's resident set divided by
//! the count. One process per scenario, so no run sees another's memory.
//!
//! Usage: `memory <scenario> [clients]`, scenarios: ours, tower-governor,
//! axum-governor (`ratelimit` group names).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use tower_claude_benches::{drive, ratelimit};

fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (scenario, clients) = match args.as_slice() {
        [scenario] => (scenario.as_str(), 1_000_000u32),
        [scenario, n] => match n.parse() {
            Ok(n) => (scenario.as_str(), n),
            Err(_) => {
                eprintln!("clients must be a number");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: memory <ours|tower-governor|axum-governor> [clients]");
            return ExitCode::FAILURE;
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let mut service = ratelimit::service(scenario).await;
        // Warm up allocator and runtime with one client, then measure the rest.
        drive(
            &mut service,
            ratelimit::request_from(Ipv4Addr::new(192, 0, 2, 1)),
        )
        .await;
        let Some(before) = resident_bytes() else {
            eprintln!("needs /proc/self/status (Linux)");
            return ExitCode::FAILURE;
        };
        for n in 0..clients {
            let ip = Ipv4Addr::from(0x0b00_0000 + n);
            drive(&mut service, ratelimit::request_from(ip)).await;
        }
        let after = resident_bytes().unwrap_or(before);
        let grown = after.saturating_sub(before);
        println!(
            "{scenario}: {clients} clients, resident memory +{grown} bytes, {:.1} bytes per client",
            grown as f64 / f64::from(clients)
        );
        std::hint::black_box(&service);
        ExitCode::SUCCESS
    })
}
