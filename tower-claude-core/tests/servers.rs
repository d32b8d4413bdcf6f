//! The core on real servers over real sockets: axum with connect info, tonic with
//! its `TcpConnectInfo`, plain hyper with `InsertPeerAddr`. Each shows the layer
//! sees the true peer, refuses with the right shape, and that a server set up
//! without peer addresses gets a 500 rather than a shared identity.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get as get_route;
use http::StatusCode;
use support::GateLayer;
use tower_claude_core::{ClientIpResolver, IpCidr};
use tower_claude_testkit::{get, listener};

async fn serve_axum(layer: GateLayer, with_connect_info: bool) -> SocketAddr {
    let (listener, addr) = listener().await;
    let app = Router::new()
        .route("/who", get_route(|| async { "hello" }))
        .layer(layer);
    tokio::spawn(async move {
        if with_connect_info {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        } else {
            axum::serve(listener, app).await
        }
    });
    addr
}

#[tokio::test]
async fn axum_layer_sees_the_true_peer_and_ignores_spoofed_headers() {
    let addr = serve_axum(GateLayer::default(), true).await;
    let r = get(
        addr,
        "/who",
        &[("x-let-me-in", "yes"), ("x-forwarded-for", "6.6.6.6")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "hello");
    assert_eq!(r.headers["x-client-ip"], "127.0.0.1");
}

#[tokio::test]
async fn axum_layer_believes_a_trusted_proxy() {
    let layer = GateLayer {
        resolver: ClientIpResolver::new().trusted_proxies(IpCidr::loopback()),
        ..GateLayer::default()
    };
    let addr = serve_axum(layer, true).await;
    let r = get(
        addr,
        "/who",
        &[
            ("x-let-me-in", "yes"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-client-ip"], "203.0.113.5");
}

#[tokio::test]
async fn axum_refusal_is_the_json_body() {
    let addr = serve_axum(GateLayer::default(), true).await;
    let r = get(addr, "/who", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["www-authenticate"], r#"Bearer realm="test""#);
    assert_eq!(
        r.body,
        r#"{"error":{"message":"you shall not pass","type":"authentication_error","code":"missing_token"}}"#
    );
}

#[tokio::test]
async fn axum_without_connect_info_is_a_500_not_a_shared_identity() {
    let addr = serve_axum(GateLayer::default(), false).await;
    let r = get(addr, "/who", &[("x-let-me-in", "yes")]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.body.contains(r#""code":"missing_client_address""#),
        "{}",
        r.body
    );
    // The server keeps serving.
    let r = get(addr, "/who", &[("x-let-me-in", "yes")]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}

async fn serve_tonic(layer: GateLayer) -> SocketAddr {
    tower_claude_testkit::grpc::serve_health(layer).await.0
}

use tower_claude_testkit::grpc::health_client;

#[tokio::test]
async fn tonic_client_gets_unauthenticated_with_the_message() {
    let addr = serve_tonic(GateLayer::default()).await;
    let mut client = health_client(addr).await;
    let status = client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "you shall not pass");
}

#[tokio::test]
async fn tonic_layer_sees_the_true_peer() {
    let addr = serve_tonic(GateLayer::default()).await;
    let mut client = health_client(addr).await;
    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("x-let-me-in", "yes".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    let response = client.check(request).await.unwrap();
    assert_eq!(response.metadata().get("x-client-ip").unwrap(), "127.0.0.1");
    assert_eq!(
        response.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn hyper_server_with_insert_peer_addr() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::Layer;
    use tower_claude_core::InsertPeerAddr;

    let (listener, addr) = listener().await;
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
            let service = InsertPeerAddr::new(GateLayer::default().layer(app), peer);
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    let r = get(addr, "/", &[("x-let-me-in", "yes")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "plain hyper");
    assert_eq!(r.headers["x-client-ip"], "127.0.0.1");
    let r = get(addr, "/", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
