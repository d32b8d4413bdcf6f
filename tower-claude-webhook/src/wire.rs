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
    if !list.is_empty() {
        list.push(' ');
    }
    list.push_str("v1,");
    STANDARD.encode_string(mac, list);
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
            assert_eq!(standard_signatures(&standard).unwrap(), macs, "{standard}");
        }
    }
}
