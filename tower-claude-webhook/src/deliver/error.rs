//! How a delivery ended: the report of a delivered webhook, or why it was not.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use tower::BoxError;

use crate::deliver::DeliveryId;

/// A webhook the receiver accepted (a 2xx answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The id every attempt carried.
    pub delivery_id: DeliveryId,
    /// Attempts made (1 for the first).
    pub attempts: u32,
    /// The receiver's answer.
    pub status: StatusCode,
    /// Time from the first attempt to the answer.
    pub elapsed: Duration,
}

/// A webhook that was not delivered: refused before sending, or every attempt
/// failed, or the receiver gave an answer no retry changes.
#[derive(Debug)]
pub struct DeliveryError {
    pub(crate) delivery_id: DeliveryId,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    pub(crate) failure: DeliveryFailure,
}

/// Why the last attempt (or the delivery before any attempt) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeliveryFailure {
    /// Refused before the first attempt: nothing was sent.
    Refused(SendError),
    /// The receiver answered with a status other than 2xx: one no retry
    /// changes (such as 400 or 410), or the last retryable one (429, 5xx)
    /// when the retries ran out.
    Status(StatusCode),
    /// No answer within the per-attempt timeout.
    TimedOut(Duration),
    /// The HTTP client failed: connection refused or reset, DNS, TLS.
    Transport(BoxError),
}

/// A webhook that cannot be sent, for a reason no retry fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The body is larger than the sender's limit; it is refused whole rather
    /// than signed truncated.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The endpoint (its scheme, host and port) is not `https://`, and plain
    /// HTTP was not allowed for it.
    InsecureEndpoint(String),
    /// The event type or the content type is not a valid header value.
    InvalidHeader(&'static str),
    /// A delivery id that is not 1 to 128 of `A-Z a-z 0-9 _ -`.
    InvalidDeliveryId,
    /// More identical messages than the signer can give distinct signed
    /// content within a minute ahead of the clock.
    NotUnique,
}

impl DeliveryError {
    /// A delivery that ended with `failure` after `attempts` (for a
    /// `Service<Webhook>` of your own, or a test double).
    pub fn new(
        delivery_id: DeliveryId,
        attempts: u32,
        elapsed: Duration,
        failure: DeliveryFailure,
    ) -> Self {
        Self {
            delivery_id,
            attempts,
            elapsed,
            failure,
        }
    }

    /// The delivery id.
    pub fn delivery_id(&self) -> &DeliveryId {
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

    /// What failed last.
    pub fn failure(&self) -> &DeliveryFailure {
        &self.failure
    }

    /// The receiver's last answer, when it gave one.
    pub fn status(&self) -> Option<StatusCode> {
        match self.failure {
            DeliveryFailure::Status(status) => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook {}: {} after {} attempt(s) in {:?}",
            self.delivery_id, self.status, self.attempts, self.elapsed
        )
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "webhook {} not delivered after {} attempt(s): {}",
            self.delivery_id, self.attempts, self.failure
        )
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            DeliveryFailure::Refused(error) => Some(error),
            DeliveryFailure::Transport(error) => Some(&**error),
            DeliveryFailure::Status(_) | DeliveryFailure::TimedOut(_) => None,
        }
    }
}

impl fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(error) => error.fmt(f),
            Self::Status(status) => write!(f, "the receiver answered {status}"),
            Self::TimedOut(after) => write!(f, "no answer within {after:?}"),
            Self::Transport(error) => write!(f, "the HTTP client failed: {error}"),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyTooLarge { limit } => {
                write!(f, "webhook body is larger than the {limit}-byte limit")
            }
            Self::InsecureEndpoint(origin) => write!(
                f,
                "webhook endpoint {origin} is not https:// (allow plain HTTP explicitly for loopback or testing)"
            ),
            Self::InvalidHeader(which) => write!(f, "webhook {which} is not a valid header value"),
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
