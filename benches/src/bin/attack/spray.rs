//! A spray of distinct client addresses through a trusted proxy: resident
//! memory over time, and whether a client limited before the spray is still
//! limited after it (a store that evicted it to make room would hand it a
//! fresh bucket).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::client::{pooled, resident_mib, status};

const SPRAY_CONNECTIONS: u64 = 32;
/// The client limited before the spray.
const LIMITED: &str = "192.0.2.200";

/// One memory sample: seconds into the spray, addresses sent, MiB resident.
pub(crate) struct Sample {
    pub(crate) seconds: f64,
    pub(crate) addresses: u64,
    pub(crate) rss_mib: f64,
}

pub(crate) struct Outcome {
    pub(crate) samples: Vec<Sample>,
    /// Sent addresses the rate limiter admitted (401: no token), and refused
    /// because its table was full (429).
    pub(crate) admitted: u64,
    pub(crate) refused_full: u64,
    pub(crate) unanswered: u64,
    /// The limited client's status before and after the spray.
    pub(crate) limited_before: Option<StatusCode>,
    pub(crate) limited_after: Option<StatusCode>,
    pub(crate) seconds: f64,
}

/// Sprays `total` distinct addresses at `addr`, whose rate limiter allows
/// `burst` requests per client.
pub(crate) async fn spray(addr: SocketAddr, total: u64, burst: u32) -> Outcome {
    let client = pooled();
    let mut limited_before = None;
    for _ in 0..=burst {
        limited_before = status(&client, addr, "/api/whoami", None, LIMITED).await;
    }
    let next = Arc::new(AtomicU64::new(0));
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SPRAY_CONNECTIONS {
        let (client, next, counts) = (client.clone(), next.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return;
                }
                // 10.0.0.0/8 and on: one address per request, never repeated.
                let from = Ipv4Addr::from(0x0a00_0000 + n as u32).to_string();
                let slot = match status(&client, addr, "/api/whoami", None, &from).await {
                    Some(StatusCode::UNAUTHORIZED) => 0,
                    Some(StatusCode::TOO_MANY_REQUESTS) => 1,
                    _ => 2,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut samples = vec![Sample {
        seconds: 0.0,
        addresses: 0,
        rss_mib: resident_mib(),
    }];
    while tasks.iter().any(|task| !task.is_finished()) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        samples.push(Sample {
            seconds: started.elapsed().as_secs_f64(),
            addresses: sent,
            rss_mib: resident_mib(),
        });
        // Bounded in time as in count: a stalled server ends the spray.
        if started.elapsed() > Duration::from_secs(600) {
            tasks.iter().for_each(tokio::task::JoinHandle::abort);
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let limited_after = status(&client, addr, "/api/whoami", None, LIMITED).await;
    Outcome {
        samples,
        admitted: counts[0].load(Ordering::Relaxed),
        refused_full: counts[1].load(Ordering::Relaxed),
        unanswered: counts[2].load(Ordering::Relaxed),
        limited_before,
        limited_after,
        seconds,
    }
}
