//! Bearer-auth scenarios: ours against tower-http's `ValidateRequestHeaderLayer::bearer`.

use std::net::SocketAddr;

use http::{Request, StatusCode};
use tower::{Layer, service_fn};
use tower_claude_auth::{BearerAuthLayer, Credential};
use tower_claude_core::PeerAddr;
use tower_http::validate_request::ValidateRequestHeaderLayer;

use crate::{BenchService, Body, bare, drive, finish};

/// The token every scenario accepts.
pub const TOKEN: &str = "bench-token-0123456789abcdef";
/// A bcrypt hash of [`TOKEN`] at cost 4, made with `bcrypt::hash` (the cost
/// does not matter once the verdict is cached).
pub const TOKEN_BCRYPT: &str = "$2b$04$SqL73ksETYVzzeOxGokx9uzfl7tK8Ep5J0OdCI7POIDei6MFqH0a2";

/// The scenarios, by name.
pub const SCENARIOS: [&str; 7] = [
    "baseline",
    "tower-http-bearer",
    "ours-plaintext",
    "ours-bcrypt-cached",
    "ours-public-path",
    "ours-oauth-jwt-cached",
    "ours-oauth-introspection-cached",
];

/// A request with the valid token, carrying the peer address as axum (with
/// connect info), tonic and the hyper helper all insert it: so the request
/// already has an extensions map, as it does on every real server.
pub fn request(path: &str) -> Request<Body> {
    request_with(path, TOKEN)
}

/// [`request`] with `token`.
pub fn request_with(path: &str, token: &str) -> Request<Body> {
    let mut request = Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::default())
        .unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr(SocketAddr::from(([127, 0, 0, 1], 40000))));
    request
}

/// A service for `scenario`, already warmed (a cached bcrypt verdict is in the cache).
pub async fn service(scenario: &str) -> BenchService {
    let inner = service_fn(bare);
    match scenario {
        "baseline" => finish(inner),
        // Deprecated upstream as "too basic", but it is the peer users reach for.
        #[allow(deprecated)]
        "tower-http-bearer" => finish(ValidateRequestHeaderLayer::bearer(TOKEN).layer(inner)),
        "ours-plaintext" => finish(BearerAuthLayer::new(Credential::plaintext(TOKEN)).layer(inner)),
        "ours-bcrypt-cached" => {
            let mut service =
                BearerAuthLayer::new(Credential::bcrypt(TOKEN_BCRYPT).unwrap()).layer(inner);
            // Warm the cache; a stale hash constant would bench the refusal instead.
            assert_eq!(drive(&mut service, request("/api")).await, StatusCode::OK);
            finish(service)
        }
        "ours-oauth-jwt-cached" | "ours-oauth-introspection-cached" => {
            // A password credential beside, as the reference server runs it.
            let mut service = BearerAuthLayer::new(Credential::plaintext(TOKEN))
                .oauth(crate::oauth::verifier())
                .layer(inner);
            // The first request fetches the keys (or introspects) and caches.
            let warm = drive(&mut service, scenario_request(scenario)).await;
            assert_eq!(warm, StatusCode::OK);
            finish(service)
        }
        "ours-public-path" => finish(
            BearerAuthLayer::new(Credential::plaintext(TOKEN))
                .public_paths(["/health"])
                .layer(inner),
        ),
        other => panic!("unknown scenario {other}; known: {SCENARIOS:?}"),
    }
}

/// The path each scenario requests.
pub fn path(scenario: &str) -> &'static str {
    if scenario == "ours-public-path" {
        "/health"
    } else {
        "/api"
    }
}

/// The request of `scenario`.
pub fn scenario_request(scenario: &str) -> Request<Body> {
    match scenario {
        "ours-oauth-jwt-cached" => request_with("/api", crate::oauth::jwt()),
        "ours-oauth-introspection-cached" => request_with("/api", crate::oauth::OPAQUE_TOKEN),
        _ => request(path(scenario)),
    }
}
