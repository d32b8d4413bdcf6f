//! The replay cache on a real `redis-server`: a delivery accepted by one
//! receiver instance is refused by another on the same Redis.
#![cfg(feature = "redis")]

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::post;
use axum::{Extension, Router};
use http::{Method, StatusCode};
use tower_claude_testkit::redis::RedisServer;
use tower_claude_testkit::{send_map, serve_axum};
use tower_claude_webhook::{
    WebhookSecret,
    replay::{OnReplayCacheFailure, RedisReplayCache},
    sign::Signer,
    verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer},
};

async fn receiver(cache: RedisReplayCache) -> std::net::SocketAddr {
    let verifier = Verifier::x_webhook(WebhookSecret::new("shared").unwrap()).replay_cache(cache);
    let app = Router::new().route(
        "/hook",
        post(|Extension(_): Extension<VerifiedWebhook>| async { "ok" })
            .layer(VerifyWebhookLayer::new(verifier)),
    );
    serve_axum(app).await
}

async fn deliver(
    addr: std::net::SocketAddr,
    headers: &http::HeaderMap,
) -> tower_claude_testkit::Reply {
    send_map(addr, Method::POST, "/hook", headers, b"{}").await
}

#[tokio::test]
async fn a_delivery_replayed_to_another_instance_is_refused() {
    let mut redis = RedisServer::start();
    let first = receiver(RedisReplayCache::new(&redis.url()).unwrap()).await;
    let second = receiver(RedisReplayCache::new(&redis.url()).unwrap()).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed =
        Signer::x_webhook(WebhookSecret::new("shared").unwrap()).sign("msg_replay", now, b"{}");

    assert_eq!(deliver(first, &signed).await.status, StatusCode::OK);
    let replay = deliver(second, &signed).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.body.contains("replayed_delivery"), "{}", replay.body);
    // A retry of the same delivery, signed afresh, is acknowledged by either
    // as a duplicate of the processed delivery: 200, the handler not run.
    let retry =
        Signer::x_webhook(WebhookSecret::new("shared").unwrap()).sign("msg_replay", now + 1, b"{}");
    let acknowledged = deliver(second, &retry).await;
    assert_eq!(acknowledged.status, StatusCode::OK);
    assert!(
        acknowledged.body.contains(r#""duplicate":true"#),
        "{}",
        acknowledged.body
    );
    // Two messages, one key each (named by their signatures), and the
    // processed delivery's id, kept for the whole span their timestamps are
    // accepted: twice the window and a second.
    let keys = redis.cli_text(&["KEYS", "tcwh:*"]);
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    // The seed scheme does not sign the delivery id: the body's digest is
    // part of a delivery's key.
    let delivery = "tcwh:delivery:msg_replay:";
    assert!(keys.iter().any(|k| k.starts_with(delivery)), "{keys:?}");
    for key in keys {
        assert!(
            key.len() == "tcwh:".len() + 64
                || (key.starts_with(delivery) && key.len() == delivery.len() + 32),
            "{key}"
        );
        let ttl: i64 = redis.cli_text(&["PTTL", key]).parse().unwrap();
        assert!(ttl > 590_000 && ttl <= 601_000, "{key}: {ttl} ms");
    }

    // Redis down: the default refuses (503), the fallback remembers locally.
    redis.stop();
    let fresh =
        Signer::x_webhook(WebhookSecret::new("shared").unwrap()).sign("msg_down", now, b"{}");
    let down = deliver(first, &fresh).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        down.body.contains("replay_check_unavailable"),
        "{}",
        down.body
    );
    let fallback = receiver(
        RedisReplayCache::builder(redis.url())
            .on_failure(OnReplayCacheFailure::Fallback)
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(deliver(fallback, &fresh).await.status, StatusCode::OK);
    assert_eq!(
        deliver(fallback, &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// On a Redis Cluster (three primaries) the same: accepted by one instance,
/// refused as a replay by the other, and the keys spread over the nodes.
#[tokio::test]
async fn on_a_cluster_a_replay_to_another_instance_is_refused() {
    let cluster = tower_claude_testkit::redis::RedisCluster::start();
    let cache = || {
        RedisReplayCache::cluster_builder(cluster.urls())
            .build()
            .unwrap()
    };
    let (one, two) = (cache(), cache());
    for cache in [&one, &two] {
        cache
            .ping(std::time::Duration::from_secs(10))
            .await
            .unwrap();
    }
    let first = receiver(one).await;
    let second = receiver(two).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signer = Signer::x_webhook(WebhookSecret::new("shared").unwrap());
    for n in 0..30 {
        // The X-Webhook scheme signs timestamp and body, not the id: a
        // timestamp of its own makes each a new message.
        let signed = signer.sign(&format!("msg_cluster_{n}"), now - n, b"{}");
        assert_eq!(deliver(first, &signed).await.status, StatusCode::OK);
        let replay = deliver(second, &signed).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "message {n}");
    }
    let per_node: Vec<u64> = cluster
        .nodes()
        .iter()
        .map(|node| node.cli_text(&["DBSIZE"]).parse().unwrap())
        .collect();
    assert!(
        per_node.iter().all(|&keys| keys > 0),
        "keys spread over the nodes: {per_node:?}"
    );
}
