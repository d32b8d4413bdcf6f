//! The OAuth scenarios' authorization server, in process: its metadata, key
//! set and introspection answers from a Tower service, and a JWT access
//! token signed with an Ed25519 key made from a fixed seed here (a benchmark
//! fixture, not a secret).

use std::convert::Infallible;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower_claude_auth::oauth::OAuth;

/// The issuer the scenarios trust.
pub const ISSUER: &str = "https://issuer.bench.example";
/// The resource the scenarios' tokens are for.
pub const AUDIENCE: &str = "https://api.bench.example";
/// The opaque token the introspection answer calls active.
pub const OPAQUE_TOKEN: &str = "opaque-bench-token-0123456789abcdef";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

/// An EdDSA access token for [`AUDIENCE`] from [`ISSUER`], valid for years
/// (signed once: requests of the scenario carry the same token).
pub fn jwt() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(sign)
}

fn sign() -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"bench"}"#);
    let claims = serde_json::json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bench",
        "scope": "read",
        "exp": 4_102_444_800u64,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(key().sign(signing_input.as_bytes()).to_bytes());
    format!("{signing_input}.{signature}")
}

fn answer(path: &str) -> (StatusCode, String) {
    match path {
        "/.well-known/oauth-authorization-server" => (
            StatusCode::OK,
            serde_json::json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks")})
                .to_string(),
        ),
        "/jwks" => {
            let x = URL_SAFE_NO_PAD.encode(key().verifying_key().to_bytes());
            (
                StatusCode::OK,
                serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "bench", "x": x}]})
                    .to_string(),
            )
        }
        "/introspect" => (
            StatusCode::OK,
            serde_json::json!({"active": true, "sub": "bench", "scope": "read", "aud": AUDIENCE, "exp": 4_102_444_800u64})
                .to_string(),
        ),
        _ => (StatusCode::NOT_FOUND, String::new()),
    }
}

/// The verifier, calling the in-process server: JWTs, and introspection.
pub fn verifier() -> OAuth {
    let client = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let (status, body) = answer(request.uri().path());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    });
    OAuth::builder(client)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .introspection(&format!("{ISSUER}/introspect"), "bench", "bench-secret")
        .build()
        .unwrap()
}
