//! The two wire formats: their headers, and what their signatures cover.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use http::header::HeaderName;
use sha2::Sha256;

use crate::secret::{SecretError, WebhookSecret};
use crate::wire::MAX_SIGNATURES;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The header names of both schemes.
pub mod names {
    use http::header::HeaderName;

    /// `X-Webhook-*` scheme: `sha256=<hex HMAC(secret, body)>`; covers the body only.
    pub const X_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("x-webhook-signature");
    /// `X-Webhook-*` scheme: `sha256=<hex HMAC(secret, "<timestamp>." + body)>`.
    pub const X_WEBHOOK_SIGNATURE_256: HeaderName =
        HeaderName::from_static("x-webhook-signature-256");
    /// `X-Webhook-*` scheme: unix seconds.
    pub const X_WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("x-webhook-timestamp");
    /// Both schemes: the event type (not covered by either signature).
    pub const X_WEBHOOK_EVENT: HeaderName = HeaderName::from_static("x-webhook-event");
    /// `X-Webhook-*` scheme: the delivery id, the same on every attempt.
    pub const X_WEBHOOK_DELIVERY_ID: HeaderName = HeaderName::from_static("x-webhook-delivery-id");
    /// Standard Webhooks: the message id.
    pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
    /// Standard Webhooks: unix seconds.
    pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
    /// Standard Webhooks: space-separated `v1,<base64>` signatures.
    pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
}

/// Which wire format a signer writes and a verifier reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// The `X-Webhook-*` headers: `X-Webhook-Signature-256: sha256=<hex>`
    /// over `"<timestamp>." + body`, `X-Webhook-Timestamp`,
    /// `X-Webhook-Delivery-Id`, and optionally the body-only
    /// `X-Webhook-Signature` (the format GitHub's signature header uses).
    XWebhook,
    /// The Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    Standard,
}

impl Scheme {
    /// The header carrying the delivery id.
    pub fn id_header(self) -> HeaderName {
        match self {
            Self::XWebhook => names::X_WEBHOOK_DELIVERY_ID,
            Self::Standard => names::WEBHOOK_ID,
        }
    }

    /// The header carrying the timestamp.
    pub fn timestamp_header(self) -> HeaderName {
        match self {
            Self::XWebhook => names::X_WEBHOOK_TIMESTAMP,
            Self::Standard => names::WEBHOOK_TIMESTAMP,
        }
    }
}

/// The keyed MAC states of a set of secrets, first the one to sign with.
///
/// The states are keyed once (HMAC's inner and outer pads hashed) and cloned per
/// message, so signing costs only the hashing of the message itself.
#[derive(Clone)]
pub(crate) struct Keys(Arc<[HmacSha256]>);

impl Keys {
    /// The keys of 1 to 8 secrets (a verifier reads at most 8 signatures,
    /// and none would sign or accept nothing), for signers and verifiers alike.
    pub(crate) fn of(
        secrets: impl IntoIterator<Item = WebhookSecret>,
    ) -> Result<Self, SecretError> {
        let secrets: Vec<WebhookSecret> = secrets.into_iter().collect();
        if !(1..=MAX_SIGNATURES).contains(&secrets.len()) {
            return Err(SecretError::Count(secrets.len()));
        }
        Ok(Self(
            secrets
                .iter()
                .filter_map(|secret| HmacSha256::new_from_slice(secret.bytes()).ok())
                .collect(),
        ))
    }

    /// No keys: a signer or verifier of Ed25519 (`v1a`) keys alone.
    pub(crate) fn none() -> Self {
        Self(Arc::from([]))
    }

    /// These keys and `secret`'s, last; at most 8.
    pub(crate) fn with(&self, secret: &WebhookSecret) -> Result<Self, SecretError> {
        let count = self.0.len() + 1;
        if count > MAX_SIGNATURES {
            return Err(SecretError::Count(count));
        }
        let mut states: Vec<HmacSha256> = self.0.to_vec();
        states.extend(HmacSha256::new_from_slice(secret.bytes()).ok());
        Ok(Self(states.into()))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &HmacSha256> {
        self.0.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Whether a signer or verifier holding `held` secrets and Ed25519 keys
/// together may take one more: a verifier reads at most 8 signatures.
pub(crate) fn room_for_one(held: usize) -> Result<(), SecretError> {
    let count = held + 1;
    if count > MAX_SIGNATURES {
        return Err(SecretError::Count(count));
    }
    Ok(())
}

/// `keys` and `key`, last: the Ed25519 keys of a Standard Webhooks signer or
/// verifier that also holds `secrets`.
pub(crate) fn with_ed25519<T: Clone>(
    scheme: Scheme,
    secrets: &Keys,
    keys: &Arc<[T]>,
    key: T,
) -> Result<Arc<[T]>, SecretError> {
    if scheme != Scheme::Standard {
        return Err(SecretError::NotStandard);
    }
    room_for_one(secrets.len() + keys.len())?;
    Ok(keys.iter().cloned().chain([key]).collect())
}

/// What a signature covers besides the body, which always comes last: the one
/// definition signing and verifying share, so the two cannot drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignedContent<'a> {
    /// `X-Webhook-Signature-256`: `"<timestamp>." + body`.
    Timed { stamp: &'a str },
    /// `X-Webhook-Signature`: the body alone.
    BodyOnly,
    /// Standard Webhooks: `"<id>.<timestamp>." + body`.
    Standard { id: &'a str, stamp: &'a str },
}

impl SignedContent<'_> {
    /// `key`'s MAC with everything before the body fed; the caller feeds the
    /// body (in one piece or in chunks) and finalizes.
    pub(crate) fn begin(self, key: &HmacSha256) -> HmacSha256 {
        let mut mac = key.clone();
        match self {
            Self::Timed { stamp } => {
                mac.update(stamp.as_bytes());
                mac.update(b".");
            }
            Self::BodyOnly => {}
            Self::Standard { id, stamp } => {
                mac.update(id.as_bytes());
                mac.update(b".");
                mac.update(stamp.as_bytes());
                mac.update(b".");
            }
        }
        mac
    }

    /// `key`'s MAC of this content with `body`.
    pub(crate) fn mac(self, key: &HmacSha256, body: &[u8]) -> [u8; 32] {
        let mut mac = self.begin(key);
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}
