//! The headers layer on real axum, tonic and hyper servers over TCP.

use std::collections::HashSet;
use std::net::SocketAddr;

use axum::routing::get;
use axum::{Extension, Router};
use http::StatusCode;
use tower_claude_auth::{BearerAuthLayer, Credential};
use tower_claude_core::{ClientIpResolver, IpCidr};
use tower_claude_headers::redirect::HttpsRedirectLayer;
use tower_claude_headers::security::{CspNonce, SecurityHeadersBuilder, SecurityHeadersLayer};
use tower_claude_testkit::{get as fetch, listener, serve_axum};

async fn serve(app: Router) -> SocketAddr {
    serve_axum(app).await
}

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            "/own",
            get(|| async {
                (
                    [
                        (
                            "content-security-policy",
                            "default-src 'self' https://cdn.example",
                        ),
                        ("x-frame-options", "DENY"),
                    ],
                    "mine",
                )
            }),
        )
        .route(
            "/page",
            get(|Extension(nonce): Extension<CspNonce>| async move {
                format!("<script nonce=\"{nonce}\"></script>")
            }),
        )
}

#[tokio::test]
async fn nonce_is_fresh_per_request_and_matches_header_and_page() {
    let layer = SecurityHeadersBuilder::web().csp_nonces(true).build();
    let addr = serve(app().layer(layer)).await;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let reply = fetch(addr, "/page", &[]).await;
        let nonce = reply
            .body
            .strip_prefix("<script nonce=\"")
            .and_then(|rest| rest.strip_suffix("\"></script>"))
            .unwrap()
            .to_owned();
        assert_eq!(nonce.len(), 24, "128 bits in base64");
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains(&format!("script-src 'self' 'nonce-{nonce}'")),
            "{csp}"
        );
        assert!(
            csp.contains(&format!(
                "style-src 'self' https: 'unsafe-inline' 'nonce-{nonce}'"
            )),
            "{csp}"
        );
        assert!(seen.insert(nonce), "nonces never repeat");
    }
}

#[tokio::test]
async fn the_handlers_own_headers_stay_unless_overwriting() {
    let addr = serve(app().layer(SecurityHeadersLayer::web())).await;
    let reply = fetch(addr, "/own", &[]).await;
    assert_eq!(
        reply.headers["content-security-policy"],
        "default-src 'self' https://cdn.example"
    );
    assert_eq!(reply.headers["x-frame-options"], "DENY");
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");

    let overwriting = SecurityHeadersBuilder::web().overwrite(true).build();
    let addr = serve(app().layer(overwriting)).await;
    let reply = fetch(addr, "/own", &[]).await;
    assert_eq!(reply.headers["x-frame-options"], "SAMEORIGIN");
}

#[tokio::test]
async fn hsts_only_over_https() {
    // Plain HTTP from an untrusted peer: no HSTS, even if it claims HTTPS.
    let addr = serve(app().layer(SecurityHeadersLayer::web())).await;
    let plain = fetch(addr, "/", &[]).await;
    assert!(plain.headers.get("strict-transport-security").is_none());
    let claimed = fetch(addr, "/", &[("x-forwarded-proto", "https")]).await;
    assert!(claimed.headers.get("strict-transport-security").is_none());

    // Behind a trusted proxy that says HTTPS: HSTS.
    let trusted = SecurityHeadersBuilder::web()
        .client_ip(ClientIpResolver::new().trusted_proxies(IpCidr::loopback()))
        .build();
    let addr = serve(app().layer(trusted)).await;
    let via_proxy = fetch(addr, "/", &[("x-forwarded-proto", "https")]).await;
    assert_eq!(
        via_proxy.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let proxy_says_http = fetch(addr, "/", &[("x-forwarded-proto", "http")]).await;
    assert!(
        proxy_says_http
            .headers
            .get("strict-transport-security")
            .is_none()
    );
    // The proxy's own (last) value wins over what the client typed before it.
    let spoof_then_http = fetch(addr, "/", &[("x-forwarded-proto", "https, http")]).await;
    assert!(
        spoof_then_http
            .headers
            .get("strict-transport-security")
            .is_none()
    );

    // Always, when asked.
    let always = SecurityHeadersBuilder::web().hsts_always(true).build();
    let addr = serve(app().layer(always)).await;
    assert!(
        fetch(addr, "/", &[])
            .await
            .headers
            .contains_key("strict-transport-security")
    );
}

#[tokio::test]
async fn refusals_and_404s_carry_the_headers() {
    let app = app()
        .layer(BearerAuthLayer::new(Credential::plaintext("t")))
        .layer(SecurityHeadersLayer::strict_api());
    let addr = serve(app).await;
    let refused = fetch(addr, "/", &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers["x-frame-options"], "DENY");
    assert_eq!(refused.headers["x-content-type-options"], "nosniff");
    let missing = fetch(addr, "/nowhere", &[("authorization", "Bearer t")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers["content-security-policy"],
        "default-src 'none';frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn redirect_refuses_hostile_hosts() {
    let redirect = HttpsRedirectLayer::new(["example.com", "*.example.org"])
        .exempt_paths(["/health"])
        .client_ip(ClientIpResolver::new().trusted_proxies(IpCidr::loopback()));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/{*rest}", get(|| async { "inner" }))
        .layer(redirect);
    let addr = serve(app).await;

    let ok = fetch(addr, "/a/b?c=d&e", &[("host", "Example.com:8080")]).await;
    assert_eq!(ok.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(ok.headers["location"], "https://example.com/a/b?c=d&e");
    let sub = fetch(addr, "/x", &[("host", "api.example.org")]).await;
    assert_eq!(sub.headers["location"], "https://api.example.org/x");

    for hostile in [
        "evil.example",
        "example.com.evil.example",
        "example.org",
        "evil.com@example.com",
        "example.com/evil",
    ] {
        let reply = fetch(addr, "/x", &[("host", hostile)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{hostile}");
        assert!(reply.headers.get("location").is_none(), "{hostile}");
    }
    assert_eq!(
        fetch(addr, "/health", &[("host", "evil.example")])
            .await
            .body,
        "ok"
    );
    let already = fetch(
        addr,
        "/x",
        &[("host", "example.com"), ("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(already.body, "inner");
}

#[tokio::test]
async fn grpc_responses_skip_browser_headers() {
    let (_, mut client) = tower_claude_testkit::grpc::serve_health(
        SecurityHeadersBuilder::web().hsts_always(true).build(),
    )
    .await;
    let response = client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    let metadata = response.metadata();
    assert!(metadata.get("content-security-policy").is_none());
    assert!(metadata.get("x-frame-options").is_none());
    assert_eq!(metadata.get("x-content-type-options").unwrap(), "nosniff");
    assert!(metadata.get("strict-transport-security").is_some());
}

#[tokio::test]
async fn plain_hyper_server() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::Layer;

    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let app = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"plain"),
                )))
            });
            let service = SecurityHeadersLayer::basic().layer(app);
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    let reply = fetch(addr, "/", &[]).await;
    assert_eq!(reply.body, "plain");
    assert_eq!(reply.headers["x-frame-options"], "DENY");
}
