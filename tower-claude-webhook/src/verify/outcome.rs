//! What verifying says: the verified webhook, or why it was refused.

use std::fmt;
use std::time::Duration;

use http::header::HeaderName;

use crate::replay::ReplayCacheError;

/// What a verified webhook said about itself, put in the request extensions by
/// [`VerifyWebhookLayer`](crate::verify::VerifyWebhookLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWebhook {
    /// The event type from `X-Webhook-Event`, if sent. Not covered by the
    /// signature in either scheme: trust the type in the payload.
    pub event: Option<String>,
    /// The delivery id (`X-Webhook-Delivery-Id` or `webhook-id`), if sent.
    pub delivery_id: Option<String>,
    /// The signed timestamp (unix seconds); `None` only for a body-only
    /// signature accepted with [`Verifier::accept_body_only`](crate::verify::Verifier::accept_body_only).
    pub timestamp: Option<u64>,
    /// The verified signature in hex: it names this signed message. A replay
    /// carries the same one, a sender's re-signed retry does not, and no other
    /// secret can produce it. The replay cache keys on it; de-duplicate on it
    /// in the `X-Webhook-*` scheme, whose delivery id header is not signed.
    pub message_id: String,
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    MissingHeader(HeaderName),
    /// A header is present but not in the scheme's format.
    Malformed {
        /// The header.
        header: HeaderName,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is older than the window.
    TooOld {
        /// How old.
        age: Duration,
    },
    /// The timestamp is further in the future than the window.
    FromTheFuture {
        /// How far ahead.
        ahead: Duration,
    },
    /// No signature matches any accepted secret.
    BadSignature,
    /// The same signed content (the same signature over the same timestamp,
    /// body and, in Standard Webhooks, id) was already received within the
    /// window.
    Replayed,
    /// The replay cache could not answer.
    ReplayCacheUnavailable(ReplayCacheError),
}

impl VerifyError {
    /// A short machine-readable code for the refusal body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_signature_header",
            Self::Malformed { .. } => "malformed_signature_header",
            Self::TooOld { .. } => "timestamp_too_old",
            Self::FromTheFuture { .. } => "timestamp_in_future",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed_delivery",
            Self::ReplayCacheUnavailable(_) => "replay_check_unavailable",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header `{name}`"),
            Self::Malformed { header, reason } => {
                write!(f, "malformed header `{header}`: {reason}")
            }
            Self::TooOld { age } => write!(
                f,
                "timestamp is {} s old, outside the freshness window",
                age.as_secs()
            ),
            Self::FromTheFuture { ahead } => write!(
                f,
                "timestamp is {} s in the future, outside the freshness window",
                ahead.as_secs()
            ),
            Self::BadSignature => f.write_str("no signature matches"),
            Self::Replayed => f.write_str(
                "this signed content (the same signature over the same timestamp and body) was already received",
            ),
            Self::ReplayCacheUnavailable(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// One delivery, as the duplicate check knows it (see [`Verifier::delivery`](crate::verify::Verifier::delivery)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery(pub(crate) String);
