//! Slowloris: many connections that send a request head a byte a second and
//! never finish it, from a few loopback addresses, while a normal client
//! opens a fresh connection for each request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::net::tcp::OwnedReadHalf;

use crate::client::{fresh_connections, resident_mib, status};
use crate::latency::{Probe, Summary};

const HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
/// A connection the server has not closed this long after its head began is
/// one it holds; one closed sooner was refused at once.
const REFUSED_WITHIN: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Counters {
    failed: AtomicU64,
    refused: AtomicU64,
    held: AtomicU64,
    peak_held: AtomicU64,
    /// Milliseconds from the start to the last held connection the server closed.
    last_close_ms: AtomicU64,
}

pub(crate) struct Outcome {
    pub(crate) attempted: u64,
    /// Connections that could not be opened at all (no loopback alias, no
    /// file descriptors).
    pub(crate) failed: u64,
    /// Closed by the server within half a second: over the per-address cap.
    pub(crate) refused: u64,
    pub(crate) peak_held: u64,
    pub(crate) held_at_end: u64,
    /// Seconds from the start to the server's closing of the last held one.
    pub(crate) last_closed_after: f64,
    pub(crate) rss_before: f64,
    pub(crate) rss_peak: f64,
    pub(crate) normal: Summary,
}

/// `per_address` connections from each of `addresses` loopback addresses
/// (127.0.0.10 and on), kept for `phase`; the server's head deadline should
/// close them first.
pub(crate) async fn slowloris(
    addr: SocketAddr,
    addresses: u8,
    per_address: u64,
    phase: Duration,
) -> Outcome {
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let deadline = started + phase;
    let rss_before = resident_mib();
    let mut tasks = Vec::new();
    for a in 0..addresses {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + a));
        for _ in 0..per_address {
            let counters = counters.clone();
            tasks.push(tokio::spawn(async move {
                hold(source, addr, started, deadline, &counters).await;
            }));
        }
    }
    let client = fresh_connections();
    let mut normal = Probe::default();
    let mut rss_peak = rss_before;
    while Instant::now() < deadline {
        let began = Instant::now();
        let answer = status(&client, addr, "/health", None, "198.18.0.2").await;
        normal.record(began.elapsed(), answer);
        rss_peak = rss_peak.max(resident_mib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held_at_end = counters.held.load(Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    Outcome {
        attempted: u64::from(addresses) * per_address,
        failed: counters.failed.load(Ordering::Relaxed),
        refused: counters.refused.load(Ordering::Relaxed),
        peak_held: counters.peak_held.load(Ordering::Relaxed),
        held_at_end,
        last_closed_after: counters.last_close_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        rss_before,
        rss_peak,
        normal: normal.summary(),
    }
}

/// Reads until the server closes the connection (a 408 may come first).
async fn until_closed(read: &mut OwnedReadHalf) {
    let mut sink = [0u8; 1024];
    while let Ok(n) = read.read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}

/// One slow connection: the head's first bytes, then a byte a second until
/// the server closes it or `deadline` passes.
async fn hold(
    source: IpAddr,
    addr: SocketAddr,
    started: Instant,
    deadline: Instant,
    counters: &Counters,
) {
    let socket = TcpSocket::new_v4().and_then(|socket| {
        socket.bind(SocketAddr::new(source, 0))?;
        Ok(socket)
    });
    let stream = match socket {
        Ok(socket) => tokio::time::timeout(Duration::from_secs(5), socket.connect(addr)).await,
        Err(_) => Ok(Err(std::io::ErrorKind::AddrNotAvailable.into())),
    };
    let Ok(Ok(stream)) = stream else {
        counters.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (mut read, mut write) = stream.into_split();
    let trickle = async move {
        if write.write_all(HEAD).await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write.write_all(b"x").await.is_err() {
                return;
            }
        }
    };
    tokio::pin!(trickle);
    // Refused at once, or held?
    tokio::select! {
        () = until_closed(&mut read) => {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        () = &mut trickle => {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        () = tokio::time::sleep(REFUSED_WITHIN) => {}
    }
    let now_held = counters.held.fetch_add(1, Ordering::Relaxed) + 1;
    counters.peak_held.fetch_max(now_held, Ordering::Relaxed);
    let closed = async {
        tokio::select! {
            () = until_closed(&mut read) => {}
            () = &mut trickle => {}
        }
    };
    tokio::select! {
        () = closed => {
            counters.held.fetch_sub(1, Ordering::Relaxed);
            let millis = started.elapsed().as_millis() as u64;
            counters.last_close_ms.fetch_max(millis, Ordering::Relaxed);
        }
        () = tokio::time::sleep_until(deadline.into()) => {}
    }
}
