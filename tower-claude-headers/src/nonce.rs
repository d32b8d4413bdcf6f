//! Per-request CSP nonces.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The CSP nonce of this request: 128 random bits, base64. The layer puts it in
/// the request extensions for the handler's template
/// (`<script nonce="{nonce}">`) and into `script-src` and `style-src` of the
/// response's policy.
#[derive(Clone, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// A fresh nonce from the operating system's CSPRNG, or `None` if it refused.
    pub(crate) fn generate() -> Option<Self> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        Some(Self(STANDARD.encode(bytes).into()))
    }

    /// The nonce as it goes into the `nonce` attribute.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CspNonce").field(&&*self.0).finish()
    }
}
