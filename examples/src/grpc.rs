//! The gRPC server: health and echo behind rate limiting and auth.

use std::net::SocketAddr;

use tokio_rustls::TlsAcceptor;
use tonic::service::Routes;
use tower::ServiceBuilder;

use crate::serve::Limits;

use crate::echo::EchoServer;
use crate::stack::Stack;

/// The gRPC health check: public, and never rate limited (probes poll it,
/// like the HTTP health routes).
pub const GRPC_HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// The paths a gRPC client may call without a token.
pub const PUBLIC_RPCS: [&str; 1] = [GRPC_HEALTH_CHECK];

/// Serves health and echo behind the stack's rate limiting and auth, over
/// HTTP/2 only (over TLS with `tls`, offering ALPN `h2`), until `shutdown` resolves, with the limits of [`crate::serve`]
/// (tonic's own `Server` sets no deadline on an HTTP/2 handshake or first
/// request, so the loop is ours).
pub async fn serve(
    stack: Stack,
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), std::convert::Infallible> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<EchoServer>().await;
    let routes = Routes::new(health).add_service(EchoServer).prepare();
    let service = ServiceBuilder::new()
        .layer(stack.ratelimit)
        .layer(stack.auth)
        .service(routes);
    let limits = Limits {
        http2_only: true,
        ..Limits::default()
    };
    match tls {
        Some(tls) => crate::serve::serve_tls(listener, tls, service, limits, shutdown).await,
        None => crate::serve::serve(listener, service, limits, shutdown).await,
    }
    Ok(())
}

/// The address `grpc-server` listens on by default.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50051);
