//! Latency of a public route, a cached valid token and a valid token's first
//! use, with no flood and under floods of distinct wrong tokens.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use http::StatusCode;

use crate::client::{pooled, status};

pub(crate) const SECRET: &str = "valid-token";
pub(crate) const CACHED: &str = "cached.valid-token";
/// Keys whose first use is measured, in turn: a first use may take longer
/// than the 500 ms between two, and each must find its key uncached.
pub(crate) const FRESH_KEYS: u64 = 4;
const FLOOD_CONNECTIONS: u64 = 32;

/// Latencies of one probe, and how many of its requests were answered 200.
#[derive(Default)]
pub(crate) struct Probe {
    latencies: Vec<Duration>,
    ok: usize,
    others: BTreeMap<String, usize>,
}

/// One probe's summary: p50, p99 and max in milliseconds (none when no
/// request was answered in time), answered 200 of sent.
pub(crate) struct Summary {
    pub(crate) quantiles: Option<[f64; 3]>,
    pub(crate) ok: usize,
    pub(crate) total: usize,
    /// The answers other than 200, by status ("none": no answer in time).
    pub(crate) others: BTreeMap<String, usize>,
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

/// What the flood did while the probes ran: requests a second, and its
/// answers by status.
#[derive(Default)]
pub(crate) struct FloodReport {
    pub(crate) rate: f64,
    pub(crate) answers: BTreeMap<String, u64>,
    /// Seconds until every flooding address had a wrong token refused (403).
    pub(crate) established_after: Option<f64>,
}

/// Makes the named key's next use a first use (its cached verdicts dropped).
pub(crate) type Refresh = Arc<dyn Fn(&str) + Send + Sync>;

/// Answers by status, shared by the flood's connections.
type Tally = Arc<Mutex<BTreeMap<String, u64>>>;

fn tally(tally: &Tally, status: Option<StatusCode>) {
    let key = status.map_or_else(|| "none".to_owned(), |s| s.as_u16().to_string());
    if let Ok(mut tally) = tally.lock() {
        *tally.entry(key).or_default() += 1;
    }
}

fn snapshot(tally: &Tally) -> BTreeMap<String, u64> {
    tally.lock().map(|t| t.clone()).unwrap_or_default()
}

/// One scenario: the three probes for `seconds` under `flood`, measured once
/// every flooding address has had a wrong token refused.
pub(crate) async fn scenario(
    scenario: &'static str,
    addr: SocketAddr,
    flood: Flood,
    seconds: u64,
    refresh: Refresh,
) -> (Vec<Row>, FloodReport) {
    let client = pooled();
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Tally = Arc::default();
    let failed: Arc<Vec<AtomicBool>> = Arc::new(
        (0..flood.addresses)
            .map(|_| AtomicBool::new(false))
            .collect(),
    );
    let connections = if flood.addresses == 0 {
        0
    } else {
        FLOOD_CONNECTIONS
    };
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (client, stop, answers, failed) = (
            client.clone(),
            stop.clone(),
            answers.clone(),
            failed.clone(),
        );
        let address = connection % flood.addresses.max(1);
        let from = format!("{}.{}", flood.prefix, address + 1);
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
                let answer = status(&client, addr, "/api/whoami", Some(&token), &from).await;
                if answer == Some(StatusCode::FORBIDDEN) {
                    failed[address as usize].store(true, Ordering::Relaxed);
                }
                tally(&answers, answer);
            }
        }));
    }
    let mut report = FloodReport::default();
    if flood.addresses > 0 {
        // Measure the flood once established: before each flooding address
        // has failed once, nothing tells it from a new user's, and a new user
        // waits its turn among them (see the README). Bounded: 60 s at most.
        let started = Instant::now();
        while failed.iter().any(|f| !f.load(Ordering::Relaxed))
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        report.established_after = failed
            .iter()
            .all(|f| f.load(Ordering::Relaxed))
            .then(|| started.elapsed().as_secs_f64());
    }
    let before = snapshot(&answers);
    let probing = Instant::now();
    let probes = probe(addr, seconds, refresh).await;
    let probed_for = probing.elapsed().as_secs_f64();
    let after = snapshot(&answers);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(35), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    report.answers = after
        .iter()
        .map(|(status, n)| (status.clone(), n - before.get(status).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    report.rate = report.answers.values().sum::<u64>() as f64 / probed_for;
    let rows = ["/health", "cached token", "first use"]
        .into_iter()
        .zip(probes)
        .map(|(probe, probe_data)| Row {
            scenario,
            probe,
            summary: probe_data.summary(),
        })
        .collect();
    (rows, report)
}

/// Open loop: a `/health` and a cached-token request every 50 ms, a first
/// use every 500 ms (rotating over [`FRESH_KEYS`] keys, each refreshed before
/// its use), each sent at its time whether or not the previous one was
/// answered. Each from its own client address, so that no probe meets the
/// rate limit.
async fn probe(addr: SocketAddr, seconds: u64, refresh: Refresh) -> [Probe; 3] {
    let client = pooled();
    let until = Instant::now() + Duration::from_secs(seconds);
    let health = schedule(until, Duration::from_millis(50), {
        let client = client.clone();
        move |_| {
            let client = client.clone();
            async move { status(&client, addr, "/health", None, "198.18.0.1").await }
        }
    });
    let cached = schedule(until, Duration::from_millis(50), {
        let client = client.clone();
        move |n| {
            let client = client.clone();
            let from = format!("198.18.1.{}", n % 250 + 1);
            async move { status(&client, addr, "/api/whoami", Some(CACHED), &from).await }
        }
    });
    let first = schedule(until, Duration::from_millis(500), move |n| {
        let client = client.clone();
        let key = format!("fresh{}", n % FRESH_KEYS);
        refresh(&key);
        let from = format!("198.18.2.{}", n % 250 + 1);
        async move {
            let token = format!("{key}.{SECRET}");
            status(&client, addr, "/api/whoami", Some(&token), &from).await
        }
    });
    let (health, cached, first) = tokio::join!(health, cached, first);
    [health, cached, first]
}

/// Sends `request(n)` every `every` until `until`, each on its own task, and
/// collects their latencies.
async fn schedule<F, Fut>(until: Instant, every: Duration, request: F) -> Probe
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Option<StatusCode>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::new();
    let mut n = 0u64;
    loop {
        ticks.tick().await;
        // Timed from when the tick fired, not from its nominal time: tokio's
        // timer fires up to a millisecond late, which is this client's delay,
        // not the server's. Requests go out on schedule whatever the answers
        // to earlier ones, so a slow server cannot thin out its own samples.
        let sent_at = Instant::now();
        if sent_at >= until {
            break;
        }
        let answer = request(n);
        n += 1;
        sent.push(tokio::spawn(async move {
            let status = answer.await;
            (sent_at.elapsed(), status)
        }));
    }
    let mut probe = Probe::default();
    for request in sent {
        // Each request gives up after 30 s itself (`status`).
        if let Ok((took, status)) = request.await {
            probe.record(took, status);
        }
    }
    probe
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
