//! bcrypt without the bill: counted runs, the 72-byte rule, shared runs for one
//! token, and a flood of wrong tokens that cannot starve anyone else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tower_claude_auth::{BearerAuthLayer, Credential, KeyStore};
use tower_claude_testkit::{get as fetch, serve_axum};

// Made with `bcrypt::hash(password, 4)` (bcrypt 0.19.3).
const HUNTER2: &str = "$2b$04$cDS1BLNjZeug.2W0UdtQAOb.DkeJ/Dfpzk2ny/5YegIwrk2E6BUji";
/// The hash of `"a" * 72`, as a truncating tool (`bcrypt::hash`) makes it.
const SEVENTY_TWO_AS: &str = "$2b$04$vO2wbb/oZeNIu7Hu12LRWekyImbb6W8MAgIshg/f6oCgSBvSsAJuG";
const CORRECT_HORSE: &str = "$2b$04$/Syn5yybA27X2oIpZk.A.ez.iRgMLi5idxTFk1CjabfmUuBOfpEgm";

async fn serve(store: KeyStore) -> SocketAddr {
    serve_axum(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/api", get(|| async { "secret" }))
            .layer(BearerAuthLayer::with_store(store).public_paths(["/health"])),
    )
    .await
}

fn bearer(token: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {token}"))]
}

async fn call(addr: SocketAddr, token: &str) -> StatusCode {
    let [(name, value)] = bearer(token);
    fetch(addr, "/api", &[(name, &value)]).await.status
}

#[tokio::test]
async fn a_cached_token_costs_no_second_bcrypt_run() {
    let store = KeyStore::new().with_default("default", Credential::bcrypt(HUNTER2).unwrap());
    let addr = serve(store.clone()).await;
    assert_eq!(call(addr, "hunter2").await, StatusCode::OK);
    assert_eq!(store.stats().runs, 1);
    for _ in 0..5 {
        assert_eq!(call(addr, "hunter2").await, StatusCode::OK);
    }
    assert_eq!(store.stats().runs, 1, "cached: no second run");
    assert_eq!(store.cached_tokens(), 1);

    // A wrong token is remembered briefly, so repeating it costs nothing either.
    assert_eq!(call(addr, "hunter3").await, StatusCode::FORBIDDEN);
    assert_eq!(call(addr, "hunter3").await, StatusCode::FORBIDDEN);
    assert_eq!(store.stats().runs, 2);

    // Revoking drops the cached verdict: the next request fails without bcrypt.
    store.revoke("default");
    assert_eq!(store.cached_tokens(), 0);
    assert_eq!(call(addr, "hunter2").await, StatusCode::FORBIDDEN);
    assert_eq!(store.stats().runs, 2);
}

