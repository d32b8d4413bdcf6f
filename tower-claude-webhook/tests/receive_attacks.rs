//! The receiver under the attacks and accidents of issue 13, on real sockets:
//! duplicates that must not fail a delivery, bodies that never finish, and
//! signature lists with entries a verifier cannot use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::post;
use axum::{Extension, Router};
use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_claude_testkit::{send_map, serve_axum};
use tower_claude_webhook::{
    WebhookSecret,
    replay::MemoryReplayCache,
    sign::Signer,
    verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer},
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn secret() -> WebhookSecret {
    WebhookSecret::new("receiver secret").unwrap()
}

/// A receiver whose handler counts its runs.
async fn counting_receiver(layer: VerifyWebhookLayer) -> (SocketAddr, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let app = Router::new().route(
        "/hook",
        post(move |Extension(_): Extension<VerifiedWebhook>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "processed" }
        })
        .layer(layer),
    );
    (serve_axum(app).await, runs)
}

fn seed_layer() -> VerifyWebhookLayer {
    VerifyWebhookLayer::new(
        Verifier::x_webhook(secret()).replay_cache(MemoryReplayCache::new(1000)),
    )
}

async fn deliver(
    addr: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> tower_claude_testkit::Reply {
    send_map(addr, Method::POST, "/hook", headers, body).await
}

/// Issue 13, item 1: two deliveries with the same body in the same second
/// (events `user.created`, then `user.deleted`) are both accepted: the signer
/// gives each its own signed content. Before, the second was a "replay".
#[tokio::test]
async fn two_deliveries_of_one_body_in_one_second_are_both_accepted() {
    let (addr, runs) = counting_receiver(seed_layer()).await;
    let signer = Signer::x_webhook(secret());
    let at = now();
    let mut stamps = Vec::new();
    for (id, event) in [("d-created", "user.created"), ("d-deleted", "user.deleted")] {
        let mut headers = HeaderMap::new();
        headers.insert("x-webhook-event", event.parse().unwrap());
        stamps.push(signer.sign_unique(&mut headers, id, at, b"{}").unwrap());
        let reply = deliver(addr, &headers, b"{}").await;
        assert_eq!(reply.status, StatusCode::OK, "{event}: {}", reply.body);
    }
    assert_eq!(stamps, [at, at + 1]);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// Issue 13, item 2: the first attempt reached the receiver but the sender
/// saw a failure; its retry (same delivery id, signed afresh within the same
/// second) is acknowledged as a duplicate, 2xx, without running the handler
/// again. The identical request again is a replay: 401.
#[tokio::test]
async fn a_retry_of_a_processed_delivery_is_acknowledged_not_rerun() {
    let (addr, runs) = counting_receiver(seed_layer()).await;
    let signer = Signer::x_webhook(secret());
    let at = now();
    let mut first = HeaderMap::new();
    signer.sign_unique(&mut first, "d-1", at, b"{}").unwrap();
    assert_eq!(deliver(addr, &first, b"{}").await.status, StatusCode::OK);

    let mut retry = HeaderMap::new();
    assert_eq!(
        signer.sign_unique(&mut retry, "d-1", at, b"{}").unwrap(),
        at + 1
    );
    let acknowledged = deliver(addr, &retry, b"{}").await;
    assert_eq!(acknowledged.status, StatusCode::OK);
    assert_eq!(
        acknowledged.body,
        r#"{"duplicate":true,"delivery_id":"d-1"}"#
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran again");

    let replay = deliver(addr, &first, b"{}").await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.body.contains("replayed_delivery"), "{}", replay.body);
    assert!(replay.body.contains("signed content"), "{}", replay.body);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Issue 13, item 2: a delivery whose handler failed is not remembered, so
/// the sender's retry runs it again.
#[tokio::test]
async fn a_failed_delivery_is_run_again_on_retry() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let app = Router::new().route(
        "/hook",
        post(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        })
        .layer(seed_layer()),
    );
    let addr = serve_axum(app).await;
    let signer = Signer::x_webhook(secret());
    let at = now();
    for expected in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK] {
        let mut headers = HeaderMap::new();
        signer
            .sign_unique(&mut headers, "d-retry", at, b"{}")
            .unwrap();
        assert_eq!(deliver(addr, &headers, b"{}").await.status, expected);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// Issue 13, item 5: `v1,AAAA v1,<valid>` verifies by its valid entry, as the
/// Standard Webhooks libraries do; a list with no usable entry is refused.
#[tokio::test]
async fn unusable_standard_signature_entries_are_skipped() {
    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let key = || WebhookSecret::standard(KEY).unwrap();
    let (addr, runs) = counting_receiver(VerifyWebhookLayer::new(Verifier::standard(key()))).await;
    let shapes = [
        "v1,AAAA {valid}",
        "v1a,AAAA v1 nonsense {valid}",
        "v2,AAAA {valid} v1,!!!!",
    ];
    for (n, shape) in shapes.into_iter().enumerate() {
        let mut headers = Signer::standard(key()).sign(&format!("msg_{n}"), now(), b"{}");
        let valid = headers["webhook-signature"].to_str().unwrap().to_owned();
        let list = shape.replace("{valid}", &valid);
        headers.insert("webhook-signature", list.parse().unwrap());
        let reply = deliver(addr, &headers, b"{}").await;
        assert_eq!(reply.status, StatusCode::OK, "{list}: {}", reply.body);
    }
    assert_eq!(runs.load(Ordering::SeqCst), shapes.len());

    let mut headers = Signer::standard(key()).sign("msg_x", now(), b"{}");
    headers.insert("webhook-signature", "v1,AAAA v1a,BBBB".parse().unwrap());
    let reply = deliver(addr, &headers, b"{}").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.body.contains("malformed_signature_header"),
        "{}",
        reply.body
    );
    let nine = ["v1,AAAA"; 9].join(" ");
    headers.insert("webhook-signature", nine.parse().unwrap());
    let reply = deliver(addr, &headers, b"{}").await;
    assert!(reply.body.contains("more than 8"), "{}", reply.body);
}

/// Opens a connection that sends a webhook's head announcing `length` bytes
/// and `sent` of them, then waits. Returns the status line the server sent
/// (empty if it closed without one) and how long it took.
async fn unfinished_body(
    addr: SocketAddr,
    headers: &HeaderMap,
    length: usize,
    sent: usize,
) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b'a'; sent]).await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
        .await
        .map_or(0, |read| read.unwrap_or(0));
    let text = String::from_utf8_lossy(&answer[..n]);
    (
        text.lines().next().unwrap_or_default().to_owned(),
        started.elapsed(),
    )
}

