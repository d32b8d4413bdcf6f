//! End to end on sockets: a hyper-util client with the signing layer and the
//! retry policy, against an axum receiver behind the verifying layer.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::routing::post;
use axum::{Extension, Router};
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{BoxError, Service, ServiceExt};
use tower_claude_testkit::{http_client, listener, send_map, serve_axum};
use tower_claude_webhook::{
    AttemptError, AttemptFailure, DeliveryError, DeliveryPolicy, DeliveryReport, MemoryReplayCache,
    SendError, SignWebhookLayer, Signer, UnixClock, VerifiedWebhook, Verifier, VerifyWebhookLayer,
    WebhookSecret, webhook_client,
};

const SECRET: &str = "end-to-end secret";
const PAYLOAD: &[u8] = b"{\"task\": 7,  \"state\":\"done\"}\n";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the receiver's handler saw: one entry per verified request.
type Seen = Arc<Mutex<Vec<(VerifiedWebhook, Bytes)>>>;

/// A receiver verifying the seed scheme that answers `statuses` in turn, then 200.
async fn receiver(
    statuses: Vec<(StatusCode, Option<&'static str>)>,
) -> (std::net::SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let calls = Arc::new(AtomicU32::new(0));
    let record = Arc::clone(&seen);
    let handler = move |Extension(hook): Extension<VerifiedWebhook>, body: Bytes| {
        let record = Arc::clone(&record);
        let calls = Arc::clone(&calls);
        let statuses = statuses.clone();
        async move {
            record.lock().unwrap().push((hook, body));
            let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
            let (status, retry_after) = statuses.get(n).copied().unwrap_or((StatusCode::OK, None));
            let mut response = axum::response::Response::new(axum::body::Body::from("ack"));
            *response.status_mut() = status;
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", value.parse().unwrap());
            }
            response
        }
    };
    let verifier = Verifier::seed(WebhookSecret::new(SECRET).unwrap())
        .replay_cache(MemoryReplayCache::new(1000));
    let app = Router::new().route(
        "/hook",
        post(handler).layer(VerifyWebhookLayer::new(verifier)),
    );
    (serve_axum(app).await, seen)
}

/// A signer whose clock ticks one second per signature, so that each attempt
/// carries a distinct timestamp without the test waiting seconds.
fn sign_layer() -> SignWebhookLayer {
    let tick = Arc::new(AtomicU64::new(now()));
    SignWebhookLayer::new(Signer::seed(WebhookSecret::new(SECRET).unwrap()))
        .event("task.completed")
        .allow_http_loopback()
        .clock(UnixClock::from_fn(move || {
            tick.fetch_add(1, Ordering::SeqCst)
        }))
}

fn fast_policy() -> DeliveryPolicy {
    DeliveryPolicy::default()
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(50))
        .attempt_timeout(Duration::from_secs(5))
}

fn webhook(url: String) -> Request<Full<Bytes>> {
    Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(PAYLOAD)))
        .unwrap()
}

async fn deliver(
    policy: DeliveryPolicy,
    sign: SignWebhookLayer,
    url: String,
) -> Result<http::Response<hyper::body::Incoming>, BoxError> {
    let mut client = webhook_client(http_client(), sign, policy);
    ServiceExt::<Request<Full<Bytes>>>::ready(&mut client)
        .await?
        .call(webhook(url))
        .await
}

