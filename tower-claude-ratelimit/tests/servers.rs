//! The layer on real servers over TCP: axum with connect info, tonic with a
//! tonic client, and plain hyper with the core's peer-address helper.

use std::convert::Infallible;

use axum::{Router, routing::get as route_get};
use http::StatusCode;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tower::Layer;
use tower_claude_ratelimit::{Quota, RateLimitLayer};
use tower_claude_testkit::{get, listener, serve_axum};

#[tokio::test]
async fn axum_with_connect_info() {
    let app = Router::new()
        .route("/", route_get(|| async { "hello" }))
        .route("/health", route_get(|| async { "ok" }))
        .layer(RateLimitLayer::per_ip(Quota::per_minute(2)).exempt_paths(["/health"]));
    let addr = serve_axum(app).await;

    for remaining in ["1", "0"] {
        let reply = get(addr, "/", &[]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "hello");
        assert_eq!(reply.headers["x-ratelimit-remaining"], remaining);
    }
    let refused = get(addr, "/", &[("x-forwarded-for", "192.0.2.99")]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers["retry-after"], "30");
    assert_eq!(refused.headers["ratelimit"], r#""default";r=0;t=60"#);
    assert!(
        refused.body.contains(r#""code":"rate_limited""#),
        "{}",
        refused.body
    );
    assert_eq!(get(addr, "/health", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn axum_without_connect_info_is_a_500_naming_the_fix() {
    let app = Router::new()
        .route("/", route_get(|| async { "hello" }))
        .layer(RateLimitLayer::per_ip(Quota::per_minute(2)));
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..3 {
        let reply = get(addr, "/", &[]).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            reply.body.contains("missing_client_address"),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn tonic_client_sees_resource_exhausted() {
    let layer = RateLimitLayer::per_ip(Quota::per_minute(2));
    let (_, mut client) = tower_claude_testkit::grpc::serve_health(layer).await;
    for _ in 0..2 {
        let reply = client.check(HealthCheckRequest::default()).await.unwrap();
        assert_eq!(reply.metadata().get("x-ratelimit-limit").unwrap(), "2");
    }
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(status.message(), "rate limit exceeded; retry in 30 s");
    assert_eq!(status.metadata().get("retry-after").unwrap(), "30");
}

#[tokio::test]
async fn plain_hyper_with_insert_peer_addr() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower_claude_core::InsertPeerAddr;

    let (listener, addr) = listener().await;
    // One layer, so every connection shares its buckets.
    let layer = RateLimitLayer::per_ip(Quota::per_minute(3).burst(1));
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let app = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"plain hyper"),
                )))
            });
            let service = InsertPeerAddr::new(layer.layer(app), peer);
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    let first = get(addr, "/", &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, "plain hyper");
    assert_eq!(first.headers["ratelimit-policy"], r#""default";q=1;w=20"#);
    // A new connection from the same address shares the bucket.
    let second = get(addr, "/", &[]).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.headers["retry-after"], "20");
}
