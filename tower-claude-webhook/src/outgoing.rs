//! What the delivery and signing layers both do to an outgoing request: read
//! its body once, up to a limit, and take the delivery id it offers.

use bytes::Bytes;
use http::HeaderMap;
use http::header::HeaderName;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::BoxError;

use crate::error::SendError;

/// The whole body, or why not: over `limit` is refused, never truncated.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, SendError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(SendError::BodyTooLarge { limit }),
        Err(error) => Err(SendError::BodyUnreadable(error.to_string())),
    }
}

/// The delivery id the request carries in `header`: `None` when absent, an
/// error when it is not 1 to 128 of `A-Z a-z 0-9 _ -` (a `.` would make
/// Standard Webhooks' signed content ambiguous).
pub(crate) fn offered_delivery_id(
    headers: &HeaderMap,
    header: &HeaderName,
) -> Result<Option<String>, SendError> {
    let Some(id) = headers.get(header).map(|v| v.as_bytes()) else {
        return Ok(None);
    };
    let valid = (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if valid {
        Ok(Some(String::from_utf8_lossy(id).into_owned()))
    } else {
        Err(SendError::InvalidDeliveryId)
    }
}

/// Appends `bytes` in lowercase hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// `msg_` and 32 hex digits of randomness: 128 bits, unique in practice.
pub fn new_delivery_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: std's RandomState draws its keys by other means.
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..8].copy_from_slice(&state.hash_one(nanos).to_le_bytes());
        bytes[8..].copy_from_slice(&state.hash_one(nanos ^ 0x5eed).to_le_bytes());
    }
    let mut id = String::with_capacity(36);
    id.push_str("msg_");
    push_hex(&mut id, &bytes);
    id
}
