//! Scopes per route on a plain hyper 1 server (no framework): the auth layer,
//! then `RequireScopesLayer`, over a real socket.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_claude_auth::{BearerAuthLayer, Credential, Key, KeyStore, RequireScopesLayer};
use tower_claude_core::InsertPeerAddr;
use tower_claude_testkit::{get, listener};

#[tokio::test]
async fn a_key_without_the_routes_scope_gets_insufficient_scope() {
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
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let app = ServiceBuilder::new()
                .layer(BearerAuthLayer::with_store(keys.clone()))
                .layer(RequireScopesLayer::new(["admin"]))
                .service_fn(|_: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"admin"))))
                });
            let service = TowerToHyperService::new(InsertPeerAddr::new(app, peer));
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let denied = get(addr, "/admin", &[("authorization", "Bearer reader.r")]).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.headers["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"admin\""
    );
    let allowed = get(addr, "/admin", &[("authorization", "Bearer admin.a")]).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.body, "admin");
}
