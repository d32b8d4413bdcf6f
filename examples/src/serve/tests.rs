//! The loop's limits, on real sockets.

use http::StatusCode;

use super::*;

/// Serves `service` with `limits` on a free loopback port.
async fn start<S: Served>(service: S, limits: Limits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, service, limits, std::future::pending()));
    addr
}

/// `GET /` over a new HTTP/2 connection; the connection's task ends when the
/// server closes it.
async fn h2_get(
    addr: std::net::SocketAddr,
) -> (
    Response<Incoming>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = Request::get(format!("http://{addr}/"))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    (sender.send_request(request).await.unwrap(), connection)
}

/// The second review: one host cannot take every connection slot.
#[tokio::test]
async fn one_client_holds_at_most_its_share_of_connections() {
    let service = tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from("ok"))))
    });
    let limits = Limits {
        max_connections_per_client: 2,
        ..Limits::default()
    };
    let addr = start(service, limits).await;
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
    let addr = start(service, limits).await;
    let (response, _connection) = h2_get(addr).await;
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
    let service = tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from("ok"))))
    });
    let limits = Limits {
        idle_timeout: Duration::from_millis(800),
        http2_only: true,
        ..Limits::default()
    };
    let addr = start(service, limits).await;
    let (response, closed) = h2_get(addr).await;
    assert_eq!(response.status(), StatusCode::OK);
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

/// TLS on the loop: a self-signed certificate made here, and a client that
/// trusts it.
mod tls {
    use std::sync::Arc;
    use std::time::Instant;

    use rustls::pki_types::ServerName;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::AsyncReadExt;
    use tower_claude_testkit::tls::TestCert;

    use super::*;

    /// Serves `service` over TLS with `limits`, and the client configuration
    /// that trusts it.
    async fn start_tls<S: Served>(
        service: S,
        limits: Limits,
    ) -> (std::net::SocketAddr, tokio_rustls::TlsConnector) {
        let cert = TestCert::new();
        let pems = cert.write();
        let acceptor = crate::tls::acceptor(
            std::path::Path::new(&pems.cert()),
            std::path::Path::new(&pems.key()),
            &[b"h2"],
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_tls(
            listener,
            acceptor,
            service,
            limits,
            std::future::pending(),
        ));
        let mut roots = rustls::RootCertStore::empty();
        let der = rustls::pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes());
        roots.add(der.unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        (addr, tokio_rustls::TlsConnector::from(Arc::new(config)))
    }

    fn localhost() -> ServerName<'static> {
        ServerName::try_from("localhost").unwrap()
    }

    /// Says what the layers would see: the TLS marker and tonic's TLS peer.
    async fn who(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
        let extensions = request.extensions();
        let peer = extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.get_ref().remote_addr())
            .map(|addr| addr.ip().to_string());
        let https = extensions.get::<TlsConnection>().is_some();
        Ok(Response::new(format!("https={https} peer={peer:?}")))
    }

    #[tokio::test]
    async fn a_request_over_tls_carries_the_tls_peer() {
        let (addr, connector) = start_tls(
            tower::service_fn(who),
            Limits {
                http2_only: true,
                ..Limits::default()
            },
        )
        .await;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = connector.connect(localhost(), tcp).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = Request::get(format!("https://localhost:{}/", addr.port()))
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, "https=true peer=Some(\"127.0.0.1\")");
    }

    /// A client that handshakes late and then sends nothing is closed at the
    /// one deadline that began at accept, not a fresh one after the handshake:
    /// a TLS connection holds its slots no longer than a plain one. The
    /// margins are wide: closed before 5 s where a second deadline would
    /// close it at 5.5 s and the shared one at 3 s.
    #[tokio::test]
    async fn the_handshake_and_the_first_request_share_one_deadline() {
        let limits = Limits {
            head_timeout: Duration::from_secs(3),
            http2_only: true,
            ..Limits::default()
        };
        let (addr, connector) = start_tls(tower::service_fn(who), limits).await;
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // Refused when the machine was slow enough to pass the deadline
        // first: closed all the same.
        if let Ok(mut stream) = connector.connect(localhost(), tcp).await {
            let mut buf = [0u8; 64];
            loop {
                match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(_)) => continue,
                    Err(_) => panic!("the connection was never closed"),
                }
            }
        }
        let held = started.elapsed();
        assert!(held < Duration::from_secs(5), "held {held:?}");
    }

    #[tokio::test]
    async fn a_connection_that_never_handshakes_is_closed() {
        let limits = Limits {
            head_timeout: Duration::from_millis(500),
            ..Limits::default()
        };
        let (addr, _connector) = start_tls(tower::service_fn(who), limits).await;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "closed without a handshake: {read:?}"
        );
    }
}
