//! `--tls-cert` and `--tls-key`: the server's certificate chain and key, as
//! PEM files, to a TLS acceptor.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The `--tls-cert`/`--tls-key` options.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Serve over TLS with this certificate chain (PEM, leaf first); needs
    /// --tls-key.
    #[arg(long, env = "TOWER_CLAUDE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TOWER_CLAUDE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// The acceptor, when both files are given, offering `alpn` (such as
    /// `h2` for gRPC, whose clients insist on it).
    ///
    /// # Errors
    /// A file that cannot be read, holds no certificate or key, or a key that
    /// does not match the certificate.
    pub fn acceptor(&self, alpn: &[&[u8]]) -> Result<Option<TlsAcceptor>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        acceptor(cert, key, alpn).map(Some)
    }
}

/// A TLS acceptor for the certificate chain in `cert` and the key in `key`.
///
/// # Errors
/// See [`TlsArgs::acceptor`].
pub fn acceptor(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in the file",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}
