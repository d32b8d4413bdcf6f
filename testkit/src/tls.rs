//! TLS for tests: a self-signed certificate made at run time (never a
//! committed private key), a tonic server with TLS behind a layer, and TLS
//! clients for it.

use std::net::{IpAddr, SocketAddr};

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_client::HealthClient;

/// A certificate for `localhost`, 127.0.0.1 and 127.0.0.2, and its key, as PEM.
#[derive(Clone)]
pub struct TestCert {
    /// The certificate (also the root a client trusts: it is self-signed).
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

impl TestCert {
    /// A fresh self-signed certificate.
    pub fn new() -> Self {
        let names = ["localhost", "127.0.0.1", "127.0.0.2"].map(String::from);
        let certified = rcgen::generate_simple_self_signed(names.to_vec())
            .expect("rcgen makes a self-signed certificate");
        Self {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        }
    }

    /// Writes the certificate and key as `cert.pem` and `key.pem` in a new
    /// temporary directory, for programs that read files.
    pub fn write(&self) -> TempPems {
        let dir = std::env::temp_dir().join(format!(
            "tower-claude-tls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.pem"), &self.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &self.key_pem).unwrap();
        TempPems { dir }
    }
}

impl std::fmt::Debug for TestCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCert").finish_non_exhaustive()
    }
}

impl Default for TestCert {
    fn default() -> Self {
        Self::new()
    }
}

/// PEM files in a directory removed on drop.
#[derive(Debug)]
pub struct TempPems {
    dir: std::path::PathBuf,
}

impl TempPems {
    /// The certificate file.
    pub fn cert(&self) -> String {
        self.dir.join("cert.pem").display().to_string()
    }

    /// The key file.
    pub fn key(&self) -> String {
        self.dir.join("key.pem").display().to_string()
    }
}

impl Drop for TempPems {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A health client over TLS to `addr`, trusting `cert`, connecting from the
/// local address `from` (such as 127.0.0.2, a second client on loopback).
pub async fn health_client_tls(
    addr: SocketAddr,
    cert: &TestCert,
    from: Option<IpAddr>,
) -> HealthClient<Channel> {
    HealthClient::new(channel_tls(addr, cert, from).await)
}

/// A gRPC channel over TLS to `addr`, trusting `cert`, from the local
/// address `from`.
pub async fn channel_tls(addr: SocketAddr, cert: &TestCert, from: Option<IpAddr>) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&cert.cert_pem))
        .domain_name("localhost");
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("a loopback URL")
        .tls_config(tls)
        .expect("a TLS client configuration")
        .local_address(from)
        .connect()
        .await
        .expect("the test server accepts TLS connections")
}
