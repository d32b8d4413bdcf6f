//! The attacker's and the probes' side: one HTTP request, and this
//! process's resident memory.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub(crate) type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A keep-alive client (the flood, the spray, the latency probes).
pub(crate) fn pooled() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A client that opens a connection per request: what a new visitor does,
/// and what a server whose accept queue is held by an attacker cannot serve.
pub(crate) fn fresh_connections() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

/// A GET from client address `from` (forwarded by a trusted proxy), with a
/// bearer token or none: its status and headers, or `None` when no whole
/// answer came within 30 s.
pub(crate) async fn request(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    from: &str,
) -> Option<(StatusCode, HeaderMap)> {
    let mut builder =
        http::Request::get(format!("http://{addr}{path}")).header("x-forwarded-for", from);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = builder.body(Empty::new()).ok()?;
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let (parts, body) = response.into_parts();
        body.collect().await.ok()?;
        Some((parts.status, parts.headers))
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .ok()?
}

/// The status of [`request`].
pub(crate) async fn status(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    from: &str,
) -> Option<StatusCode> {
    request(client, addr, path, token, from)
        .await
        .map(|(status, _)| status)
}

/// This process's resident memory in MiB (server and attacker together: the
/// attacker's part stays constant while the server's grows or not).
pub(crate) fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
