//! Slowloris: many connections that send a request head a byte at a time and
//! never finish it, from a few loopback addresses, while a normal client
//! opens a fresh connection for each request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::client::{fresh_connections, resident_mib, status};
use crate::latency::{Probe, Summary};

const HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";

pub(crate) struct Outcome {
    pub(crate) attempted: u64,
    pub(crate) peak_held: u64,
    pub(crate) held_at_end: u64,
    /// Seconds from the start to the last held connection's close.
    pub(crate) last_closed_after: Option<f64>,
    pub(crate) rss_before: f64,
    pub(crate) rss_peak: f64,
    pub(crate) normal: Summary,
}

/// `per_address` connections from each of `addresses` loopback addresses
/// (127.0.0.10 and on), held for `seconds`; the server's head timeout should
/// close them first.
pub(crate) async fn slowloris(
    addr: SocketAddr,
    addresses: u8,
    per_address: u64,
    seconds: u64,
) -> Outcome {
    let open = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let last_close = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let rss_before = resident_mib();
    let mut tasks = Vec::new();
    for a in 0..addresses {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + a));
        for _ in 0..per_address {
            let (open, peak, last_close) = (open.clone(), peak.clone(), last_close.clone());
            tasks.push(tokio::spawn(async move {
                hold(source, addr, deadline, &open, &peak).await;
                let millis = started.elapsed().as_millis() as u64;
                last_close.fetch_max(millis, Ordering::Relaxed);
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
    let held_at_end = open.load(Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let last = last_close.load(Ordering::Relaxed);
    Outcome {
        attempted: u64::from(addresses) * per_address,
        peak_held: peak.load(Ordering::Relaxed),
        held_at_end,
        last_closed_after: (held_at_end == 0).then_some(last as f64 / 1000.0),
        rss_before,
        rss_peak,
        normal: normal.summary(),
    }
}

/// One slow connection: the head's first bytes, then a byte a second until
/// the server closes it or `deadline` passes.
async fn hold(
    source: IpAddr,
    addr: SocketAddr,
    deadline: Instant,
    open: &AtomicU64,
    peak: &AtomicU64,
) {
    let Ok(socket) = TcpSocket::new_v4() else {
        return;
    };
    if socket.bind(SocketAddr::new(source, 0)).is_err() {
        return;
    }
    let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(5), socket.connect(addr)).await
    else {
        return;
    };
    let now_open = open.fetch_add(1, Ordering::Relaxed) + 1;
    peak.fetch_max(now_open, Ordering::Relaxed);
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
    let closed = async move {
        let mut sink = [0u8; 1024];
        // A 408 or 431 may come first; held until end of stream or error.
        while let Ok(n) = read.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        () = closed => {
            open.fetch_sub(1, Ordering::Relaxed);
        }
        () = trickle => {
            open.fetch_sub(1, Ordering::Relaxed);
        }
        () = tokio::time::sleep_until(deadline.into()) => {}
    }
}