#[tokio::test]
async fn two_503s_then_200_is_three_attempts_under_one_id() {
    let unavailable = (StatusCode::SERVICE_UNAVAILABLE, None);
    let (addr, seen) = receiver(vec![unavailable, unavailable]).await;
    let response = deliver(fast_policy(), sign_layer(), format!("http://{addr}/hook"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report = response
        .extensions()
        .get::<DeliveryReport>()
        .unwrap()
        .clone();
    assert_eq!(report.attempts, 3);
    assert_eq!(report.status, StatusCode::OK);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "every attempt verified by the receiver");
    let ids: Vec<_> = seen
        .iter()
        .map(|(hook, _)| hook.delivery_id.clone().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == report.delivery_id), "{ids:?}");
    let mut stamps: Vec<u64> = seen
        .iter()
        .map(|(hook, _)| hook.timestamp.unwrap())
        .collect();
    stamps.dedup();
    assert_eq!(stamps.len(), 3, "each attempt signed afresh: {stamps:?}");
    for (hook, body) in seen.iter() {
        assert_eq!(hook.event.as_deref(), Some("task.completed"));
        assert_eq!(body.as_ref(), PAYLOAD, "the handler gets the raw bytes");
    }
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (addr, seen) = receiver(vec![(StatusCode::BAD_REQUEST, None)]).await;
    let response = deliver(fast_policy(), sign_layer(), format!("http://{addr}/hook"))
        .await
        .unwrap();
    let report = response.extensions().get::<DeliveryReport>().unwrap();
    assert_eq!(
        (report.attempts, report.status),
        (1, StatusCode::BAD_REQUEST)
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_retry_after_is_waited_for() {
    let (addr, seen) = receiver(vec![(StatusCode::TOO_MANY_REQUESTS, Some("1"))]).await;
    let policy = fast_policy().max_delay(Duration::from_secs(2));
    let started = Instant::now();
    let response = deliver(policy, sign_layer(), format!("http://{addr}/hook"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn retries_run_out_on_a_refused_connection() {
    let (closed, addr) = listener().await;
    drop(closed);
    let error = deliver(fast_policy(), sign_layer(), format!("http://{addr}/hook"))
        .await
        .unwrap_err();
    let error = error.downcast::<DeliveryError>().unwrap();
    assert_eq!(
        error.attempts(),
        4,
        "the first attempt and 3 retries: {error}"
    );
}

#[tokio::test]
async fn an_attempt_that_hangs_times_out_and_is_retried() {
    let (listener, addr) = listener().await;
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let policy = fast_policy()
        .retries(1)
        .attempt_timeout(Duration::from_millis(200));
    let error = deliver(policy, sign_layer(), format!("http://{addr}/hook"))
        .await
        .unwrap_err();
    let error = error.downcast::<DeliveryError>().unwrap();
    assert_eq!(error.attempts(), 2);
    let attempt = std::error::Error::source(&*error)
        .and_then(|e| e.downcast_ref::<AttemptError>())
        .unwrap();
    assert_eq!(
        attempt.failure(),
        AttemptFailure::TimedOut(Duration::from_millis(200))
    );
}

#[tokio::test]
async fn plain_http_and_oversized_bodies_are_refused_before_sending() {
    let signer = || Signer::seed(WebhookSecret::new(SECRET).unwrap());
    let strict = SignWebhookLayer::new(signer());
    let error = deliver(fast_policy(), strict, "http://example.com/hook".into())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("is not https://"), "{message}");

    let (addr, seen) = receiver(vec![]).await;
    let small = SignWebhookLayer::new(signer())
        .allow_http_loopback()
        .max_body(8);
    let error = deliver(fast_policy(), small, format!("http://{addr}/hook"))
        .await
        .unwrap_err();
    let error = error.downcast::<DeliveryError>().unwrap();
    let cause = std::error::Error::source(&*error)
        .and_then(|e| e.downcast_ref::<SendError>())
        .unwrap();
    assert_eq!(*cause, SendError::BodyTooLarge { limit: 8 });
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_receiver_refuses_what_it_must() {
    let (addr, seen) = receiver(vec![]).await;
    let signer = Signer::seed(WebhookSecret::new(SECRET).unwrap());
    let post = |headers: http::HeaderMap, body: &'static [u8]| async move {
        send_map(addr, http::Method::POST, "/hook", &headers, body).await
    };

    let good = signer.sign("msg_e2e_1", now(), PAYLOAD);
    assert_eq!(post(good.clone(), PAYLOAD).await.status, StatusCode::OK);
    let replay = post(good.clone(), PAYLOAD).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(
        replay.body.contains(r#""code":"replayed_delivery""#),
        "{}",
        replay.body
    );

    let tampered = post(signer.sign("msg_e2e_2", now(), PAYLOAD), b"{\"task\": 8}").await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    assert!(
        tampered.body.contains(r#""code":"bad_signature""#),
        "{}",
        tampered.body
    );

    let stale = post(signer.sign("msg_e2e_3", now() - 3600, PAYLOAD), PAYLOAD).await;
    assert!(
        stale.body.contains(r#""code":"timestamp_too_old""#),
        "{}",
        stale.body
    );
    let future = post(signer.sign("msg_e2e_4", now() + 3600, PAYLOAD), PAYLOAD).await;
    assert!(
        future.body.contains(r#""code":"timestamp_in_future""#),
        "{}",
        future.body
    );

    let unsigned = post(http::HeaderMap::new(), PAYLOAD).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert!(
        unsigned
            .body
            .contains(r#""code":"missing_signature_header""#),
        "{}",
        unsigned.body
    );

    static BIG: [u8; 2 * 1024 * 1024] = [b'x'; 2 * 1024 * 1024];
    let too_big = post(signer.sign("msg_e2e_5", now(), &BIG), &BIG).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only the good one reached the handler"
    );
}

#[tokio::test]
async fn standard_webhooks_end_to_end() {
    let secret = WebhookSecret::generate().unwrap();
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = Router::new().route(
        "/hook",
        post(
            move |Extension(hook): Extension<VerifiedWebhook>, body: Bytes| {
                let record = Arc::clone(&record);
                async move {
                    record.lock().unwrap().push((hook, body));
                    "ok"
                }
            },
        )
        .layer(VerifyWebhookLayer::new(Verifier::standard(
            WebhookSecret::standard(&secret.expose_standard()).unwrap(),
        ))),
    );
    let addr = serve_axum(app).await;
    let sign = SignWebhookLayer::new(Signer::standard(secret)).allow_http_loopback();
    let response = deliver(fast_policy(), sign, format!("http://{addr}/hook"))
        .await
        .unwrap();
    let report = response.extensions().get::<DeliveryReport>().unwrap();
    assert_eq!(report.status, StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].0.delivery_id.as_deref(),
        Some(report.delivery_id.as_str())
    );
    assert!(report.delivery_id.starts_with("msg_"));
}
