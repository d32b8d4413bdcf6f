//! The accept loop every program serves with: bounded in time and memory per
//! connection, so a slow or silent client cannot hold the server.
//!
//! `axum::serve` and tonic's `Server` set no deadline on a request head, so a
//! client that sends headers a byte at a time (slowloris) holds its connection
//! and its buffer for as long as it likes. Here:
//!
//! | limit | default | what it stops |
//! | --- | --- | --- |
//! | [`Limits::head_timeout`] | 10 s | a request head (HTTP/1) or a first request (HTTP/2) not complete in time: the connection is closed |
//! | [`Limits::max_head_bytes`] | 64 KiB | a larger HTTP/1 head: 431; HTTP/2 header lists over 16 KiB: refused |
//! | [`Limits::request_timeout`] | 30 s | a request (body and handler) not answered in time: 503, gRPC `DEADLINE_EXCEEDED` |
//! | HTTP/2 keep-alive | PING every 20 s, 10 s to answer | an HTTP/2 peer that stopped answering |
//! | [`Limits::idle_timeout`] | 60 s | a connection with no request open for that long: closed (HTTP/1 idles end at the head timeout already) |
//! | [`Limits::max_connections`] | 4,096 | accepting past that waits until a connection closes |
//! | [`Limits::max_connections_per_client`] | 256 | a client (an address, or an IPv6 `/64`) holding more: new ones are closed at once |

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Service, ServiceExt};
use tower_claude_core::{PeerAddr, TlsConnection};

mod activity;
mod deadline;
mod per_client;

use activity::{Activity, Open, OpenBody};
use deadline::deadline;
use per_client::{Clients, PerClient};

/// The per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The time a request head may take to arrive, from the connection's
    /// start or the previous response (HTTP/1), or to the first request
    /// (HTTP/2).
    pub head_timeout: Duration,
    /// The largest HTTP/1 request head buffered.
    pub max_head_bytes: usize,
    /// The time a request (reading its body included) may take to be answered.
    pub request_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client (an address, or an IPv6 `/64`) may hold at once,
    /// so that one host cannot take every slot. Behind a proxy every
    /// connection comes from the proxy: raise it there.
    pub max_connections_per_client: usize,
    /// Whether to speak HTTP/2 only (gRPC).
    pub http2_only: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_connections_per_client: 256,
            http2_only: false,
        }
    }
}

/// HTTP/2 header lists larger than this are refused.
const MAX_HTTP2_HEADER_LIST: u32 = 16 * 1024;

/// What the accept loop serves: a cloneable service of hyper requests that
/// never fails, whose body hyper can send.
pub trait Served:
    Service<
        Request<Incoming>,
        Response = Response<<Self as Served>::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type Body: Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static;
}

impl<S, B> Served for S
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Body = B;
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets open
/// connections finish (at most `request_timeout` more).
///
/// Every request carries the peer address as [`PeerAddr`] and as axum's
/// `ConnectInfo<SocketAddr>`, so the layers and axum extractors both see it.
pub async fn serve<S: Served>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, None, service, limits, shutdown).await;
}

/// [`serve`] over TLS: the handshake and the first request must both end
/// within the head timeout. Every request carries the peer as tonic's own
/// `TlsConnectInfo<TcpConnectInfo>`, the extension a tonic server with TLS
/// records (read by the layers with tower-claude-core's `tonic-tls` feature),
/// and [`TlsConnection`], which tells the headers layer the request came over
/// HTTPS.
pub async fn serve_tls<S: Served>(
    listener: TcpListener,
    tls: TlsAcceptor,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, Some(tls), service, limits, shutdown).await;
}

