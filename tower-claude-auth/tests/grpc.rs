//! The layer on a real tonic server, called by a real tonic client.

use std::time::Duration;

use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower_claude_auth::{
    Authenticated, BearerAuthLayer, Credential, Key, KeyStore, TokenVerifier, Verification,
    VerifyFuture,
};
use tower_claude_testkit::grpc::serve_health;

async fn serve(layer: BearerAuthLayer) -> HealthClient<Channel> {
    serve_health(layer).await.1
}

fn with_token(token: &str) -> tonic::Request<HealthCheckRequest> {
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn missing_wrong_and_right_tokens() {
    let mut client = serve(BearerAuthLayer::new(Credential::plaintext("grpc-token"))).await;

    let missing = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert_eq!(
        missing.message(),
        "this resource needs an `Authorization: Bearer <token>` header"
    );

    let wrong = client.check(with_token("nope")).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
    assert_eq!(wrong.message(), "the bearer token is not valid");

    let ok = client.check(with_token("grpc-token")).await.unwrap();
    assert_eq!(
        ok.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn grpc_health_can_stay_public() {
    let layer = BearerAuthLayer::new(Credential::plaintext("grpc-token"))
        .public_paths(["/grpc.health.v1.Health/Check"]);
    let mut client = serve(layer).await;
    assert!(client.check(HealthCheckRequest::default()).await.is_ok());
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied() {
    let store = KeyStore::new().with(
        "reader",
        Key::new(Credential::plaintext("r")).scopes(["read"]),
    );
    let mut client = serve(BearerAuthLayer::with_store(store).require_scopes(["admin"])).await;
    let denied = client.check(with_token("reader.r")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
}

/// A backend that is down.
struct Down;

impl TokenVerifier for Down {
    fn verify<'a>(&'a self, _token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async {
            Verification::Unavailable {
                retry_after: Duration::from_millis(2500),
            }
        })
    }
}

/// A backend that knows one token.
struct Introspection;

impl TokenVerifier for Introspection {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if token == "introspected" {
                Verification::Valid(Authenticated::new("oauth-client", ["read"]))
            } else {
                Verification::Invalid
            }
        })
    }
}

#[tokio::test]
async fn an_unavailable_backend_is_unavailable_not_unauthenticated() {
    let mut client = serve(BearerAuthLayer::with_verifier(Down)).await;
    let status = client.check(with_token("anything")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn a_custom_verifier_decides() {
    let mut client = serve(BearerAuthLayer::with_verifier(Introspection)).await;
    assert!(client.check(with_token("introspected")).await.is_ok());
    let status = client.check(with_token("other")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

/// Scopes per route on tonic: a named key without the scope gets
/// `PERMISSION_DENIED`; one with it passes.
#[tokio::test]
async fn a_key_without_the_routes_scope_is_permission_denied() {
    let keys = KeyStore::new();
    keys.insert(
        "reader",
        Key::new(Credential::plaintext("r")).scopes(["read"]),
    )
    .unwrap();
    keys.insert(
        "admin",
        Key::new(Credential::plaintext("a")).scopes(["admin"]),
    )
    .unwrap();
    let layers = tower::ServiceBuilder::new()
        .layer(BearerAuthLayer::with_store(keys))
        .layer(tower_claude_auth::RequireScopesLayer::new(["admin"]))
        .into_inner();
    let mut client = serve_health(layers).await.1;
    let denied = client.check(with_token("reader.r")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(client.check(with_token("admin.a")).await.is_ok());
    let missing = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
}
