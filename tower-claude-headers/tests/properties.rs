//! The header builders emit only syntactically valid values (proptest, run by
//! CI): every CSP is an RFC 9110 field value whose directives are the ones
//! configured; every Permissions-Policy is an RFC 8941 dictionary of tokens
//! and inner lists of tokens and strings; HSTS says what it was given.

use std::time::Duration;

use proptest::prelude::*;
use tower_claude_headers::security::{Csp, Hsts, PermissionsPolicy};

fn field_value(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
        && !bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t')
        && !bytes.last().is_some_and(|b| *b == b' ' || *b == b'\t')
}

/// A small RFC 8941 dictionary reader for what Permissions-Policy uses:
/// members `key=item` or `key=(item item...)`, items the tokens `self` and
/// `*` or strings, members separated by `,` and optional spaces.
fn sf_dictionary(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        // key
        let start = at;
        while at < bytes.len()
            && (bytes[at].is_ascii_lowercase()
                || bytes[at].is_ascii_digit()
                || b"_-.*".contains(&bytes[at]))
        {
            at += 1;
        }
        if at == start || !(bytes[start].is_ascii_lowercase() || bytes[start] == b'*') {
            return false;
        }
        if bytes.get(at) != Some(&b'=') {
            return false;
        }
        at += 1;
        // value: an inner list or one item
        if bytes.get(at) == Some(&b'(') {
            at += 1;
            let mut first = true;
            loop {
                if bytes.get(at) == Some(&b')') {
                    at += 1;
                    break;
                }
                if !first {
                    if bytes.get(at) != Some(&b' ') {
                        return false;
                    }
                    at += 1;
                }
                first = false;
                match item(&bytes[at..]) {
                    Some(len) => at += len,
                    None => return false,
                }
            }
        } else {
            match item(&bytes[at..]) {
                Some(len) => at += len,
                None => return false,
            }
        }
        if at == bytes.len() {
            return true;
        }
        if bytes[at] != b',' {
            return false;
        }
        at += 1;
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
    }
}

/// The length of the item at the start of `bytes`: `self`, `*`, or a string.
fn item(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(b"self") {
        return Some(4);
    }
    if bytes.starts_with(b"*") {
        return Some(1);
    }
    if bytes.first() != Some(&b'"') {
        return None;
    }
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match b {
            b'"' => return Some(i + 1),
            b'\\' => return None,
            0x20..=0x7e => {}
            _ => return None,
        }
    }
    None
}

fn directive() -> impl Strategy<Value = String> {
    "[a-z-]{1,20}"
}

fn source() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'self'".to_owned()),
        Just("'none'".to_owned()),
        Just("data:".to_owned()),
        "https://[a-z]{1,10}\\.example(/[a-z]{0,5})?",
        "[!-~]{1,20}",
        ".{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn csp_values_are_field_values_with_the_configured_directives(
        directives in prop::collection::vec((directive(), prop::collection::vec(source(), 0..5)), 1..6),
    ) {
        let mut csp = Csp::new();
        for (name, sources) in &directives {
            csp = csp.directive(name, sources.iter().map(String::as_str));
        }
        if let Ok(value) = csp.value() {
            prop_assert!(field_value(value.as_bytes()), "{:?}", value);
            let written = value.as_bytes().split(|&b| b == b';').filter(|d| !d.is_empty()).count();
            prop_assert_eq!(written, csp.directives().count(), "{:?}", value);
        } else {
            // Refused only for a bad name or a source that could rewrite the policy.
            let bad = directives.iter().any(|(_, sources)| {
                sources.iter().any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b','))
            });
            prop_assert!(bad, "a valid policy was refused: {:?}", directives);
        }
    }

    #[test]
    fn permissions_policies_are_structured_field_dictionaries(
        features in prop::collection::vec(("[a-z][a-z0-9-]{0,15}", prop::collection::vec(
            prop_oneof![Just("self".to_owned()), Just("*".to_owned()), "https://[a-z]{1,8}\\.example", "[ -~]{0,12}"],
            0..4,
        )), 1..6),
    ) {
        let mut policy = PermissionsPolicy::new();
        for (feature, origins) in &features {
            policy = policy.allow(feature, origins.iter().map(String::as_str));
        }
        if let Ok(value) = policy.value() {
            let text = value.to_str().unwrap();
            prop_assert!(field_value(value.as_bytes()), "{}", text);
            prop_assert!(sf_dictionary(text), "not an RFC 8941 dictionary: {}", text);
        }
    }

    #[test]
    fn hsts_says_what_it_was_given(max_age in any::<u32>(), subdomains in any::<bool>(), preload in any::<bool>()) {
        let mut hsts = Hsts::new(Duration::from_secs(u64::from(max_age)));
        if subdomains {
            hsts = hsts.include_subdomains(true);
        }
        if preload {
            hsts = hsts.preload(true);
        }
        match hsts.value() {
            Ok(value) => {
                let text = value.to_str().unwrap();
                let mut parts = text.split("; ");
                let first = format!("max-age={max_age}");
                prop_assert_eq!(parts.next(), Some(first.as_str()));
                prop_assert_eq!(text.contains("includeSubDomains"), subdomains);
                prop_assert_eq!(text.contains("preload"), preload);
            }
            // The preload list's own requirements, and nothing else.
            Err(_) => prop_assert!(preload && (max_age < 31_536_000 || !subdomains)),
        }
    }
}
