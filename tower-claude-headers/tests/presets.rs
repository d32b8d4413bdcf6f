//! Each preset's exact header values, checked against their sources.

use std::convert::Infallible;

use http::{HeaderMap, Request, Response};
use tower::{Layer, ServiceExt, service_fn};
use tower_claude_headers::HeaderConfigError;
use tower_claude_headers::security::{
    Csp, Hsts, ONE_YEAR, PermissionsPolicy, SecurityHeadersBuilder, SecurityHeadersLayer,
};

async fn headers_of(layer: SecurityHeadersLayer, request: Request<()>) -> HeaderMap {
    let service = layer.layer(service_fn(|_req: Request<()>| async {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert("server", "hyper/1.0".parse().unwrap());
        response
            .headers_mut()
            .insert("x-powered-by", "Rust".parse().unwrap());
        Ok::<_, Infallible>(response)
    }));
    service.oneshot(request).await.unwrap().headers().clone()
}

fn https_request() -> Request<()> {
    // HTTP/2 over TLS this server terminated: the accept loop says so.
    let mut request = Request::get("https://example.com/")
        .version(http::Version::HTTP_2)
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(tower_claude_core::TlsConnection);
    request
}

fn assert_exactly(headers: &HeaderMap, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(
            headers.get(*name).map(|v| v.to_str().unwrap()),
            Some(*value),
            "{name}"
        );
    }
    assert_eq!(headers.len(), expected.len(), "{headers:?}");
}

/// helmet 8's defaults, value for value (REFERENCE.md, "Security-header values").
#[tokio::test]
async fn web_is_helmets_default_set() {
    let headers = headers_of(SecurityHeadersLayer::web(), https_request()).await;
    assert_exactly(
        &headers,
        &[
            (
                "content-security-policy",
                "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
            ),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("origin-agent-cluster", "?1"),
            ("referrer-policy", "no-referrer"),
            (
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            ),
            ("x-content-type-options", "nosniff"),
            ("x-dns-prefetch-control", "off"),
            ("x-download-options", "noopen"),
            ("x-frame-options", "SAMEORIGIN"),
            ("x-permitted-cross-domain-policies", "none"),
            ("x-xss-protection", "0"),
        ],
    );
}

#[tokio::test]
async fn strict_api_values() {
    let headers = headers_of(SecurityHeadersLayer::strict_api(), https_request()).await;
    assert_exactly(
        &headers,
        &[
            (
                "content-security-policy",
                "default-src 'none';frame-ancestors 'none'",
            ),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            (
                "strict-transport-security",
                "max-age=63072000; includeSubDomains",
            ),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            (
                "permissions-policy",
                "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()",
            ),
            ("x-permitted-cross-domain-policies", "none"),
            ("cache-control", "no-store, max-age=0"),
        ],
    );
}

#[tokio::test]
async fn basic_values() {
    let headers = headers_of(SecurityHeadersLayer::basic(), https_request()).await;
    assert_exactly(
        &headers,
        &[
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            (
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            ),
            ("content-security-policy", "default-src 'self'"),
        ],
    );
}

#[tokio::test]
async fn server_headers_removal_is_switchable() {
    let kept = SecurityHeadersBuilder::basic()
        .remove_server_headers(false)
        .build();
    let headers = headers_of(kept, https_request()).await;
    assert_eq!(headers["server"], "hyper/1.0");
    assert_eq!(headers["x-powered-by"], "Rust");
}

#[tokio::test]
async fn single_headers_can_be_removed_and_overridden() {
    let layer = SecurityHeadersBuilder::web()
        .remove("X-Download-Options")
        .remove("strict-transport-security")
        .csp_report_only(
            Csp::new()
                .directive("default-src", ["'self'"])
                .report_uri("/csp"),
        )
        .build();
    let headers = headers_of(layer, https_request()).await;
    assert!(headers.get("x-download-options").is_none());
    assert!(headers.get("strict-transport-security").is_none());
    assert!(headers.get("content-security-policy").is_none());
    assert_eq!(
        headers["content-security-policy-report-only"],
        "default-src 'self';report-uri /csp"
    );
}

#[test]
fn invalid_policies_are_refused_at_build() {
    assert_eq!(
        SecurityHeadersBuilder::new()
            .hsts(
                Hsts::new(ONE_YEAR / 2)
                    .include_subdomains(true)
                    .preload(true)
            )
            .try_build()
            .unwrap_err(),
        HeaderConfigError::PreloadRequirements
    );
    assert!(
        SecurityHeadersBuilder::new()
            .hsts(Hsts::new(ONE_YEAR).preload(true))
            .try_build()
            .is_err()
    );
    assert!(
        SecurityHeadersBuilder::new()
            .hsts(Hsts::new(ONE_YEAR).include_subdomains(true).preload(true))
            .try_build()
            .is_ok()
    );
    assert!(
        SecurityHeadersBuilder::new()
            .csp(Csp::new().directive("script-src", ["'self'; object-src *"]))
            .try_build()
            .is_err()
    );
    assert!(
        SecurityHeadersBuilder::new()
            .permissions_policy(PermissionsPolicy::new().deny("Camera"))
            .try_build()
            .is_err()
    );
    assert!(
        SecurityHeadersBuilder::new()
            .permissions_policy(PermissionsPolicy::new().allow("geolocation", ["\"evil"]))
            .try_build()
            .is_err()
    );
}

/// A scheme the client wrote says nothing about the connection: neither an
/// HTTP/1 absolute-form `GET https://example.com/` on a plain connection nor,
/// over cleartext HTTP/2 (h2c), `:scheme https` (issue 13, item 7) gets HSTS.
#[tokio::test]
async fn a_scheme_the_client_wrote_is_not_https() {
    for version in [http::Version::HTTP_11, http::Version::HTTP_2] {
        let request = Request::get("https://example.com/")
            .version(version)
            .body(())
            .unwrap();
        let response = SecurityHeadersLayer::web()
            .layer(service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(()))
            }))
            .oneshot(request)
            .await
            .unwrap();
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn a_request_claiming_grpc_keeps_the_browser_headers_of_an_html_page() {
    let request = Request::get("/")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let response = SecurityHeadersLayer::web()
        .layer(service_fn(|_req: Request<()>| async {
            let mut page = Response::new(());
            page.headers_mut()
                .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
            Ok::<_, Infallible>(page)
        }))
        .oneshot(request)
        .await
        .unwrap();
    assert!(response.headers().contains_key("content-security-policy"));
    assert!(response.headers().contains_key("x-frame-options"));
}
