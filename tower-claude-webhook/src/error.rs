//! Errors of the outbound side.

use std::fmt;
use std::time::Duration;

use tower::BoxError;

/// A webhook could not be sent, for a reason no retry fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The body is larger than the configured limit; it is refused whole
    /// rather than signed truncated.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read.
    BodyUnreadable(String),
    /// The endpoint is not `https://`, and plain HTTP was not allowed for it.
    InsecureEndpoint(String),
    /// The event type is not a valid header value.
    InvalidEvent,
    /// A delivery id on the request that is not 1 to 128 of `A-Z a-z 0-9 _ -`
    /// (a `.` would make Standard Webhooks' signed content ambiguous).
    InvalidDeliveryId,
    /// More identical messages than the signer can give distinct signed
    /// content within a minute ahead of the clock.
    NotUnique,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyTooLarge { limit } => {
                write!(f, "webhook body is larger than the {limit}-byte limit")
            }
            Self::BodyUnreadable(why) => write!(f, "webhook body could not be read: {why}"),
            Self::InsecureEndpoint(uri) => write!(
                f,
                "webhook endpoint {uri} is not https:// (allow plain HTTP explicitly for loopback or testing)"
            ),
            Self::InvalidEvent => f.write_str("webhook event type is not a valid header value"),
            Self::InvalidDeliveryId => {
                f.write_str("webhook delivery id must be 1 to 128 of A-Z a-z 0-9 _ -")
            }
            Self::NotUnique => f.write_str(
                "more than 60 identical webhook messages within a minute: their signed content \
                 (timestamp and body) cannot be made unique; add a unique field to the body",
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// One attempt failed before a response: the transport, or the per-attempt
/// timeout.
#[derive(Debug)]
pub struct AttemptError {
    pub(crate) delivery_id: String,
    pub(crate) attempt: u32,
    pub(crate) kind: AttemptFailure,
    pub(crate) source: Option<BoxError>,
}

/// What went wrong with an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptFailure {
    /// No response within the per-attempt timeout.
    TimedOut(Duration),
    /// The client failed (connection refused, reset, DNS...).
    Transport,
    /// The request was refused before sending ([`SendError`]).
    Refused,
}

impl AttemptError {
    /// The delivery id.
    pub fn delivery_id(&self) -> &str {
        &self.delivery_id
    }

    /// Which attempt (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// What failed.
    pub fn failure(&self) -> AttemptFailure {
        self.kind
    }

    /// Whether another attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self.kind, AttemptFailure::Refused)
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook {} attempt {}: ", self.delivery_id, self.attempt)?;
        match (&self.kind, &self.source) {
            (AttemptFailure::TimedOut(after), _) => write!(f, "no response within {after:?}"),
            (_, Some(source)) => source.fmt(f),
            (_, None) => f.write_str("failed"),
        }
    }
}

impl std::error::Error for AttemptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A delivery failed for good: every attempt failed, or the last answer was
/// one no retry fixes.
#[derive(Debug)]
pub struct DeliveryError {
    pub(crate) delivery_id: String,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    pub(crate) source: BoxError,
}

impl DeliveryError {
    /// The delivery id.
    pub fn delivery_id(&self) -> &str {
        &self.delivery_id
    }

    /// Attempts made (0 when refused before the first).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time from the first attempt to the end.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook {} not delivered after {} attempt(s): {}",
            self.delivery_id, self.attempts, self.source
        )
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
