//! The service under attack, measured from outside on loopback: a public
//! route, a cached valid token and a valid token's first use (nothing cached),
//! with no flood and under floods of distinct wrong tokens from 1 and from 20
//! client addresses (forwarded by a trusted proxy), on our bearer layer and on
//! the naive peer (bcrypt on every request). bcrypt cost 12, one process,
//! every loop bounded in count and time.
//!
//! Usage: `cargo run --release -p tower-claude-benches --bin attack [-- SECONDS]`
//! (default 8 seconds a scenario).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_claude_auth::{BearerAuthLayer, Credential, KeyStore};
use tower_claude_core::{ClientIpResolver, IpCidr};

const COST: u32 = 12;
const CACHED: &str = "cached.valid-token";
const FRESH: &str = "fresh.valid-token";
const FLOOD_CONNECTIONS: u64 = 32;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Latencies of one probe, and how many of its requests were answered 200.
#[derive(Default)]
struct Probe {
    latencies: Vec<Duration>,
    ok: usize,
}

impl Probe {
    fn record(&mut self, took: Duration, status: Option<StatusCode>) {
        self.latencies.push(took);
        if status == Some(StatusCode::OK) {
            self.ok += 1;
        }
    }

    fn row(&mut self) -> String {
        if self.latencies.is_empty() {
            return "no request".into();
        }
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies[index]
        };
        format!(
            "{:>9} {:>9} {:>9} {:>4}/{:<4}",
            ms(at(0.5)),
            ms(at(0.99)),
            ms(*self.latencies.last().unwrap_or(&Duration::ZERO)),
            self.ok,
            self.latencies.len()
        )
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn request(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    from: &str,
) -> Option<StatusCode> {
    let mut builder =
        http::Request::get(format!("http://{addr}{path}")).header("x-forwarded-for", from);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = builder.body(Empty::new()).ok()?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Some(status)
}

/// The stack a user would run: our bearer layer with a bcrypt key store,
/// the client address from `X-Forwarded-For` of a loopback proxy.
fn ours(store: KeyStore) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api", get(|| async { "secret" }))
        .layer(
            BearerAuthLayer::with_store(store)
                .public_paths(["/health"])
                .client_ip(ClientIpResolver::new().trusted_proxies(IpCidr::loopback())),
        )
}

/// The naive peer: bcrypt on every request (off the executor), no cache.
fn naive(hash: Arc<str>) -> Router {
    let check = move |request: Request, next: Next| {
        let hash = Arc::clone(&hash);
        async move {
            if request.uri().path() == "/health" {
                return next.run(request).await;
            }
            let token = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned());
            let Some(token) = token else {
                return StatusCode::UNAUTHORIZED.into_response();
            };
            let valid = tokio::task::spawn_blocking(move || bcrypt::verify(token, &hash))
                .await
                .is_ok_and(|v| v.unwrap_or(false));
            if valid {
                next.run(request).await
            } else {
                StatusCode::FORBIDDEN.into_response()
            }
        }
    };
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api", get(|| async { "secret" }))
        .layer(middleware::from_fn(check))
}

/// One scenario: the three probes for `seconds`, under a flood from
/// `addresses` client addresses (0: no flood).
async fn scenario(
    name: &str,
    addr: SocketAddr,
    addresses: u64,
    seconds: u64,
    refresh: impl Fn() + Send + Sync + 'static,
) -> Vec<String> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let stop = Arc::new(AtomicBool::new(false));
    let flood_sent = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    if addresses > 0 {
        for connection in 0..FLOOD_CONNECTIONS {
            let (client, stop, sent) = (client.clone(), stop.clone(), flood_sent.clone());
            flood.push(tokio::spawn(async move {
                let from = format!("198.51.100.{}", connection % addresses + 1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                    n += 1;
                    let token = format!("attacker.wrong-{connection}-{n}");
                    request(&client, addr, "/api", Some(&token), &from).await;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Let the flood fill the queue first.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut health, mut cached, mut first) =
        (Probe::default(), Probe::default(), Probe::default());
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let started = Instant::now();
        let status = request(&client, addr, "/health", None, "203.0.113.1").await;
        health.record(started.elapsed(), status);
        let started = Instant::now();
        let status = request(&client, addr, "/api", Some(CACHED), "203.0.113.2").await;
        cached.record(started.elapsed(), status);
        if round.is_multiple_of(5) {
            refresh();
            let from = format!("203.0.113.{}", 10 + round % 200);
            let started = Instant::now();
            let status = request(&client, addr, "/api", Some(FRESH), &from).await;
            first.record(started.elapsed(), status);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        let _ = tokio::time::timeout(Duration::from_secs(35), task).await;
    }
    let rate = flood_sent.load(Ordering::Relaxed) as f64 / seconds as f64;
    vec![
        format!("{name:<34} /health      {}", health.row()),
        format!(
            "{:<34} cached token {}",
            format!("  (flood {rate:.0} req/s)"),
            cached.row()
        ),
        format!("{:<34} first use    {}", "", first.row()),
    ]
}

fn main() -> ExitCode {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("cannot start a tokio runtime");
        return ExitCode::FAILURE;
    };
    runtime.block_on(async move {
        eprintln!("hashing the keys at cost {COST}...");
        let Ok(hash) = bcrypt::hash("valid-token", COST) else {
            eprintln!("bcrypt failed");
            return ExitCode::FAILURE;
        };
        let credential = || Credential::bcrypt(&hash);
        let (Ok(cached), Ok(fresh)) = (credential(), credential()) else {
            eprintln!("not a bcrypt hash");
            return ExitCode::FAILURE;
        };
        let store = KeyStore::new().with("cached", cached).with("fresh", fresh);
        let ours_addr = tower_claude_testkit::serve_axum(ours(store.clone())).await;
        let naive_addr = tower_claude_testkit::serve_axum(naive(Arc::from(hash.as_str()))).await;
        // Warm the cached token on ours.
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        request(&client, ours_addr, "/api", Some(CACHED), "203.0.113.2").await;
        let refresh = {
            let (store, hash) = (store.clone(), hash.clone());
            move || {
                // Replacing the key drops its cached verdicts: a first use.
                if let Ok(credential) = Credential::bcrypt(&hash) {
                    let _ = store.insert("fresh", credential);
                }
            }
        };
        println!(
            "{:<34} {:<12} {:>9} {:>9} {:>9} {:>9}",
            "scenario", "probe", "p50", "p99", "max", "200s"
        );
        let runs: [(&str, SocketAddr, u64); 5] = [
            ("ours, no flood", ours_addr, 0),
            ("ours, flood from 1 address", ours_addr, 1),
            ("ours, flood from 20 addresses", ours_addr, 20),
            ("naive peer, no flood", naive_addr, 0),
            ("naive peer, flood from 20 addresses", naive_addr, 20),
        ];
        for (name, addr, addresses) in runs {
            for line in scenario(name, addr, addresses, seconds, refresh.clone()).await {
                println!("{line}");
            }
        }
        println!("bcrypt runs on ours: {}", store.stats().runs);
        ExitCode::SUCCESS
    })
}