/// Issue 13, item 3: bodies that announce 1 MiB and stop a byte short are
/// bounded in memory (past the in-flight budget: 503 at once) and in time (a
/// body not complete within the deadline: 408). A message whose headers
/// already fail is refused before its body is read.
#[tokio::test]
async fn unfinished_bodies_are_bounded_in_memory_and_time() {
    const MIB: usize = 1024 * 1024;
    let layer = seed_layer()
        .max_in_flight(4 * MIB)
        .body_timeout(Duration::from_secs(2));
    let (addr, runs) = counting_receiver(layer).await;
    let mut headers = HeaderMap::new();
    Signer::x_webhook(secret())
        .sign_unique(&mut headers, "d-slow", now(), b"x")
        .unwrap();

    // No signature headers: 401 without waiting for the body.
    let (status, took) = unfinished_body(addr, &HeaderMap::new(), MIB, 10).await;
    assert!(status.contains("401"), "{status}");
    assert!(
        took < Duration::from_secs(2),
        "waited {took:?} for a body it did not need"
    );
    // Over the limit by its Content-Length: 413 at once.
    let (status, _) = unfinished_body(addr, &headers, 2 * MIB, 10).await;
    assert!(status.contains("413"), "{status}");

    // Twenty such bodies: four fit the budget and time out with 408; the
    // rest are refused at once with 503.
    let held: Vec<_> = (0..20)
        .map(|_| {
            let headers = headers.clone();
            tokio::spawn(async move { unfinished_body(addr, &headers, MIB, MIB - 1).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in held {
        let (status, took) = handle.await.unwrap();
        assert!(took < Duration::from_secs(25), "{status} after {took:?}");
        statuses.push(status);
    }
    let timed_out = statuses.iter().filter(|s| s.contains("408")).count();
    let busy = statuses.iter().filter(|s| s.contains("503")).count();
    assert_eq!(timed_out + busy, 20, "{statuses:?}");
    assert!(
        timed_out <= 4,
        "{timed_out} bodies held past a 4 MiB budget"
    );
    assert!(busy >= 16, "{statuses:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    // The budget is returned: a whole delivery goes through.
    let mut fresh = HeaderMap::new();
    Signer::x_webhook(secret())
        .sign_unique(&mut fresh, "d-after", now(), b"x")
        .unwrap();
    assert_eq!(deliver(addr, &fresh, b"x").await.status, StatusCode::OK);
}

/// The attacker's review of the fix above: requests that pass the header
/// checks (any 64 hex digits and the current time) and announce 1 MiB but
/// send nothing hold no budget, so a real delivery still goes through.
#[tokio::test]
async fn announced_but_unsent_bodies_hold_no_budget() {
    const MIB: usize = 1024 * 1024;
    let layer = seed_layer()
        .max_in_flight(2 * MIB)
        .body_timeout(Duration::from_secs(3));
    let (addr, runs) = counting_receiver(layer).await;
    let mut forged = HeaderMap::new();
    forged.insert(
        "x-webhook-signature-256",
        format!("sha256={}", "0".repeat(64)).parse().unwrap(),
    );
    forged.insert("x-webhook-timestamp", now().to_string().parse().unwrap());
    let stalled: Vec<_> = (0..20)
        .map(|_| {
            let forged = forged.clone();
            tokio::spawn(async move { unfinished_body(addr, &forged, MIB, 0).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut real = HeaderMap::new();
    Signer::x_webhook(secret())
        .sign_unique(&mut real, "d-real", now(), &[b'x'; 4096])
        .unwrap();
    let reply = deliver(addr, &real, &[b'x'; 4096]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    for handle in stalled {
        let (status, _) = handle.await.unwrap();
        assert!(status.contains("408"), "{status}");
    }
}

/// The attacker's review: in the seed scheme the delivery id is not signed, so
/// a captured message resent under another id must not mark that id as
/// processed for a different delivery (which would then be acknowledged as a
/// duplicate and lost).
#[tokio::test]
async fn a_resent_message_under_another_id_cannot_swallow_a_real_delivery() {
    let (addr, runs) = counting_receiver(seed_layer()).await;
    let signer = Signer::x_webhook(secret());
    let at = now();
    let mut captured = HeaderMap::new();
    signer
        .sign_unique(&mut captured, "d-captured", at, b"old event")
        .unwrap();
    // The attacker delivers the captured message first, under the id of a
    // delivery still to come.
    captured.insert("x-webhook-delivery-id", "d-victim".parse().unwrap());
    assert_eq!(
        deliver(addr, &captured, b"old event").await.status,
        StatusCode::OK
    );
    // The real d-victim, another body: processed, not swallowed.
    let mut victim = HeaderMap::new();
    signer
        .sign_unique(&mut victim, "d-victim", at, b"new event")
        .unwrap();
    let reply = deliver(addr, &victim, b"new event").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "processed", "swallowed as a duplicate");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
