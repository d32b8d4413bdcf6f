//! End to end on sockets: a webhook sender over a hyper-util client, against
//! an axum receiver behind the verifying layer.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::routing::post;
use axum::{Extension, Router};
use http::StatusCode;
use tower::{Service, ServiceExt};
use tower_claude_testkit::{http_client, listener, send_map, serve_axum};
use tower_claude_webhook::WebhookSecret;
use tower_claude_webhook::deliver::{
    DeliveryFailure, PlainHttp, RetryPolicy, SendError, Webhook, WebhookSender,
};
use tower_claude_webhook::replay::MemoryReplayCache;
use tower_claude_webhook::sign::Signer;
use tower_claude_webhook::verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer};

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
    let verifier = Verifier::x_webhook(WebhookSecret::new(SECRET).unwrap())
        .replay_cache(MemoryReplayCache::new(1000));
    let app = Router::new().route(
        "/hook",
        post(handler).layer(VerifyWebhookLayer::new(verifier)),
    );
    (serve_axum(app).await, seen)
}

/// A sender to loopback. Its attempts come within one second, and each still
/// carries signed content of its own: the signer moves the timestamp ahead.
fn sender(signer: Signer, policy: RetryPolicy) -> WebhookSender<tower_claude_testkit::HttpClient> {
    WebhookSender::new(http_client(), signer)
        .retry_policy(policy)
        .plain_http(PlainHttp::Loopback)
}

fn signer() -> Signer {
    Signer::x_webhook(WebhookSecret::new(SECRET).unwrap())
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(50))
        .attempt_timeout(Duration::from_secs(5))
}

fn webhook(url: String) -> Webhook {
    Webhook::new(url.parse().unwrap(), Bytes::from_static(PAYLOAD)).event("task.completed")
}

#[tokio::test]
async fn two_503s_then_200_is_three_attempts_under_one_id() {
    let unavailable = (StatusCode::SERVICE_UNAVAILABLE, None);
    let (addr, seen) = receiver(vec![unavailable, unavailable]).await;
    // Through tower's Service interface: the sender is a Service<Webhook>.
    let mut sender = sender(signer(), fast_policy());
    let report = ServiceExt::<Webhook>::ready(&mut sender)
        .await
        .unwrap()
        .call(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap();
    assert_eq!(report.attempts, 3);
    assert_eq!(report.status, StatusCode::OK);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "every attempt verified by the receiver");
    let ids: Vec<_> = seen
        .iter()
        .map(|(hook, _)| hook.delivery_id.clone().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| id == report.delivery_id.as_str()),
        "{ids:?}"
    );
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
    let error = sender(signer(), fast_policy())
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert_eq!(
        (error.attempts(), error.status()),
        (1, Some(StatusCode::BAD_REQUEST))
    );
    assert!(matches!(
        error.failure(),
        DeliveryFailure::Status(StatusCode::BAD_REQUEST)
    ));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_retry_after_is_waited_for() {
    let (addr, seen) = receiver(vec![(StatusCode::TOO_MANY_REQUESTS, Some("1"))]).await;
    let policy = fast_policy().max_delay(Duration::from_secs(2));
    let started = Instant::now();
    let report = sender(signer(), policy)
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap();
    assert_eq!(report.status, StatusCode::OK);
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
    let error = sender(signer(), fast_policy())
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert!(
        matches!(error.failure(), DeliveryFailure::Transport(_)),
        "{error}"
    );
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
    let error = sender(signer(), policy)
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 2);
    assert!(
        matches!(error.failure(), DeliveryFailure::TimedOut(after) if *after == Duration::from_millis(200)),
        "{error}"
    );
}

#[tokio::test]
async fn plain_http_and_oversized_bodies_are_refused_before_sending() {
    let (addr, seen) = receiver(vec![]).await;
    let strict = WebhookSender::new(http_client(), signer());
    let error = strict
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("is not https://"), "{message}");
    // A token in the path never reaches an error message.
    let tokened = Webhook::new(
        "http://hooks.example.com/services/T0/B0/secret-token"
            .parse()
            .unwrap(),
        Bytes::from_static(PAYLOAD),
    );
    let error = strict.send(tokened.clone()).await.unwrap_err();
    assert!(!error.to_string().contains("secret-token"), "{error}");
    assert!(
        !format!("{tokened:?}").contains("secret-token"),
        "{tokened:?}"
    );
    assert!(matches!(
        error.failure(),
        DeliveryFailure::Refused(SendError::InsecureEndpoint(_))
    ));
    assert_eq!(error.attempts(), 0);

    let small = sender(signer(), fast_policy()).max_body(8);
    let error = small
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert!(matches!(
        error.failure(),
        DeliveryFailure::Refused(SendError::BodyTooLarge { limit: 8 })
    ));

    // A byte a receiver would refuse in the header is refused here, before
    // sending: `HeaderValue` takes Latin-1, verifiers take visible ASCII.
    for event in ["task\ncompleted", "commande.payée"] {
        let error = sender(signer(), fast_policy())
            .send(webhook(format!("http://{addr}/hook")).event(event))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error.failure(),
                DeliveryFailure::Refused(SendError::InvalidHeader("event type"))
            ),
            "{event:?}: {error}"
        );
    }
    let bad_event = webhook(format!("http://{addr}/hook")).event("task\ncompleted");
    let error = sender(signer(), fast_policy())
        .send(bad_event)
        .await
        .unwrap_err();
    assert!(matches!(
        error.failure(),
        DeliveryFailure::Refused(SendError::InvalidHeader("event type"))
    ));
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_receiver_refuses_what_it_must() {
    let (addr, seen) = receiver(vec![]).await;
    let signer = Signer::x_webhook(WebhookSecret::new(SECRET).unwrap());
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
    let report = sender(Signer::standard(secret), fast_policy())
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap();
    assert_eq!(report.status, StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].0.delivery_id.as_deref(),
        Some(report.delivery_id.as_str())
    );
    assert!(report.delivery_id.as_str().starts_with("msg_"));
}

/// Review of issue 14: a sender whose clock stands still runs out of unique
/// seconds for one message after 61 attempts; the delivery then ends with the
/// receiver's last answer, not as "refused before sending".
#[tokio::test]
async fn out_of_unique_seconds_reports_the_receivers_last_answer() {
    let unavailable = (StatusCode::SERVICE_UNAVAILABLE, None);
    let (addr, seen) = receiver(vec![unavailable; 100]).await;
    let policy = RetryPolicy::default()
        .retries(100)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
        .attempt_timeout(Duration::from_secs(5));
    let stopped = tower_claude_core::Clock::manual(Duration::from_secs(now()));
    let error = sender(signer(), policy)
        .clock(stopped)
        .send(webhook(format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 61, "{error}");
    assert_eq!(
        error.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{error}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        61,
        "each attempt verified, none a replay"
    );
}
