//! The transport peer: where servers put it and how a plain hyper server adds it.

use std::net::SocketAddr;
use std::task::{Context, Poll};

use http::{Extensions, Request};
use tower_layer::Layer;
use tower_service::Service;

/// A request extension saying that this server terminated TLS on the
/// connection the request came in on.
///
/// The scheme a client writes (`:scheme https` in HTTP/2, an absolute-form
/// `https://` target in HTTP/1) is the client's to lie about over cleartext, so
/// layers that act on HTTPS (HSTS, the HTTPS redirect) believe only this, or a
/// trusted proxy's `X-Forwarded-Proto`. An accept loop that terminates TLS
/// inserts it into every request of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TlsConnection;

/// The address of the TCP peer of a connection, as a request extension.
///
/// axum and tonic record the peer themselves (see [`peer_addr`]); a plain hyper
/// server records nothing, so its accept loop wraps each connection's service in
/// [`InsertPeerAddr`], which inserts this extension into every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The peer address a server recorded for this request, looked up in order:
/// [`PeerAddr`], axum's `ConnectInfo<SocketAddr>` (feature `axum`), tonic's
/// `TcpConnectInfo` (feature `tonic`), and the `TlsConnectInfo` around it
/// that a tonic server with TLS records instead (feature `tonic-tls`).
pub fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0);
    }
    #[cfg(feature = "tonic")]
    if let Some(addr) = extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(tonic::transport::server::TcpConnectInfo::remote_addr)
    {
        return Some(addr);
    }
    #[cfg(feature = "tonic-tls")]
    if let Some(addr) = extensions
        .get::<tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>>()
        .and_then(|tls| tls.get_ref().remote_addr())
    {
        return Some(addr);
    }
    None
}

/// Wraps a connection's service so that every request on it carries the
/// connection's [`PeerAddr`].
///
/// ```no_run
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use hyper::body::Incoming;
/// use hyper_util::rt::{TokioExecutor, TokioIo};
/// use hyper_util::server::conn::auto::Builder;
/// use hyper_util::service::TowerToHyperService;
/// use tower_claude_core::InsertPeerAddr;
///
/// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     let app = tower::service_fn(|_req: Request<Incoming>| async {
///         Ok::<_, Infallible>(Response::new(String::from("hello")))
///     });
///     let service = TowerToHyperService::new(InsertPeerAddr::new(app, peer));
///     tokio::spawn(async move {
///         let _ = Builder::new(TokioExecutor::new())
///             .serve_connection(TokioIo::new(stream), service)
///             .await;
///     });
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InsertPeerAddr<S> {
    inner: S,
    peer: SocketAddr,
}

crate::inner_service_access!(InsertPeerAddr<S>);

impl<S> InsertPeerAddr<S> {
    /// Wraps `inner` for a connection from `peer`.
    pub fn new(inner: S, peer: SocketAddr) -> Self {
        Self { inner, peer }
    }

    /// A [`Layer`] that does the same, for `ServiceBuilder` stacks built per connection.
    pub fn layer(peer: SocketAddr) -> InsertPeerAddrLayer {
        InsertPeerAddrLayer { peer }
    }
}

impl<S, B> Service<Request<B>> for InsertPeerAddr<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.extensions_mut().insert(PeerAddr(self.peer));
        self.inner.call(req)
    }
}

/// The [`Layer`] of [`InsertPeerAddr`] for one connection.
#[derive(Debug, Clone, Copy)]
pub struct InsertPeerAddrLayer {
    peer: SocketAddr,
}

impl<S> Layer<S> for InsertPeerAddrLayer {
    type Service = InsertPeerAddr<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InsertPeerAddr::new(inner, self.peer)
    }
}
