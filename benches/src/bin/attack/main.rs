//! The reference stack under attack, measured from outside on loopback, in
//! one run:
//! - a public route, a cached valid token and a valid token's first use, with
//!   no flood and under floods of distinct wrong tokens from 1 and from 20
//!   client addresses, on the reference stack and on the naive peer (bcrypt
//!   on every request);
//! - a spray of distinct client addresses: resident memory over time, and
//!   whether a client limited before the spray is still limited after it;
//! - slowloris: connections sending their head a byte a second, from four
//!   loopback addresses, while a normal client connects afresh per request.
//!
//! Client addresses come through `X-Forwarded-For` from a trusted loopback
//! proxy; bcrypt cost 12; every loop is bounded in count and time.
//!
//! Usage: `cargo run --release -p tower-claude-benches --bin attack --
//! [SECONDS] [--flood-rate N] [--spray N] [--out DIR]` (default 8 s a latency
//! scenario, floods paced at 3,200 requests a second, 1,000,000 addresses;
//! `--out` writes the TSV files `scripts/charts.py` draws from).

mod client;
mod latency;
mod report;
mod slowloris;
mod spray;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower_claude_auth::Credential;
use tower_claude_core::IpCidr;
use tower_claude_examples::config::{Rate, RedisOnFailure, ServerArgs};
use tower_claude_examples::serve::{Limits, serve};
use tower_claude_examples::stack::Stack;
use tower_claude_examples::web::reference_app;

use latency::{CACHED, Flood, Row, SECRET};

const COST: u32 = 12;

struct Options {
    seconds: u64,
    flood_rate: u64,
    spray: u64,
    out: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        seconds: 8,
        flood_rate: 3_200,
        spray: 1_000_000,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spray" => {
                options.spray = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--spray takes a number of addresses")?;
            }
            "--flood-rate" => {
                options.flood_rate = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--flood-rate takes requests per second (0: unpaced)")?;
            }
            "--out" => options.out = Some(args.next().ok_or("--out takes a directory")?.into()),
            seconds => {
                options.seconds = seconds.parse().map_err(|_| {
                    format!(
                        "usage: attack [SECONDS] [--flood-rate N] [--spray N] [--out DIR]; not a number: {seconds}"
                    )
                })?;
            }
        }
    }
    Ok(options)
}

/// The reference server's options: bcrypt credential, addresses from a
/// loopback proxy, `rate` per client, `max_clients` tracked.
fn server_args(hash: &str, rate: Rate, max_clients: usize) -> ServerArgs {
    ServerArgs {
        bind: None,
        password_hash: Some(hash.to_owned()),
        password: None,
        rate_limit: rate,
        burst: None,
        max_clients,
        trusted_proxies: IpCidr::loopback().to_vec(),
        webhook_secret: None,
        webhook_url: None,
        allow_insecure_webhooks: false,
        notify_budget: Duration::from_secs(5),
        redis_urls: Vec::new(),
        redis_on_failure: RedisOnFailure::Fallback,
    }
}

/// Serves `router` on a loopback port through the programs' accept loop and
/// its default limits, until the process ends.
async fn serve_on_loopback(router: axum::Router) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    tokio::spawn(serve(
        listener,
        router,
        Limits::default(),
        std::future::pending(),
    ));
    Ok(addr)
}

