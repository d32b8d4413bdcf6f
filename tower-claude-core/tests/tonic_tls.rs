//! A tonic server with TLS records the peer in `TlsConnectInfo`, not in
//! `TcpConnectInfo`: with the `tonic-tls` feature the layers find it there.
//! tonic's own `Server` with `tls_config`, a tonic TLS client, real sockets.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use support::GateLayer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tower_claude_testkit::tls::{TestCert, health_client_tls};

async fn serve_tls(cert: &TestCert) -> SocketAddr {
    let (listener, addr) = tower_claude_testkit::listener().await;
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(&cert.cert_pem, &cert.key_pem));
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = Server::builder()
        .tls_config(tls)
        .expect("a TLS server configuration")
        .layer(GateLayer::default())
        .add_service(health);
    tokio::spawn(server.serve_with_incoming(TcpIncoming::from(listener)));
    addr
}

fn let_me_in() -> tonic::Request<HealthCheckRequest> {
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("x-let-me-in", "yes".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
    request
}

#[tokio::test]
async fn a_tonic_tls_server_shows_the_layers_each_true_peer() {
    let cert = TestCert::new();
    let addr = serve_tls(&cert).await;
    for from in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)] {
        let mut client = health_client_tls(addr, &cert, Some(IpAddr::V4(from))).await;
        let response = client.check(let_me_in()).await.unwrap();
        assert_eq!(
            response.metadata().get("x-client-ip").unwrap(),
            from.to_string().as_str(),
            "the TLS peer, not a forwarded header"
        );
        let refused = client
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    }
}
