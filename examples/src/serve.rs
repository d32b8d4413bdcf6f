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

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tower::{Service, ServiceExt};
use tower_claude_core::{
    GrpcStatus, Ipv6Prefix, PeerAddr, Rejection, RequestHead, ResponseBody, SharedResponder,
};

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

/// Serves `service` on `listener` until `shutdown` resolves, then lets open
/// connections finish (at most `request_timeout` more).
///
/// Every request carries the peer address as [`PeerAddr`] and as axum's
/// `ConnectInfo<SocketAddr>`, so the layers and axum extractors both see it.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = Arc::new(builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
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
        let first_request = Arc::new(Notify::new());
        let activity = Arc::new(Activity::new());
        let per_request = deadline(service.clone(), limits.request_timeout);
        let seen = Arc::clone(&first_request);
        let active = Arc::clone(&activity);
        let per_connection = tower::service_fn(move |mut request: Request<Incoming>| {
            seen.notify_one();
            request.extensions_mut().insert(PeerAddr(peer));
            request.extensions_mut().insert(ConnectInfo(peer));
            // Open until the response body ends: a long stream (gRPC
            // Health/Watch, a slow download) is activity, not idleness.
            let open = Open::new(Arc::clone(&active));
            let call = per_request.clone().oneshot(request);
            async move {
                let response = call.await?;
                Ok::<_, Infallible>(response.map(|body| OpenBody::new(body, open)))
            }
        });
        let builder = Arc::clone(&builder);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _held = held;
            let connection = builder.serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(per_connection),
            );
            tokio::pin!(connection);
            // HTTP/1 heads have hyper's own deadline; this one also bounds an
            // HTTP/2 handshake and first HEADERS, which hyper does not.
            let head = tokio::time::sleep(limits.head_timeout);
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

