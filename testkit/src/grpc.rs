//! A real tonic server (the gRPC health service) behind a layer, and a real
//! tonic client for it.

use std::net::SocketAddr;

use bytes::Bytes;
use tonic::body::Body;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server, server::TcpIncoming};
use tonic_health::pb::health_client::HealthClient;
use tower_layer::Layer;
use tower_service::Service;

/// Boxed errors, as tonic takes them.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves tonic's health service behind `layer` on a loopback port; returns
/// its address and a connected health client.
pub async fn serve_health<L, ResBody>(layer: L) -> (SocketAddr, HealthClient<Channel>)
where
    L: Layer<Routes> + Clone + Send + 'static,
    L::Service:
        Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    <L::Service as Service<http::Request<Body>>>::Future: Send,
    <L::Service as Service<http::Request<Body>>>::Error: Into<BoxError> + Send,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let (listener, addr) = crate::listener().await;
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
    });
    (addr, health_client(addr).await)
}

/// A health client connected to `addr`.
pub async fn health_client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("a loopback URL")
        .connect()
        .await
        .expect("the test server accepts connections");
    HealthClient::new(channel)
}
