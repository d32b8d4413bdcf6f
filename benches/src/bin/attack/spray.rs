//! A spray of distinct client addresses through a trusted proxy: resident
//! memory over time, and whether a client limited before the spray is still
//! tracked after it. A store that evicted it to make room would hand it a
//! fresh bucket: its `X-RateLimit-Remaining` would read a full burst, like
//! a never-seen control address's, instead of the few tokens refilled since.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::{pooled, request, resident_mib, status};

const SPRAY_CONNECTIONS: u64 = 32;
/// The client limited before the spray, and a control never seen before it.
const LIMITED: &str = "192.0.2.200";
const CONTROL: &str = "192.0.2.201";

/// One memory sample: seconds into the spray, addresses answered, MiB resident.
pub(crate) struct Sample {
    pub(crate) seconds: f64,
    pub(crate) addresses: u64,
    pub(crate) rss_mib: f64,
}

/// After the spray: a client's status and `X-RateLimit-Remaining`.
#[derive(Debug)]
pub(crate) struct Check {
    pub(crate) status: Option<StatusCode>,
    pub(crate) remaining: Option<u64>,
}

pub(crate) struct Outcome {
    pub(crate) samples: Vec<Sample>,
    /// The sprayed requests' answers by status: 401 (admitted by the rate
    /// limiter, no token), 429 (refused while its table was full), others.
    pub(crate) answers: BTreeMap<String, u64>,
    pub(crate) limited_before: Option<StatusCode>,
    pub(crate) limited_after: Check,
    pub(crate) control_after: Check,
    /// Seconds from limiting the client to checking it.
    pub(crate) since_limited: f64,
    pub(crate) seconds: f64,
}

async fn check(client: &crate::client::HttpClient, addr: SocketAddr, from: &str) -> Check {
    let answer = request(client, addr, "/api/whoami", None, from).await;
    Check {
        status: answer.as_ref().map(|(status, _)| *status),
        remaining: answer.and_then(|(_, headers)| {
            headers
                .get("x-ratelimit-remaining")?
                .to_str()
                .ok()?
                .parse()
                .ok()
        }),
    }
}

/// Sprays `total` distinct addresses at `addr`, whose rate limiter allows
/// `burst` requests per client at once and refills one a second.
pub(crate) async fn spray(addr: SocketAddr, total: u64, burst: u32) -> Outcome {
    let client = pooled();
    let mut limited_before = None;
    for _ in 0..=burst {
        limited_before = status(&client, addr, "/api/whoami", None, LIMITED).await;
    }
    let limited_at = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let answers: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SPRAY_CONNECTIONS {
        let (client, next, answered, answers) = (
            client.clone(),
            next.clone(),
            answered.clone(),
            answers.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut mine = BTreeMap::<String, u64>::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                // 10.0.0.0/8 and on: one address per request, never repeated.
                let from = Ipv4Addr::from(0x0a00_0000 + n as u32).to_string();
                let answer = status(&client, addr, "/api/whoami", None, &from).await;
                let key = answer.map_or_else(|| "none".to_owned(), |s| s.as_u16().to_string());
                *mine.entry(key).or_default() += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut answers) = answers.lock() {
                for (status, n) in mine {
                    *answers.entry(status).or_default() += n;
                }
            }
        }));
    }
    let mut samples = vec![Sample {
        seconds: 0.0,
        addresses: 0,
        rss_mib: resident_mib(),
    }];
    let deadline = started + Duration::from_secs(600);
    while tasks.iter().any(|task| !task.is_finished()) {
        // Bounded in time as in count: a stalled server ends the spray.
        if Instant::now() > deadline {
            tasks.iter().for_each(tokio::task::JoinHandle::abort);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seconds = started.elapsed().as_secs_f64();
        if seconds - samples.last().map_or(0.0, |s| s.seconds) >= 0.5 {
            samples.push(Sample {
                seconds,
                addresses: answered.load(Ordering::Relaxed),
                rss_mib: resident_mib(),
            });
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    samples.push(Sample {
        seconds,
        addresses: answered.load(Ordering::Relaxed),
        rss_mib: resident_mib(),
    });
    // Sprayed buckets are full again a second after their request: wait for
    // that, and the store's once-a-second sweep for room, before checking.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let control_after = check(&client, addr, CONTROL).await;
    let limited_after = check(&client, addr, LIMITED).await;
    Outcome {
        samples,
        answers: answers.lock().map(|a| a.clone()).unwrap_or_default(),
        limited_before,
        limited_after,
        control_after,
        since_limited: limited_at.elapsed().as_secs_f64(),
        seconds,
    }
}
