//! Reading `Authorization: Bearer <token>` (RFC 6750 section 2.1, RFC 9110 section 11).

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// Tokens longer than this are refused before any hashing.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Why the `Authorization` header could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// No `Authorization` header at all.
    Missing,
    /// A header that is not one well-formed bearer credential.
    Malformed(&'static str),
}

/// The bearer token of a request: b64token bytes, so always ASCII.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&[u8], HeaderProblem> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(HeaderProblem::Missing);
    };
    if values.next().is_some() {
        return Err(HeaderProblem::Malformed(
            "more than one Authorization header",
        ));
    }
    let bytes = value.as_bytes();
    const SCHEME: &[u8] = b"bearer";
    if bytes.eq_ignore_ascii_case(SCHEME) {
        // `Bearer ` arrives as `Bearer`: servers trim trailing whitespace.
        return Err(HeaderProblem::Malformed("the bearer token is empty"));
    }
    if bytes.len() <= SCHEME.len() || !bytes[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return Err(HeaderProblem::Malformed("the scheme is not Bearer"));
    }
    let rest = &bytes[SCHEME.len()..];
    let token_start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    if token_start == 0 {
        return Err(HeaderProblem::Malformed("the scheme is not Bearer"));
    }
    let token = &rest[token_start..];
    if token.is_empty() {
        return Err(HeaderProblem::Malformed("the bearer token is empty"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(HeaderProblem::Malformed("the bearer token is too long"));
    }
    if !is_b64token(token) {
        return Err(HeaderProblem::Malformed(
            "the bearer token has characters outside RFC 6750's b64token",
        ));
    }
    Ok(token)
}

/// The bytes of b64token's body.
static B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    if body_len == 0 {
        return false;
    }
    // Through `black_box`, LLVM keeps the table instead of folding it back into
    // a chain of range comparisons: one load per byte instead of up to six
    // branches.
    let table = std::hint::black_box(&B64TOKEN);
    token[..body_len]
        .iter()
        .fold(true, |ok, &b| ok & table[usize::from(b)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(values: &[&[u8]]) -> Result<String, HeaderProblem> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        bearer_token(&headers).map(|t| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn accepts_bearer_tokens() {
        assert_eq!(parse(&[b"Bearer abc"]).unwrap(), "abc");
        assert_eq!(parse(&[b"bearer abc"]).unwrap(), "abc");
        assert_eq!(
            parse(&[b"BEARER   a.b-c_d~e+f/g=="]).unwrap(),
            "a.b-c_d~e+f/g=="
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        assert_eq!(parse(&[]), Err(HeaderProblem::Missing));
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearerabc",
            b"Basic dXNlcjpwYXNz",
            b"Bearer a b",
            b"Bearer ===",
            b"Bearer a=b",
            b"Bearer \xff\xfe",
            b"Bearer\tabc",
            b"Bear abc",
            b"",
        ] {
            assert!(
                matches!(parse(&[bad]), Err(HeaderProblem::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            parse(&[b"Bearer a", b"Bearer b"]),
            Err(HeaderProblem::Malformed(_))
        ));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(matches!(
            parse(&[long.as_bytes()]),
            Err(HeaderProblem::Malformed(_))
        ));
    }
}