/// One connection of a client, counted while it lives.
struct PerClient {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl PerClient {
    /// Counts a new connection of `ip`'s client, unless it holds `max` already.
    fn admit(clients: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let key = Ipv6Prefix::DEFAULT.apply(ip);
        let mut counts = clients.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(Self {
            clients: Arc::clone(clients),
            key,
        })
    }
}

impl Drop for PerClient {
    fn drop(&mut self) {
        let mut counts = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The requests in flight on one connection, and when the last one ended.
struct Activity {
    started: Instant,
    open: AtomicUsize,
    /// Milliseconds after `started` at which the last request ended.
    last_end_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            open: AtomicUsize::new(0),
            last_end_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long no request has been in flight; zero while one is.
    fn idle_for(&self) -> Duration {
        if self.open.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = self
            .now_ms()
            .saturating_sub(self.last_end_ms.load(Ordering::Acquire));
        Duration::from_millis(since)
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as open until the body
    /// ends (or is dropped with the connection).
    struct OpenBody<B> {
        #[pin]
        body: B,
        open: Option<Open>,
    }
}

impl<B> OpenBody<B> {
    fn new(body: B, open: Open) -> Self {
        Self {
            body,
            open: Some(open),
        }
    }
}

impl<B: Body> Body for OpenBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        if let std::task::Poll::Ready(None | Some(Err(_))) = &polled {
            this.open.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// One request in flight; its end (answered or dropped) is recorded on drop.
struct Open(Arc<Activity>);

impl Open {
    fn new(activity: Arc<Activity>) -> Self {
        activity.open.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.last_end_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.open.fetch_sub(1, Ordering::AcqRel);
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

/// `service` with a deadline per request: past it the client gets 503 (gRPC:
/// `DEADLINE_EXCEEDED`) and the handler's work is dropped.
fn deadline<S, ReqB, B>(
    service: S,
    timeout: Duration,
) -> impl Service<
    Request<ReqB>,
    Response = Response<ResponseBody<B>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<ResponseBody<B>>, Infallible>> + Send,
> + Clone
+ Send
+ 'static
where
    S: Service<Request<ReqB>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    B: Send + 'static,
{
    let responder = SharedResponder::default();
    tower::service_fn(move |request: Request<ReqB>| {
        let head = (
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
            request.version(),
        );
        let call = service.clone().oneshot(request);
        let responder = responder.clone();
        async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(response)) => Ok(response.map(ResponseBody::inner)),
                Ok(Err(never)) => match never {},
                Err(_) => {
                    let (method, uri, headers, version) = &head;
                    let rejection = Rejection::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        GrpcStatus::DeadlineExceeded,
                        "timeout_error",
                        "request_timeout",
                        format!(
                            "the request was not answered within {} s",
                            timeout.as_secs()
                        ),
                    );
                    let head = RequestHead::new(method, uri, headers).with_version(*version);
                    Ok(responder.respond(&head, &rejection))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second review: one host cannot take every connection slot.
    #[tokio::test]
    async fn one_client_holds_at_most_its_share_of_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = tower::service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from("ok"))))
        });
        let limits = Limits {
            max_connections_per_client: 2,
            ..Limits::default()
        };
        tokio::spawn(serve(listener, service, limits, std::future::pending()));
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        // Let the server count them before the third arrives.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::io::AsyncReadExt::read(&mut third, &mut buf),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "the third connection was kept: {read:?}"
        );
        // A held one still serves.
        let mut first = held.remove(0);
        tokio::io::AsyncWriteExt::write_all(&mut first, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = tokio::io::AsyncReadExt::read(&mut first, &mut buf)
            .await
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    }

    /// The second review: a response still streaming is activity; the idle
    /// timeout does not cut it.
    #[tokio::test]
    async fn a_long_stream_is_not_idle() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = tower::service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Ticking::new(8, Duration::from_millis(200))))
        });
        // An idle connection would be shut down gracefully after 300 ms and
        // dropped 500 ms later, well before the 1.6 s stream ends.
        let limits = Limits {
            idle_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_millis(500),
            http2_only: true,
            ..Limits::default()
        };
        tokio::spawn(serve(listener, service, limits, std::future::pending()));
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = Request::get(format!("http://{addr}/"))
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        assert_eq!(body.unwrap().to_bytes().len(), 8, "the stream was cut");
    }

    /// A body of `left` one-byte frames, one every `every`.
    struct Ticking {
        left: usize,
        every: Duration,
        sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    }

    impl Ticking {
        fn new(left: usize, every: Duration) -> Self {
            Self {
                left,
                every,
                sleep: Box::pin(tokio::time::sleep(every)),
            }
        }
    }

    impl Body for Ticking {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            if self.left == 0 {
                return std::task::Poll::Ready(None);
            }
            std::task::ready!(self.sleep.as_mut().poll(cx));
            self.left -= 1;
            let every = self.every;
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + every);
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b"x")))))
        }
    }

    /// The attacker's review: an HTTP/2 connection that made one request and
    /// then sits idle (answering PINGs, as every client does) is closed after
    /// the idle timeout rather than holding a connection slot forever.
    #[tokio::test]
    async fn an_idle_http2_connection_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = tower::service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from("ok"))))
        });
        let limits = Limits {
            idle_timeout: Duration::from_millis(800),
            http2_only: true,
            ..Limits::default()
        };
        tokio::spawn(serve(listener, service, limits, std::future::pending()));
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let closed = tokio::spawn(connection);
        let request = Request::get(format!("http://{addr}/"))
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        assert_eq!(
            sender.send_request(request).await.unwrap().status(),
            StatusCode::OK
        );
        let ended = tokio::time::timeout(Duration::from_secs(20), closed).await;
        assert!(
            ended.is_ok(),
            "the idle connection was still open after 20 s"
        );
    }

    async fn never_answers(_: Request<()>) -> Result<Response<String>, Infallible> {
        std::future::pending().await
    }

    /// Issue 13, item 6: a request is answered within the deadline, HTTP with
    /// 503 and gRPC with `DEADLINE_EXCEEDED`, never left hanging.
    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_is_answered() {
        let service = deadline(tower::service_fn(never_answers), Duration::from_secs(30));
        let response = service.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

        let grpc = Request::builder()
            .version(http::Version::HTTP_2)
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        let response = service.oneshot(grpc).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "4");
    }
}
