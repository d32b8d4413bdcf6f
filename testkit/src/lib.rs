//! Test helpers shared by the tower-claude crates: a free loopback port and a
//! real HTTP/1 client over a socket. Tests panic on their own failures, so these
//! helpers do too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

#[cfg(feature = "grpc")]
pub mod grpc;
pub mod redis;
#[cfg(feature = "tls")]
pub mod tls;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Binds a free port on 127.0.0.1.
pub async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// Serves `app` on a free loopback port with connect info, as a production axum
/// server behind these layers must be.
pub async fn serve_axum(app: axum::Router) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    addr
}

/// Paths that must never be public when `/health` (exact) and `/docs` (prefix)
/// are: the shapes of a decade of allowlist bypasses (REFERENCE.md, "Known
/// allowlist bypasses"). Each can be sent by an HTTP client as written.
pub const BYPASS_SHAPES: &[&str] = &[
    "//health",
    "/health/",
    "/health/../admin",
    "/health%2F..%2Fadmin",
    "/health;/../admin",
    "/%68ealth",
    "/HEALTH",
    "/healthz-admin",
    "/docsx",
    "/docs/..%2fadmin",
    "/docs/%2e%2e/admin",
    "/docs/%252e%252e/admin",
    "/docs//admin",
    "/docs/",
    "/docs;x",
    "/docs/%0aadmin",
    "/health%0a",
    "/Docs",
    "/docs/%5c..%5cadmin",
    "/./health",
    "/admin/../health",
    "/health/.",
];

/// The plain-HTTP client of [`http_client`].
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A plain HTTP/1 client.
pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

/// Sends a request over a real socket and reads the whole reply.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("a valid request");
    let response = http_client()
        .request(request)
        .await
        .expect("the server answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("the whole body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// [`send`] with the headers of a `HeaderMap` (a signer's output, say).
pub async fn send_map(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Reply {
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    send(addr, method, path, &pairs, body).await
}

/// A GET with text headers.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    send(addr, Method::GET, path, &headers, b"").await
}
