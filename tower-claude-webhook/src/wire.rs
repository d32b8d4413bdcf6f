//! The signature header of each scheme: how a list of MACs is written, and
//! how it is read back. Both directions live here so that they cannot drift
//! (the MAC input itself is `SignedContent`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::HeaderName;

use crate::scheme::names;
use crate::verify::VerifyError;

/// The most signatures one header may list; more is an attack on CPU. A
/// signer therefore holds at most this many secrets.
pub(crate) const MAX_SIGNATURES: usize = 8;

/// Appends one `X-Webhook-*` entry: `sha256=<64 hex>`, comma-separated.
pub(crate) fn push_hex_entry(list: &mut String, mac: &[u8]) {
    if !list.is_empty() {
        list.push_str(", ");
    }
    list.push_str("sha256=");
    tower_claude_core::encoding::push_hex(list, mac);
}

/// Appends one Standard Webhooks entry: `v1,<base64>`, space-separated.
pub(crate) fn push_standard_entry(list: &mut String, mac: &[u8]) {
    push_versioned(list, "v1,", mac);
}

/// Appends one Standard Webhooks Ed25519 entry: `v1a,<base64>`.
pub(crate) fn push_v1a_entry(list: &mut String, signature: &[u8; 64]) {
    push_versioned(list, "v1a,", signature);
}

fn push_versioned(list: &mut String, version: &str, bytes: &[u8]) {
    if !list.is_empty() {
        list.push(' ');
    }
    list.push_str(version);
    STANDARD.encode_string(bytes, list);
}

/// The usable entries of a Standard Webhooks signature list.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct StandardList {
    /// `v1,` HMAC-SHA256 signatures.
    pub(crate) v1: Vec<[u8; 32]>,
    /// `v1a,` Ed25519 signatures.
    pub(crate) v1a: Vec<[u8; 64]>,
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

/// The usable `v1,<base64>` and `v1a,<base64>` entries of a space-separated
/// list. As the specification's own libraries do, an entry this verifier
/// cannot use (another version, bad base64, a wrong length, no comma) is
/// skipped, so `v1,AAAA v1,<valid>` verifies by its valid entry; the count
/// stays bounded.
pub(crate) fn standard_signatures(list: &str) -> Result<StandardList, VerifyError> {
    let malformed = |reason| VerifyError::Malformed {
        header: names::WEBHOOK_SIGNATURE,
        reason,
    };
    let entries: Vec<&str> = list.split(' ').filter(|e| !e.is_empty()).collect();
    if entries.len() > MAX_SIGNATURES {
        return Err(malformed("more than 8 signatures"));
    }
    let mut out = StandardList::default();
    for entry in entries {
        if let Some(signature) = entry.strip_prefix("v1,") {
            out.v1.extend(decoded::<32>(signature));
        } else if let Some(signature) = entry.strip_prefix("v1a,") {
            out.v1a.extend(decoded::<64>(signature));
        }
    }
    if out.v1.is_empty() && out.v1a.is_empty() {
        return Err(malformed(
            "no usable signature (`v1,` and 32 bytes of base64, or `v1a,` and 64)",
        ));
    }
    Ok(out)
}

fn decoded<const N: usize>(base64: &str) -> Option<[u8; N]> {
    STANDARD
        .decode(base64)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a signer writes, a verifier reads back, for every count a signer
    /// may hold.
    #[test]
    fn every_list_a_signer_writes_reads_back() {
        for count in 1..=MAX_SIGNATURES {
            let macs: Vec<[u8; 32]> = (0..count).map(|n| [n as u8 * 31 + 7; 32]).collect();
            let (mut hex, mut standard) = (String::new(), String::new());
            for mac in &macs {
                push_hex_entry(&mut hex, mac);
                push_standard_entry(&mut standard, mac);
            }
            let header = names::X_WEBHOOK_SIGNATURE_256;
            assert_eq!(hex_signatures(&hex, &header).unwrap(), macs, "{hex}");
            assert_eq!(
                standard_signatures(&standard).unwrap().v1,
                macs,
                "{standard}"
            );
        }
    }

    /// `v1` and `v1a` entries side by side read back into their own lists;
    /// unusable entries are skipped.
    #[test]
    fn v1_and_v1a_read_back_side_by_side() {
        let mut list = String::new();
        push_standard_entry(&mut list, &[1; 32]);
        push_v1a_entry(&mut list, &[2; 64]);
        list.push_str(" v2,AAAA v1a,AAAA");
        let read = standard_signatures(&list).unwrap();
        assert_eq!(read.v1, [[1; 32]]);
        assert_eq!(read.v1a, [[2; 64]]);
    }
}
