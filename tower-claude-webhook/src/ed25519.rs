//! Standard Webhooks `v1a`: Ed25519 signatures over the same `id.timestamp.body`
//! as `v1`, so a receiver holds a public key that cannot sign.
//!
//! Keys are written `whsk_<base64>` (the 32-byte seed; the 64-byte
//! seed-and-public-key form some libraries write is accepted too, checked
//! against its public half) and `whpk_<base64>` (the 32-byte public key).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::secret::SecretError;

/// The prefix of a Standard Webhooks signing (secret) key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// The prefix of a Standard Webhooks public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// A Standard Webhooks signing key (`whsk_`): signs `v1a`. Its `Debug` never
/// shows it.
///
/// ```
/// use tower_claude_webhook::StandardSigningKey;
///
/// let key = StandardSigningKey::generate().unwrap();
/// let public = key.public_key();
/// assert!(public.to_string().starts_with("whpk_"));
/// assert_eq!(format!("{key:?}"), "StandardSigningKey(<redacted>)");
/// ```
#[derive(Clone)]
pub struct StandardSigningKey(SigningKey);

/// A Standard Webhooks public key (`whpk_`): verifies `v1a`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StandardPublicKey(VerifyingKey);

impl StandardSigningKey {
    /// A key from its `whsk_` form.
    ///
    /// # Errors
    /// No `whsk_` prefix, not base64, neither 32 nor 64 bytes, or a 64-byte
    /// form whose public half is not the seed's.
    pub fn new(text: &str) -> Result<Self, SecretError> {
        let bytes = decode(text, SIGNING_KEY_PREFIX)?;
        match bytes.len() {
            32 => {
                let seed: [u8; 32] = bytes[..]
                    .try_into()
                    .map_err(|_| SecretError::KeyLength(32))?;
                Ok(Self(SigningKey::from_bytes(&seed)))
            }
            64 => {
                let pair: [u8; 64] = bytes[..]
                    .try_into()
                    .map_err(|_| SecretError::KeyLength(64))?;
                SigningKey::from_keypair_bytes(&pair)
                    .map(Self)
                    .map_err(|_| SecretError::KeyPairMismatch)
            }
            n => Err(SecretError::KeyLength(n)),
        }
    }

    /// A fresh key from the operating system's randomness.
    ///
    /// # Errors
    /// [`SecretError::NoRandomness`] when the operating system refuses.
    pub fn generate() -> Result<Self, SecretError> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| SecretError::NoRandomness)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The `whsk_` form (the 32-byte seed), to store as a secret.
    pub fn to_whsk(&self) -> String {
        format!("{SIGNING_KEY_PREFIX}{}", STANDARD.encode(self.0.to_bytes()))
    }

    /// The public key that verifies this key's signatures.
    pub fn public_key(&self) -> StandardPublicKey {
        StandardPublicKey(self.0.verifying_key())
    }

    /// The `v1a` signature of `id.timestamp.body`.
    pub(crate) fn sign(&self, id: &str, stamp: &str, body: &[u8]) -> [u8; 64] {
        self.0.sign(&signed_content(id, stamp, body)).to_bytes()
    }
}

impl StandardPublicKey {
    /// A key from its `whpk_` form.
    ///
    /// # Errors
    /// No `whpk_` prefix, not base64, not 32 bytes, or not a point of the curve.
    pub fn new(text: &str) -> Result<Self, SecretError> {
        let bytes = decode(text, PUBLIC_KEY_PREFIX)?;
        let key: [u8; 32] = bytes[..]
            .try_into()
            .map_err(|_| SecretError::KeyLength(bytes.len()))?;
        VerifyingKey::from_bytes(&key)
            .map(Self)
            .map_err(|_| SecretError::NotAPublicKey)
    }

    /// Whether `signature` is this key's `v1a` signature of `id.timestamp.body`
    /// (strict verification: no malleable or small-order forms).
    pub(crate) fn verifies(
        &self,
        id: &str,
        stamp: &str,
        body: &[u8],
        signature: &[u8; 64],
    ) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0
            .verify_strict(&signed_content(id, stamp, body), &signature)
            .is_ok()
    }
}

/// The replay-cache key of a `v1a`-verified message: the SHA-256 of its
/// signature, which only the signing key's holder can make (Ed25519 is
/// deterministic, and strict verification refuses altered forms).
pub(crate) fn message_id(signature: &[u8; 64]) -> String {
    tower_claude_core::encoding::hex(&Sha256::digest(signature))
}

/// `id.timestamp.body`, as `v1` signs it.
fn signed_content(id: &str, stamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + stamp.len() + 2 + body.len());
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(stamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

fn decode(text: &str, prefix: &'static str) -> Result<zeroize::Zeroizing<Vec<u8>>, SecretError> {
    let encoded = text
        .trim()
        .strip_prefix(prefix)
        .ok_or(SecretError::Prefix(prefix))?;
    STANDARD
        .decode(encoded)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| SecretError::NotBase64)
}

impl fmt::Display for StandardPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PUBLIC_KEY_PREFIX}{}",
            STANDARD.encode(self.0.to_bytes())
        )
    }
}

impl fmt::Debug for StandardPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StandardPublicKey")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Debug for StandardSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StandardSigningKey(<redacted>)")
    }
}
