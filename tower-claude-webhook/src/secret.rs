//! The signing secret: never printed, wiped on drop.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// The prefix of a Standard Webhooks secret.
pub const STANDARD_SECRET_PREFIX: &str = "whsec_";

/// A webhook signing secret.
///
/// Its bytes are wiped when the last copy is dropped, and neither `Debug` nor
/// any error message shows them.
///
/// ```
/// use tower_claude_webhook::WebhookSecret;
///
/// let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
/// let standard = WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
/// assert_eq!(standard.len(), 24);
/// ```
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl WebhookSecret {
    /// The UTF-8 bytes of a configured string (the `X-Webhook-*` scheme's secret).
    ///
    /// # Errors
    /// When the string is empty.
    pub fn new(secret: impl Into<String>) -> Result<Self, SecretError> {
        Self::from_bytes(secret.into().into_bytes())
    }

    /// Raw key bytes.
    ///
    /// # Errors
    /// When there are none.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(bytes))
    }

    /// A Standard Webhooks secret: `whsec_` and the base64 of the key (the
    /// prefix may be left out).
    ///
    /// # Errors
    /// When the rest is not base64, or the key is shorter than 16 bytes or
    /// longer than 128 (the specification asks for 24 to 64).
    pub fn standard(encoded: &str) -> Result<Self, SecretError> {
        let encoded = encoded.trim();
        let body = encoded
            .strip_prefix(STANDARD_SECRET_PREFIX)
            .unwrap_or(encoded);
        let key = Zeroizing::new(STANDARD.decode(body).map_err(|_| SecretError::NotBase64)?);
        if !(16..=128).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self(key))
    }

    /// A fresh random 32-byte key.
    ///
    /// # Errors
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut key).map_err(|_| SecretError::NoRandomness)?;
        Ok(Self(key))
    }

    /// The key as a Standard Webhooks secret string, to hand to a receiver.
    /// The only way to see the bytes: call it where you mean to.
    pub fn expose_standard(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{STANDARD_SECRET_PREFIX}{}",
            STANDARD.encode(&*self.0)
        ))
    }

    /// The key length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: an empty secret is refused at construction.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A secret was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// An empty secret signs nothing anyone could not forge.
    Empty,
    /// A Standard Webhooks secret whose key part is not base64.
    NotBase64,
    /// A Standard Webhooks key of this many bytes (16 to 128 accepted).
    Length(usize),
    /// The operating system refused randomness.
    NoRandomness,
    /// A signer or verifier given this many secrets (1 to 8 accepted).
    Count(usize),
    /// An Ed25519 key without its prefix (`whsk_` for a signing key, `whpk_`
    /// for a public key).
    Prefix(&'static str),
    /// An Ed25519 key of this many bytes (a signing key is 32, or 64 with its
    /// public half; a public key is 32).
    KeyLength(usize),
    /// A 64-byte signing key whose public half is not its seed's.
    KeyPairMismatch,
    /// 32 bytes that are not an Ed25519 public key.
    NotAPublicKey,
    /// An Ed25519 key given to a signer or verifier of the `X-Webhook-*`
    /// scheme, which has no asymmetric signature.
    NotStandard,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("a webhook secret must not be empty"),
            Self::NotBase64 => {
                f.write_str("a Standard Webhooks secret is `whsec_` followed by base64")
            }
            Self::Length(n) => write!(
                f,
                "a Standard Webhooks key must be 16 to 128 bytes, not {n}"
            ),
            Self::NoRandomness => {
                f.write_str("the operating system gave no randomness for a secret")
            }
            Self::Count(n) => write!(
                f,
                "a webhook signer or verifier takes 1 to 8 secrets, not {n}"
            ),
            Self::Prefix(prefix) => write!(f, "an Ed25519 webhook key starts with `{prefix}`"),
            Self::KeyLength(n) => write!(
                f,
                "an Ed25519 webhook key is 32 bytes (a signing key may be 64, with its public half), not {n}"
            ),
            Self::KeyPairMismatch => {
                f.write_str("the public half of this 64-byte signing key is not its seed's")
            }
            Self::NotAPublicKey => f.write_str("these 32 bytes are not an Ed25519 public key"),
            Self::NotStandard => {
                f.write_str("Ed25519 (`v1a`) signatures exist only in the Standard Webhooks scheme")
            }
        }
    }
}

impl std::error::Error for SecretError {}
