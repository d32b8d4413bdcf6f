//! The id every attempt of one delivery carries.

use std::fmt;

use crate::deliver::SendError;

/// The id of one delivery, the same on every attempt: 1 to 128 of
/// `A-Z a-z 0-9 _ -` (a `.` would make Standard Webhooks' signed content
/// `id.timestamp.body` ambiguous).
///
/// ```
/// use tower_claude_webhook::deliver::DeliveryId;
///
/// let id = DeliveryId::random();
/// assert!(id.as_str().starts_with("msg_"));
/// assert!(DeliveryId::new("order-17_paid").is_ok());
/// assert!(DeliveryId::new("a.b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    /// `msg_` and 32 hex digits of randomness: 128 bits, unique in practice.
    pub fn random() -> Self {
        let mut id = String::with_capacity(36);
        id.push_str("msg_");
        tower_claude_core::encoding::push_hex(
            &mut id,
            &tower_claude_core::random::random_bytes::<16>(),
        );
        Self(id)
    }

    /// A caller's own id, such as an event's id in its database.
    ///
    /// # Errors
    /// [`SendError::InvalidDeliveryId`] unless it is 1 to 128 of
    /// `A-Z a-z 0-9 _ -`.
    pub fn new(id: &str) -> Result<Self, SendError> {
        let valid = (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(SendError::InvalidDeliveryId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryId({})", self.0)
    }
}
