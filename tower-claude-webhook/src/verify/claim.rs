//! Reading the signature headers: what a message claims before its body is read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::HeaderName;

use crate::scheme::{SignedContent, names};
use crate::verify::VerifyError;

/// The most signatures one header may list; more is an attack on CPU.
const MAX_SIGNATURES: usize = 8;

/// What a message's headers claim, before its body is read.
pub(crate) struct Claim<'h> {
    pub(crate) event: Option<&'h str>,
    pub(crate) delivery_id: Option<&'h str>,
    pub(crate) timestamp: Option<u64>,
    /// The signatures offered.
    pub(crate) offered: Vec<[u8; 32]>,
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

/// `sha256=<64 hex>` entries, comma-separated.
pub(crate) fn hex_signatures(
    list: &str,
    header: &HeaderName,
) -> Result<Vec<[u8; 32]>, VerifyError> {
    let malformed = |reason| VerifyError::Malformed {
        header: header.clone(),
        reason,
    };
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let hex = entry
            .strip_prefix("sha256=")
            .ok_or_else(|| malformed("each signature is `sha256=` and 64 hex digits"))?;
        out.push(
            tower_claude_core::encoding::decode_hex::<32>(hex)
                .ok_or_else(|| malformed("each signature is `sha256=` and 64 hex digits"))?,
        );
        if out.len() > MAX_SIGNATURES {
            return Err(malformed("more than 8 signatures"));
        }
    }
    if out.is_empty() {
        return Err(malformed("no signature"));
    }
    Ok(out)
}

/// The usable `v1,<base64>` entries of a space-separated list. As the
/// specification's own libraries do, an entry this verifier cannot use (another
/// version such as `v1a`, bad base64, a wrong length, no comma) is skipped, so
/// `v1,AAAA v1,<valid>` verifies by its valid entry; the count stays bounded.
pub(crate) fn standard_signatures(list: &str) -> Result<Vec<[u8; 32]>, VerifyError> {
    let malformed = |reason| VerifyError::Malformed {
        header: names::WEBHOOK_SIGNATURE,
        reason,
    };
    let entries: Vec<&str> = list.split(' ').filter(|e| !e.is_empty()).collect();
    if entries.len() > MAX_SIGNATURES {
        return Err(malformed("more than 8 signatures"));
    }
    let out: Vec<[u8; 32]> = entries
        .into_iter()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|signature| STANDARD.decode(signature).ok())
        .filter_map(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .collect();
    if out.is_empty() {
        return Err(malformed(
            "no usable v1 signature (`v1,` and 32 bytes of base64)",
        ));
    }
    Ok(out)
}