async fn reference(args: &ServerArgs) -> Result<(SocketAddr, Stack), String> {
    let app = reference_app(args).map_err(|e| e.to_string())?;
    Ok((serve_on_loopback(app.router).await?, app.stack))
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    latency::FLOOD_RATE.store(options.flood_rate, std::sync::atomic::Ordering::Relaxed);
    eprintln!("hashing the key at cost {COST}...");
    let hash = bcrypt::hash(SECRET, COST).map_err(|e| format!("bcrypt: {e}"))?;
    let per_minute = Rate {
        count: 100,
        per: Duration::from_secs(60),
    };
    let (ours, stack) = reference(&server_args(&hash, per_minute, 1_000_000)).await?;
    let credential = || Credential::bcrypt(&hash).map_err(|e| e.to_string());
    let fresh: Vec<String> = (0..latency::FRESH_KEYS)
        .map(|i| format!("fresh{i}"))
        .collect();
    for name in std::iter::once("cached").chain(fresh.iter().map(String::as_str)) {
        stack
            .keys
            .insert(name, credential()?)
            .map_err(|e| e.to_string())?;
    }
    let naive = serve_on_loopback(latency::naive(Arc::from(hash.as_str()))).await?;
    // Warm the cached token.
    let warm = client::status(
        &client::pooled(),
        ours,
        "/api/whoami",
        Some(CACHED),
        "198.18.1.1",
    )
    .await;
    if warm != Some(http::StatusCode::OK) {
        return Err(format!("the cached token was not accepted: {warm:?}"));
    }
    let refresh: latency::Refresh = {
        let (keys, hash) = (stack.keys.clone(), hash.clone());
        Arc::new(move |name: &str| {
            // Replacing a key drops its cached verdicts: its next use is a first use.
            if let Ok(credential) = Credential::bcrypt(&hash) {
                let _ = keys.insert(name, credential);
            }
        })
    };
    let scenarios: [(&'static str, SocketAddr, Flood); 5] = [
        (
            "ours, no flood",
            ours,
            Flood {
                addresses: 0,
                prefix: "",
            },
        ),
        (
            "ours, flood from 1 address",
            ours,
            Flood {
                addresses: 1,
                prefix: "192.0.2",
            },
        ),
        (
            "ours, flood from 20 addresses",
            ours,
            Flood {
                addresses: 20,
                prefix: "198.51.100",
            },
        ),
        (
            "naive peer, no flood",
            naive,
            Flood {
                addresses: 0,
                prefix: "",
            },
        ),
        (
            "naive peer, flood from 20 addresses",
            naive,
            Flood {
                addresses: 20,
                prefix: "198.51.100",
            },
        ),
    ];
    println!(
        "{:<37} {:<13} {:>10} {:>10} {:>10} {:>9}",
        "scenario", "probe", "p50", "p99", "max", "200s"
    );
    let mut rows: Vec<Row> = Vec::new();
    for (name, addr, flood) in scenarios {
        let (scenario_rows, flood) =
            latency::scenario(name, addr, flood, options.seconds, refresh.clone()).await;
        for (i, row) in scenario_rows.iter().enumerate() {
            let label = match i {
                0 => name.to_owned(),
                1 if flood.rate > 0.0 => format!("  (flood {:.0} req/s)", flood.rate),
                _ => String::new(),
            };
            println!(
                "{label:<37} {:<13} {}",
                row.probe,
                report::quantiles(&row.summary)
            );
        }
        if flood.rate > 0.0 {
            println!("  {}", report::flood(&flood));
        }
        rows.extend(scenario_rows);
    }
    println!("bcrypt runs on ours: {}", stack.keys.stats().runs);

    // A token a second, a thousand at once: a sprayed address's bucket is
    // full again a second after its one request (so the store can make room),
    // while the client limited before the spray stays far from full for the
    // whole spray, and a fresh bucket for it would show.
    let burst = 1_000;
    let per_thousand_seconds = Rate {
        count: burst,
        per: Duration::from_secs(1_000),
    };
    let max_clients = usize::try_from(options.spray / 4)
        .unwrap_or(usize::MAX)
        .max(1);
    let (spray_server, _) =
        reference(&server_args(&hash, per_thousand_seconds, max_clients)).await?;
    eprintln!(
        "spraying {} addresses (the limiter tracks {max_clients})...",
        options.spray
    );
    let spray = spray::spray(spray_server, options.spray, burst).await;
    report::spray(&spray, max_clients, burst);

    eprintln!("slowloris...");
    let slow = slowloris::slowloris(ours, 4, 400, Duration::from_secs(15)).await;
    report::slowloris(&slow);

    if let Some(dir) = &options.out {
        report::write_tsv(dir, &rows, &spray).map_err(|e| format!("{}: {e}", dir.display()))?;
        eprintln!(
            "wrote {}/attack-latency.tsv and attack-spray.tsv",
            dir.display()
        );
    }
    Ok(())
}
