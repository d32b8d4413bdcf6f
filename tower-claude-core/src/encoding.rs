//! Lowercase hex, as every layer writes digests and keys.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` to `out` in lowercase hex.
///
/// ```
/// let mut out = String::from("sha256=");
/// tower_claude_core::encoding::push_hex(&mut out, &[0x0f, 0xa0]);
/// assert_eq!(out, "sha256=0fa0");
/// ```
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// The value of one hex digit, either case.
pub fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Exactly `N` bytes from `2 × N` hex digits, either case; anything else is
/// `None`.
pub fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xfe, 0xff];
        let text = hex(&bytes);
        assert_eq!(text, "00017f80feff");
        assert_eq!(decode_hex::<6>(&text), Some(bytes));
        assert_eq!(decode_hex::<6>(&text.to_uppercase()), Some(bytes));
        assert_eq!(decode_hex::<6>("00017f80fef"), None, "odd length");
        assert_eq!(decode_hex::<6>("00017f80fefg"), None, "not a digit");
        assert_eq!(decode_hex::<1>("+f"), None, "a sign is not a digit");
    }
}
