//! Latency of a public route, a cached valid token and a valid token's first
//! use, with no flood and under floods of distinct wrong tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use http::StatusCode;

use crate::client::{HttpClient, pooled, status};

pub(crate) const CACHED: &str = "cached.valid-token";
pub(crate) const FRESH: &str = "fresh.valid-token";
const FLOOD_CONNECTIONS: u64 = 32;
/// A bcrypt run at cost 12 on this machine, with margin.
const ESTABLISHED_AFTER: Duration = Duration::from_millis(300);

/// Latencies of one probe, and how many of its requests were answered 200.
#[derive(Default)]
pub(crate) struct Probe {
    latencies: Vec<Duration>,
    ok: usize,
    others: std::collections::BTreeMap<String, usize>,
}

/// One probe's summary: p50, p99 and max in milliseconds (none when no
/// request was answered in time), answered 200 of sent.
pub(crate) struct Summary {
    pub(crate) quantiles: Option<[f64; 3]>,
    pub(crate) ok: usize,
    pub(crate) total: usize,
    /// The answers other than 200, by status ("none": no answer in time).
    pub(crate) others: std::collections::BTreeMap<String, usize>,
}

impl Probe {
    pub(crate) fn record(&mut self, took: Duration, status: Option<StatusCode>) {
        self.latencies.push(took);
        match status {
            Some(StatusCode::OK) => self.ok += 1,
            Some(other) => *self.others.entry(other.as_u16().to_string()).or_default() += 1,
            None => *self.others.entry("none".to_owned()).or_default() += 1,
        }
    }

    pub(crate) fn summary(mut self) -> Summary {
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies[index].as_secs_f64() * 1000.0
        };
        Summary {
            quantiles: (!self.latencies.is_empty()).then(|| [at(0.5), at(0.99), at(1.0)]),
            ok: self.ok,
            total: self.latencies.len(),
            others: self.others,
        }
    }
}

/// One scenario's three probes.
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) probe: &'static str,
    pub(crate) summary: Summary,
}

/// Where a scenario's flood comes from: `addresses` client addresses named
/// `prefix.1` to `prefix.<addresses>` (none: no flood).
pub(crate) struct Flood {
    pub(crate) addresses: u64,
    pub(crate) prefix: &'static str,
}

/// Flood requests per second over all connections; 0 sends as fast as the
/// server answers, which on a machine shared with the server measures the
/// attacker's share of the CPU more than the server.
pub(crate) static FLOOD_RATE: AtomicU64 = AtomicU64::new(3_200);

/// One scenario: the three probes for `seconds`, under `flood`; `refresh`
/// makes the fresh key's next use a first use again.
pub(crate) async fn scenario(
    scenario: &'static str,
    addr: SocketAddr,
    flood: Flood,
    seconds: u64,
    refresh: impl Fn(),
) -> (Vec<Row>, f64) {
    let client = pooled();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let connections = if flood.addresses == 0 {
        0
    } else {
        FLOOD_CONNECTIONS
    };
    for connection in 0..connections {
        let (client, stop, sent) = (client.clone(), stop.clone(), sent.clone());
        let from = format!(
            "{}.{}",
            flood.prefix,
            connection % flood.addresses.max(1) + 1
        );
        tasks.push(tokio::spawn(async move {
            let rate = FLOOD_RATE.load(Ordering::Relaxed);
            let mut pace = (rate > 0).then(|| {
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(
                    connections as f64 / rate as f64,
                ));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks
            });
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                n += 1;
                let token = format!("attacker.wrong-{connection}-{n}");
                status(&client, addr, "/api/whoami", Some(&token), &from).await;
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let flood_started = Instant::now();
    if flood.addresses > 0 {
        // Measure the flood once established: each flooding address has had a
        // verification fail (a bcrypt run is ~230 ms here). Before that,
        // nothing tells a flooding address from a new user's, and a new user
        // waits its turn among them (see the README).
        tokio::time::sleep(ESTABLISHED_AFTER * (flood.addresses as u32 + 4)).await;
    }
    let probes = probe(&client, addr, seconds, refresh).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(35), task).await;
    }
    let rate = sent.load(Ordering::Relaxed) as f64 / flood_started.elapsed().as_secs_f64();
    let rows = ["/health", "cached token", "first use"]
        .into_iter()
        .zip(probes)
        .map(|(probe, probe_data)| Row {
            scenario,
            probe,
            summary: probe_data.summary(),
        })
        .collect();
    (rows, rate)
}

/// Every 50 ms: `/health` and the cached token; every fifth round, a first
/// use. Each from its own client address, so that no probe meets the rate
/// limit.
async fn probe(
    client: &HttpClient,
    addr: SocketAddr,
    seconds: u64,
    refresh: impl Fn(),
) -> [Probe; 3] {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut health, mut cached, mut first) =
        (Probe::default(), Probe::default(), Probe::default());
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let started = Instant::now();
        let answer = status(client, addr, "/health", None, "198.18.0.1").await;
        health.record(started.elapsed(), answer);
        let from = format!("198.18.1.{}", round % 250 + 1);
        let started = Instant::now();
        let answer = status(client, addr, "/api/whoami", Some(CACHED), &from).await;
        cached.record(started.elapsed(), answer);
        if round.is_multiple_of(5) {
            refresh();
            let from = format!("198.18.2.{}", round % 250 + 1);
            let started = Instant::now();
            let answer = status(client, addr, "/api/whoami", Some(FRESH), &from).await;
            first.record(started.elapsed(), answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    [health, cached, first]
}

/// The naive peer: bcrypt on every request (off the executor), no cache, no
/// rate limit, the same routes.
pub(crate) fn naive(hash: Arc<str>) -> Router {
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
        .route("/api/whoami", get(|| async { "secret" }))
        .layer(middleware::from_fn(check))
}
