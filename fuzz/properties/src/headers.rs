//! Header builders: a value or an error, never a value that is not a valid
//! field value or that carries more entries than were configured (a source
//! with `;` or `,` would add a directive of its own).

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tower_claude_headers::security::{Csp, Hsts, PermissionsPolicy};

#[derive(Debug, Arbitrary)]
struct Input {
    directives: Vec<(String, Vec<String>)>,
    features: Vec<(String, Vec<String>)>,
    max_age: u64,
    subdomains: bool,
    preload: bool,
}

fn is_field_value(bytes: &[u8]) -> bool {
    // RFC 9110 section 5.5: visible ASCII, spaces and tabs inside, none at the ends.
    bytes
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
        && !bytes.first().is_some_and(|b| *b == b' ' || *b == b'\t')
        && !bytes.last().is_some_and(|b| *b == b' ' || *b == b'\t')
}

/// Seed format: CSP directives, one per line, `name source source...`.
pub fn check(data: &[u8]) {
    let input = match crate::seed(data) {
        Some(text) => Input {
            directives: text
                .lines()
                .filter_map(|line| {
                    let mut words = line.split(' ');
                    let name = words.next()?.to_owned();
                    Some((name, words.map(str::to_owned).collect()))
                })
                .collect(),
            features: vec![("camera".into(), vec!["self".into()])],
            max_age: 31_536_000,
            subdomains: true,
            preload: false,
        },
        None => match Input::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => input,
            Err(_) => return,
        },
    };
    let mut csp = Csp::new();
    for (name, sources) in input.directives.iter().take(8) {
        csp = csp.directive(name, sources.iter().map(String::as_str));
    }
    if let Ok(value) = csp.value() {
        let bytes = value.as_bytes();
        assert!(is_field_value(bytes), "{value:?}");
        let directives = csp.directives().count();
        let written = bytes
            .split(|&b| b == b';')
            .filter(|d| !d.is_empty())
            .count();
        assert_eq!(written, directives, "{value:?} has another directive count");
    }
    let mut policy = PermissionsPolicy::new();
    for (feature, origins) in input.features.iter().take(8) {
        policy = policy.allow(feature, origins.iter().map(String::as_str));
    }
    if let Ok(value) = policy.value() {
        let bytes = value.as_bytes();
        assert!(is_field_value(bytes), "{value:?}");
        // Outside quoted strings, the only commas are between members.
        let mut quoted = false;
        let mut members = usize::from(!bytes.is_empty());
        for &b in bytes {
            match b {
                b'"' => quoted = !quoted,
                b',' if !quoted => members += 1,
                _ => {}
            }
        }
        assert!(!quoted, "{value:?} leaves a quote open");
        let features: std::collections::HashSet<&str> = input
            .features
            .iter()
            .take(8)
            .map(|(f, _)| f.as_str())
            .collect();
        assert_eq!(members, features.len(), "{value:?}");
    }
    let mut hsts = Hsts::new(Duration::from_secs(input.max_age));
    if input.subdomains {
        hsts = hsts.include_subdomains(true);
    }
    if input.preload {
        hsts = hsts.preload(true);
    }
    if let Ok(value) = hsts.value() {
        let text = value.to_str().unwrap_or_default();
        assert!(
            text.starts_with(&format!("max-age={}", input.max_age)),
            "{text}"
        );
        assert!(is_field_value(value.as_bytes()));
    }
}
