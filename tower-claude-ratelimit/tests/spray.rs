//! A spray of a million distinct source addresses against a capped store: memory
//! stays within the cap's budget, tracked clients keep their buckets, and the
//! service answers every request. Alone in its binary, so the resident-memory
//! reading is this test's own.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use http::StatusCode;
use tower_claude_core::Clock;
use tower_claude_ratelimit::{AtCapacity, MemoryStore, Quota, RateLimitLayer};

use support::Harness;

const CAP: usize = 50_000;
const SPRAY: u32 = 1_000_000;

/// Resident memory of this process, from the kernel.
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

fn sprayed(n: u32) -> SocketAddr {
    // Half IPv4, half IPv6 from distinct /64s.
    let ip = if n.is_multiple_of(2) {
        IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            (n >> 16) as u16,
            n as u16,
            0,
            0,
            0,
            1,
        ))
    };
    SocketAddr::new(ip, 443)
}

#[tokio::test(flavor = "current_thread")]
async fn a_million_addresses_stay_within_the_cap() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(CAP)
        .at_capacity(AtCapacity::RefuseNew)
        .build();
    let layer = RateLimitLayer::with_store(store, Quota::per_minute(10));
    let harness = Harness::new(&layer);
    let regular: SocketAddr = "198.51.100.10:1".parse().unwrap();
    assert_eq!(harness.status_from(regular).await, StatusCode::OK);

    let before = resident_bytes();
    let (mut admitted, mut refused) = (0u32, 0u32);
    for n in 0..SPRAY {
        match harness.status_from(sprayed(n)).await {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("request {n} answered {other}"),
        }
        if n.is_multiple_of(1000) {
            // Time passes during the spray: one second in all, less than a
            // refill (6 s) and the sweep interval (10 s).
            clock.advance(Duration::from_millis(1));
            assert!(layer.store().tracked_keys() <= CAP);
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    eprintln!("resident memory grew by {grown} bytes for {CAP} tracked clients");
    assert_eq!(layer.store().tracked_keys(), CAP);
    assert_eq!(admitted as usize, CAP - 1, "the newcomers that fit");
    assert_eq!(refused as usize, SPRAY as usize - (CAP - 1));
    // 50,000 entries of 24 bytes in a table with slack: a few MB. Unbounded,
    // a million entries would take over 40 MB.
    assert!(
        grown < 16 << 20,
        "resident memory grew by {grown} bytes during the spray"
    );

    // The client that was there before the spray kept its bucket.
    assert_eq!(harness.status_from(regular).await, StatusCode::OK);

    // Once the sprayed buckets are full again, a sweep forgets them and
    // newcomers are admitted.
    clock.advance(Duration::from_secs(61));
    let newcomer: SocketAddr = "192.0.2.200:1".parse().unwrap();
    assert_eq!(harness.status_from(newcomer).await, StatusCode::OK);
    assert!(
        layer.store().tracked_keys() < 10,
        "tracked after the sweep: {}",
        layer.store().tracked_keys()
    );
}
