//! The gRPC server: health and echo behind rate limiting and auth.

use std::net::SocketAddr;

use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::echo::EchoServer;
use crate::stack::Stack;

/// The paths a gRPC client may call without a token.
pub const PUBLIC_RPCS: [&str; 1] = ["/grpc.health.v1.Health/Check"];

/// Serves `grpc.health.v1.Health` and `echo.v1.Echo` on `listener` until
/// `shutdown` resolves.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    stack: Stack,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<EchoServer>().await;
    Server::builder()
        .layer(stack.ratelimit)
        .layer(stack.auth)
        .add_service(health)
        .add_service(EchoServer)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

/// The address `grpc-server` listens on by default.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50051);
