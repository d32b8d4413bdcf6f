//! The OAuth mode's routing on a real axum server, against an authorization
//! server played by an in-process client that counts its calls: which tokens
//! may reach the introspection endpoint, and which never do.
#![cfg(feature = "oauth")]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower_claude_auth::oauth::OAuth;
use tower_claude_auth::{BearerAuthLayer, Credential, Key, KeyStore};
use tower_claude_testkit::{get as get_request, serve_axum};

/// An introspection endpoint that calls every token active and counts them.
fn counting_client(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |request: Request<Full<Bytes>>| {
        let calls = Arc::clone(&calls);
        async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            assert!(body.starts_with(b"token="), "{body:?}");
            calls.fetch_add(1, Ordering::SeqCst);
            let answer = serde_json::json!({
                "active": true,
                "sub": "introspected",
                "aud": "https://api.example",
            });
            Ok(Response::new(Full::new(Bytes::from(answer.to_string()))))
        }
    })
}

#[tokio::test]
async fn named_api_keys_never_reach_the_introspection_endpoint() {
    let calls = Arc::new(AtomicUsize::new(0));
    let oauth = OAuth::builder(counting_client(Arc::clone(&calls)))
        .audience("https://api.example")
        .jwt(false)
        .introspection("http://127.0.0.1:9/introspect", "rs", "secret")
        .build()
        .unwrap();
    let keys = KeyStore::new();
    keys.insert("ci", Key::new(Credential::plaintext("ci-secret")))
        .unwrap();
    let app = Router::new()
        .route("/api", get(|| async { "ok" }))
        .layer(BearerAuthLayer::with_store(keys).oauth(oauth));
    let addr = serve_axum(app).await;
    let call = |token: &'static str| async move {
        let bearer = format!("Bearer {token}");
        get_request(addr, "/api", &[("authorization", &bearer)]).await
    };

    assert_eq!(call("ci.ci-secret").await.status, StatusCode::OK);
    // A wrong secret for a named key: refused here, never sent out.
    assert_eq!(call("ci.wrong-secret").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an API key was introspected"
    );
    // Any other token is introspected, once, then cached.
    assert_eq!(call("opaque-token").await.status, StatusCode::OK);
    assert_eq!(call("opaque-token").await.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
