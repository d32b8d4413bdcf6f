//! Reading the signature headers: what a message claims before its body is read.

use http::HeaderMap;
use http::header::HeaderName;

use crate::scheme::SignedContent;
use crate::verify::VerifyError;

/// What a message's headers claim, before its body is read.
pub(crate) struct Claim<'h> {
    pub(crate) event: Option<&'h str>,
    pub(crate) delivery_id: Option<&'h str>,
    pub(crate) timestamp: Option<u64>,
    /// The MACs offered.
    pub(crate) offered: Vec<[u8; 32]>,
    /// The Ed25519 (`v1a`) signatures offered (Standard Webhooks only).
    pub(crate) offered_v1a: Vec<[u8; 64]>,
    pub(crate) signed: SignedContent<'h>,
}

/// A header as text: absent is `None`; present twice or not visible ASCII is
/// malformed (two signature headers could each be checked by a different
/// component).
pub(crate) fn text<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::Malformed {
            header: name.clone(),
            reason: "sent more than once",
        });
    }
    value
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| VerifyError::Malformed {
            header: name.clone(),
            reason: "not visible ASCII",
        })
}