async fn serve_with<S: Served>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients: Clients = Arc::default();
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(held) = PerClient::admit(&clients, peer.ip(), limits.max_connections_per_client)
        else {
            tracing::debug!(%peer, "too many connections from this client: closing");
            drop(stream);
            continue;
        };
        let connection = Connection {
            peer,
            service: service.clone(),
            builder: Arc::clone(&builder),
            limits,
            stopped: stopped.clone(),
        };
        let tls = tls.clone();
        // One deadline for the TLS handshake and the first request together,
        // so a TLS connection holds its slots no longer than a plain one.
        let head_deadline = tokio::time::Instant::now() + limits.head_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let _held = held;
            let Some(tls) = tls else {
                return connection
                    .run(stream, Stamp::Plain(peer), head_deadline)
                    .await;
            };
            match tokio::time::timeout_at(head_deadline, tls.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let info = tonic::transport::server::Connected::connect_info(&stream);
                    connection
                        .run(stream, Stamp::Tls(info), head_deadline)
                        .await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => {
                    tracing::debug!(%peer, "no TLS handshake within the head timeout: closing")
                }
            }
        });
    }
    let _ = stop.send(true);
    // Let connections that are finishing a request end it.
    let _ = tokio::time::timeout(limits.request_timeout, async {
        let _ = slots
            .acquire_many(limits.max_connections.max(1) as u32)
            .await;
    })
    .await;
}

/// What every request of a connection carries to say who the peer is.
#[derive(Clone)]
enum Stamp {
    /// [`PeerAddr`] and axum's `ConnectInfo`.
    Plain(SocketAddr),
    /// tonic's TLS connection info, as a tonic server with TLS records it,
    /// and [`TlsConnection`].
    Tls(TlsConnectInfo<TcpConnectInfo>),
}

impl Stamp {
    fn apply(&self, extensions: &mut http::Extensions) {
        match self {
            Self::Plain(peer) => {
                extensions.insert(PeerAddr(*peer));
                extensions.insert(ConnectInfo(*peer));
            }
            Self::Tls(info) => {
                extensions.insert(info.clone());
                // HTTPS to the headers layer (HSTS, the redirect).
                extensions.insert(TlsConnection);
            }
        }
    }
}

/// One accepted connection, served until it ends, idles out or the server stops.
struct Connection<S> {
    peer: SocketAddr,
    service: S,
    builder: Arc<Builder<TokioExecutor>>,
    limits: Limits,
    stopped: watch::Receiver<bool>,
}

impl<S: Served> Connection<S> {
    async fn run<I>(self, io: I, stamp: Stamp, head_deadline: tokio::time::Instant)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            peer,
            service,
            builder,
            limits,
            mut stopped,
        } = self;
        let first_request = Arc::new(Notify::new());
        let activity = Arc::new(Activity::new());
        let per_request = deadline(service, limits.request_timeout);
        let seen = Arc::clone(&first_request);
        let active = Arc::clone(&activity);
        let per_connection = tower::service_fn(move |mut request: Request<Incoming>| {
            seen.notify_one();
            stamp.apply(request.extensions_mut());
            // Open until the response body ends: a long stream (gRPC
            // Health/Watch, a slow download) is activity, not idleness.
            let open = Open::new(Arc::clone(&active));
            let call = per_request.clone().oneshot(request);
            async move {
                let response = call.await?;
                Ok::<_, Infallible>(response.map(|body| OpenBody::new(body, open)))
            }
        });
        let connection =
            builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(per_connection));
        tokio::pin!(connection);
        // HTTP/1 heads have hyper's own deadline; this one also bounds an
        // HTTP/2 handshake and first HEADERS, which hyper does not.
        let head = tokio::time::sleep_until(head_deadline);
        tokio::pin!(head);
        let mut waiting_for_first = true;
        let mut idle_check =
            tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(10)));
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                () = first_request.notified(), if waiting_for_first => {
                    waiting_for_first = false;
                }
                () = &mut head, if waiting_for_first => {
                    tracing::debug!(%peer, "no request within the head timeout: closing");
                    return;
                }
                _ = idle_check.tick(), if !waiting_for_first => {
                    if activity.idle_for() >= limits.idle_timeout {
                        tracing::debug!(%peer, "idle past the idle timeout: closing");
                        connection.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(limits.request_timeout, connection.as_mut()).await;
                        return;
                    }
                }
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.request_timeout, connection.as_mut()).await;
                    return;
                }
            }
        }
    }
}

fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    if limits.http2_only {
        builder = builder.http2_only();
    }
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(limits.max_head_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HTTP2_HEADER_LIST)
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

#[cfg(test)]
mod tests;
