//! Webhooks between reference servers over real sockets (issue 13, items 1,
//! 2 and 4): events are never lost, a duplicate never fails a delivery, and
//! `POST /api/notify` answers within its budget.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::routing::post;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use tower_claude_examples::config::{Rate, RedisOnFailure, ServerArgs};
use tower_claude_examples::web::reference_app_with;
use tower_claude_testkit::{http_client, send, serve_axum};
use tower_claude_webhook::deliver::RetryPolicy;

const SECRET: &str = "shared webhook secret";

fn args() -> ServerArgs {
    ServerArgs {
        bind: None,
        password_hash: None,
        password: Some("the-token".into()),
        rate_limit: Rate {
            count: 10_000,
            per: Duration::from_secs(60),
        },
        burst: None,
        max_clients: 1_000_000,
        trusted_proxies: Vec::new(),
        webhook_secret: Some(SECRET.into()),
        webhook_url: None,
        allow_insecure_webhooks: true,
        notify_budget: Duration::from_secs(5),
        redis_urls: Vec::new(),
        redis_on_failure: RedisOnFailure::Fallback,
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(50))
        .max_delay(Duration::from_millis(200))
        .attempt_timeout(Duration::from_secs(10))
}

async fn receiver() -> SocketAddr {
    let app = reference_app_with(&args(), RetryPolicy::default()).unwrap();
    serve_axum(app.router).await
}

async fn sender(target: String, budget: Duration) -> SocketAddr {
    let mut config = args();
    config.webhook_url = Some(target);
    config.notify_budget = budget;
    let app = reference_app_with(&config, quick_retries()).unwrap();
    serve_axum(app.router).await
}

async fn notify(sender: SocketAddr, event: &str, body: &[u8]) -> tower_claude_testkit::Reply {
    send(
        sender,
        Method::POST,
        "/api/notify",
        &[
            ("authorization", b"Bearer the-token"),
            ("x-webhook-event", event.as_bytes()),
        ],
        body,
    )
    .await
}

/// Item 1, the reviewer's example: two `POST /api/notify` within one second
/// with the same body and different events; both reach the receiver.
#[tokio::test]
async fn two_events_with_one_body_in_one_second_are_both_delivered() {
    let receiver = receiver().await;
    let sender = sender(
        format!("http://{receiver}/webhooks/incoming"),
        Duration::from_secs(20),
    )
    .await;
    for event in ["user.created", "user.deleted"] {
        let reply = notify(sender, event, br#"{"user":42}"#).await;
        assert_eq!(reply.status, StatusCode::OK, "{event}: {}", reply.body);
        let outcome: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(outcome["status"], 200, "{event}: {outcome}");
        assert_eq!(outcome["attempts"], 1, "{event}: {outcome}");
    }
}

/// A proxy in front of `target` that passes every request on but answers the
/// first with 503, as a proxy that lost the receiver's answer would. It keeps
/// the receiver's answers.
async fn lossy_proxy(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let answers = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&answers);
    let app = Router::new().route(
        "/webhooks/incoming",
        post(move |request: Request| {
            let seen = Arc::clone(&seen);
            async move {
                let (parts, body) = request.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let mut forward = http::Request::post(format!("http://{target}/webhooks/incoming"));
                for (name, value) in &parts.headers {
                    if name != http::header::HOST {
                        forward = forward.header(name, value);
                    }
                }
                let response = http_client()
                    .request(forward.body(Full::new(body)).unwrap())
                    .await
                    .unwrap();
                let status = response.status();
                let answer = response.into_body().collect().await.unwrap().to_bytes();
                let first = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(String::from_utf8_lossy(&answer).into_owned());
                    seen.len() == 1
                };
                if first {
                    (StatusCode::SERVICE_UNAVAILABLE, Bytes::new())
                } else {
                    (status, answer)
                }
            }
        }),
    );
    (serve_axum(app).await, answers)
}

/// Item 2: the first attempt reached the receiver, the sender saw a 503 from
/// a proxy and retried at once. The retry is acknowledged as a duplicate
/// (2xx), so the delivery succeeds and the event was processed once.
#[tokio::test]
async fn a_retry_after_a_lost_answer_is_acknowledged_as_a_duplicate() {
    let receiver = receiver().await;
    let (proxy, answers) = lossy_proxy(receiver).await;
    let sender = sender(
        format!("http://{proxy}/webhooks/incoming"),
        Duration::from_secs(20),
    )
    .await;
    let reply = notify(sender, "user.created", b"{}").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let outcome: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(outcome["attempts"], 2, "{outcome}");
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers[0].contains("user.created"),
        "processed once: {answers:?}"
    );
    assert!(answers[1].contains(r#""duplicate":true"#), "{answers:?}");
    assert!(!answers[1].contains("replayed"), "{answers:?}");
}

/// Item 4: a receiver that accepts and never answers. `POST /api/notify`
/// answers 202 with the delivery id once its budget is spent, while the
/// attempts go on in the background.
#[tokio::test]
async fn notify_answers_within_its_budget_against_a_silent_receiver() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            connections.push(stream);
        }
    });
    let sender = sender(
        format!("http://{silent_addr}/webhooks/incoming"),
        Duration::from_secs(1),
    )
    .await;
    let started = Instant::now();
    let reply = notify(sender, "notify", b"{}").await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(answer["pending"], true, "{answer}");
    assert!(
        answer["delivery_id"].as_str().unwrap().starts_with("msg_"),
        "{answer}"
    );
    held.abort();
}
