//! The full stack, as the reference server orders it (headers -> rate limit ->
//! auth), against the peers a user would stack instead: tower-http's seven
//! set-header layers, tower_governor with its headers, tower-http's bearer
//! check.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::Request;
use tower::{ServiceBuilder, service_fn};
use tower_claude_auth::{BearerAuthLayer, Credential};
use tower_claude_core::TlsConnection;
use tower_claude_headers::security::SecurityHeadersLayer;
use tower_claude_ratelimit::RateLimitHeaders;
use tower_http::validate_request::ValidateRequestHeaderLayer;

use crate::auth::TOKEN;
use crate::headers::tower_http_headers;
use crate::ratelimit::{axum_body, ours, tower_governor_config};
use crate::{BenchService, Body, bare, finish};

/// The scenarios, by name. The peers' stack wraps a service answering with
/// axum's body (tower_governor requires it): compare it with
/// `baseline-axum-body`, ours with `baseline`.
pub const SCENARIOS: [&str; 4] = ["baseline", "baseline-axum-body", "peers", "ours"];

/// A request over TLS with the valid token, from one client address.
pub fn scenario_request(_scenario: &str) -> Request<Body> {
    let mut request = Request::get("https://example.com/api")
        .version(http::Version::HTTP_2)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::default())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40000))));
    request.extensions_mut().insert(TlsConnection);
    request
}

/// A service for `scenario`.
pub async fn service(scenario: &str) -> BenchService {
    let inner = service_fn(bare);
    match scenario {
        "baseline" => finish(inner),
        "baseline-axum-body" => finish(axum_body(inner)),
        "peers" => {
            let governor = tower_governor_config(
                &mut tower_governor::governor::GovernorConfigBuilder::default().use_headers(),
            );
            // Deprecated upstream as "too basic", but it is the peer users reach for.
            #[allow(deprecated)]
            let bearer = ValidateRequestHeaderLayer::bearer(TOKEN);
            finish(tower_http_headers(
                ServiceBuilder::new()
                    .layer(tower_governor::GovernorLayer::new(governor))
                    .layer(bearer)
                    .service(axum_body(inner)),
            ))
        }
        "ours" => finish(
            ServiceBuilder::new()
                .layer(SecurityHeadersLayer::web())
                .layer(ours(RateLimitHeaders::Both))
                .layer(BearerAuthLayer::new(Credential::plaintext(TOKEN)))
                .service(inner),
        ),
        other => panic!("unknown scenario {other}; known: {SCENARIOS:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run;

    /// Both stacks let the valid request through with every layer's headers:
    /// a stack that refused it would bench a refusal.
    #[tokio::test]
    async fn both_stacks_admit_and_mark_the_response() {
        for scenario in ["peers", "ours"] {
            let mut service = service(scenario).await;
            let response = run(&mut service, scenario_request(scenario)).await;
            assert_eq!(response.status(), http::StatusCode::OK, "{scenario}");
            let headers = response.headers();
            assert!(
                headers.contains_key("content-security-policy"),
                "{scenario}"
            );
            assert!(headers.contains_key("x-ratelimit-remaining"), "{scenario}");
            assert!(
                headers.contains_key("strict-transport-security"),
                "{scenario}"
            );
        }
    }
}
