//! Security-header scenarios: ours against seven tower-http `SetResponseHeaderLayer`s
//! and http-security-headers' strict preset.

use http::Request;
use http::header::{self, HeaderName, HeaderValue};
use tower::{Layer, service_fn};
use tower_claude_core::TlsConnection;
use tower_claude_headers::security::{SecurityHeadersBuilder, SecurityHeadersLayer};
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

use crate::{BenchService, Body, bare, finish};

/// The scenarios, by name.
pub const SCENARIOS: [&str; 7] = [
    "baseline",
    "tower-http-7x-set-header",
    "http-security-headers-strict",
    "ours-web",
    "ours-web-nonces",
    "ours-strict-api",
    "ours-basic",
];

/// A request over TLS (the `TlsConnection` extension a TLS-terminating
/// server inserts), so that HSTS is among the headers sent.
pub fn scenario_request(_scenario: &str) -> Request<Body> {
    let mut request = Request::get("https://example.com/")
        .version(http::Version::HTTP_2)
        .body(Body::default())
        .unwrap();
    request.extensions_mut().insert(TlsConnection);
    request
}

fn overriding(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// `inner` behind tower-http's seven set-header layers.
pub type SevenHeaders<S> = SetResponseHeader<
    SetResponseHeader<
        SetResponseHeader<
            SetResponseHeader<
                SetResponseHeader<
                    SetResponseHeader<SetResponseHeader<S, HeaderValue>, HeaderValue>,
                    HeaderValue,
                >,
                HeaderValue,
            >,
            HeaderValue,
        >,
        HeaderValue,
    >,
    HeaderValue,
>;

/// `inner` behind the seven headers a user sets with tower-http, one layer
/// each.
pub fn tower_http_headers<S>(inner: S) -> SevenHeaders<S> {
    let [a, b, c, d, e, f, g] = tower_http_set_headers();
    a.layer(b.layer(c.layer(d.layer(e.layer(f.layer(g.layer(inner)))))))
}

fn tower_http_set_headers() -> [SetResponseHeaderLayer<HeaderValue>; 7] {
    [
        overriding(header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        overriding(header::X_FRAME_OPTIONS, "DENY"),
        overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        overriding(header::REFERRER_POLICY, "no-referrer"),
        overriding(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
        overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        overriding(
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ]
}

/// A service for `scenario`.
pub async fn service(scenario: &str) -> BenchService {
    let inner = service_fn(bare);
    match scenario {
        "baseline" => finish(inner),
        "tower-http-7x-set-header" => finish(tower_http_headers(inner)),
        "http-security-headers-strict" => finish(
            http_security_headers::SecurityHeadersLayer::new(
                http_security_headers::Preset::Strict.build(),
            )
            .layer(inner),
        ),
        "ours-web" => finish(SecurityHeadersLayer::web().layer(inner)),
        // As the reference server runs it: a fresh CSP nonce per response.
        "ours-web-nonces" => finish(
            SecurityHeadersBuilder::web()
                .csp_nonces(true)
                .build()
                .layer(inner),
        ),
        "ours-strict-api" => finish(SecurityHeadersLayer::strict_api().layer(inner)),
        "ours-basic" => finish(SecurityHeadersLayer::basic().layer(inner)),
        other => panic!("unknown scenario {other}; known: {SCENARIOS:?}"),
    }
}