#[tokio::test]
async fn tokens_of_72_bytes_or_more_never_reach_bcrypt() {
    let store =
        KeyStore::new().with_default("default", Credential::bcrypt(SEVENTY_TWO_AS).unwrap());
    let addr = serve(store.clone()).await;
    let seventy_two = "a".repeat(72);
    // `bcrypt::verify` would accept this: it reads only the first 72 bytes.
    assert_eq!(
        call(addr, &format!("{seventy_two}anything")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(addr, &seventy_two).await, StatusCode::FORBIDDEN);
    assert_eq!(store.stats().runs, 0);
    // Shorter tokens are verified normally.
    assert_eq!(call(addr, &"a".repeat(71)).await, StatusCode::FORBIDDEN);
    assert_eq!(store.stats().runs, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_token_share_one_run() {
    let store = KeyStore::new().with("horse", Credential::bcrypt(CORRECT_HORSE).unwrap());
    let addr = serve(store.clone()).await;
    let requests: Vec<_> = (0..16)
        .map(|_| tokio::spawn(async move { call(addr, "horse.correct-horse").await }))
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(store.stats().runs, 1);
}

/// A cost-10 hash: slow enough (tens of milliseconds) that a flood keeps the
/// workers busy. Made with `bcrypt::hash("flood-proof", 10)`.
const COST_10: &str = "$2b$10$jwtje0E5AT9fADr6AEltYua2s0bd.xdvCLI/a3G8HuolztdhplG3O";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_tokens_cannot_starve_public_routes_or_cached_tokens() {
    const WORKERS: usize = 2;
    let store = KeyStore::builder()
        .bcrypt_workers(WORKERS)
        .bcrypt_queue(2)
        .build()
        .with_default("default", Credential::bcrypt(COST_10).unwrap());
    let addr = serve(store.clone()).await;
    assert_eq!(
        call(addr, "flood-proof").await,
        StatusCode::OK,
        "warm the cache"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..8)
        .map(|flooder| {
            let (stop, sent, busy) = (stop.clone(), sent.clone(), busy.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 100_000 {
                    n += 1;
                    let [(name, value)] = bearer(&format!("wrong-{flooder}-{n}"));
                    let reply = fetch(addr, "/api", &[(name, &value)]).await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    match reply.status {
                        StatusCode::FORBIDDEN => {}
                        StatusCode::SERVICE_UNAVAILABLE => {
                            assert_eq!(reply.headers["retry-after"], "1");
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("flood request answered {other}"),
                    }
                }
            })
        })
        .collect();

    // Wait until the flood holds every worker.
    while store.stats().running < WORKERS {
        tokio::task::yield_now().await;
    }
    let runs_before = store.stats().runs;
    assert_eq!(fetch(addr, "/health", &[]).await.status, StatusCode::OK);
    assert_eq!(call(addr, "flood-proof").await, StatusCode::OK);
    // Both answered while the flood was still going.
    assert!(!flooders.iter().all(|f| f.is_finished()));
    assert!(store.stats().runs >= runs_before);

    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.await.unwrap();
    }
    let stats = store.stats();
    assert!(stats.peak_running <= WORKERS, "{stats:?}");
    assert!(
        stats.rejected_busy > 0,
        "the queue overflowed into fast 503s: {stats:?}"
    );
    assert_eq!(busy.load(Ordering::Relaxed), stats.rejected_busy);
    assert!(sent.load(Ordering::Relaxed) > 0);
}

/// Issue 15, section 1: a flood of wrong tokens from 20 addresses (through a
/// trusted proxy) fills the bcrypt queue; a client in good standing presenting
/// a valid token for the first time (nothing cached) is served in its turn,
/// ahead of the flood, every time, and never gets the flood's 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_valid_token_is_served_through_a_flood_from_twenty_addresses() {
    use std::time::{Duration, Instant};
    use tower_claude_core::{ClientIpResolver, IpCidr};

    let store = KeyStore::builder()
        .bcrypt_workers(1)
        .bcrypt_queue(4)
        .build()
        .with_default("default", Credential::bcrypt(COST_10).unwrap());
    let addr = serve_axum(
        Router::new()
            .route("/api", get(|| async { "secret" }))
            .layer(
                BearerAuthLayer::with_store(store.clone())
                    .client_ip(ClientIpResolver::new().trusted_proxies(IpCidr::loopback())),
            ),
    )
    .await;
    let from = move |client: String, token: String| async move {
        let auth = format!("Bearer {token}");
        fetch(
            addr,
            "/api",
            &[("x-forwarded-for", &client), ("authorization", &auth)],
        )
        .await
    };

    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..40u64)
        .map(|flooder| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = format!("198.51.100.{}", flooder % 20);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 10_000 {
                    n += 1;
                    let reply = from(client.clone(), format!("wrong-{flooder}-{n}")).await;
                    assert!(
                        matches!(
                            reply.status,
                            StatusCode::FORBIDDEN | StatusCode::SERVICE_UNAVAILABLE
                        ),
                        "flood request answered {}",
                        reply.status
                    );
                }
            })
        })
        .collect();
    // Every flooding address has failed at least once, and the queue is full.
    while store.stats().runs < 20 || store.stats().rejected_busy == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for round in 0..3 {
        // A replaced key drops its cached verdicts: this is a first use.
        store
            .insert_default("default", Credential::bcrypt(COST_10).unwrap())
            .unwrap();
        let started = Instant::now();
        let reply = from(format!("203.0.113.{round}"), "flood-proof".into()).await;
        let took = started.elapsed();
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "round {round}: {}",
            reply.body
        );
        // About one bcrypt run (tens of ms) waited, one run; generous for a
        // loaded machine. A first-come queue answers 503 here at once.
        assert!(took < Duration::from_secs(5), "round {round}: {took:?}");
    }
    assert!(
        flooders.iter().any(|f| !f.is_finished()),
        "the flood was still going"
    );
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.await.unwrap();
    }
    let stats = store.stats();
    assert!(stats.peak_running <= 1, "{stats:?}");
    assert_eq!(stats.queued, 0, "{stats:?}");
}
