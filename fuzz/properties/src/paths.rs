//! Public-path rules: a path the allowlist accepts as public is, after any
//! normalization a router or proxy applies, the same public path; never a
//! different route.

use arbitrary::{Arbitrary, Unstructured};
use http::Method;
use tower_claude_core::PathRules;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Raw path bytes, as a client may send them.
    path: String,
    method: bool,
}

fn rules() -> PathRules {
    PathRules::new()
        .exact("/health")
        .exact("/openapi.json")
        .prefix("/docs")
        .prefix("/static/assets")
}

/// Seed format: the raw path.
pub fn check(data: &[u8]) {
    if let Some(path) = crate::seed(data) {
        return check_path(&Method::GET, &path);
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let method = if input.method {
        Method::GET
    } else {
        Method::POST
    };
    check_path(&method, &input.path);
}

fn check_path(method: &Method, raw: &str) {
    let rules = rules();
    if !rules.is_match(method, raw) {
        return;
    }
    for (name, normalize) in NORMALIZATIONS {
        let seen = normalize(raw);
        assert!(
            rules.covers(method, &seen),
            "{raw:?} is public, but {name} makes it {seen:?}, which is not"
        );
    }
    let all = NORMALIZATIONS
        .iter()
        .fold(raw.to_owned(), |path, (_, normalize)| normalize(&path));
    assert!(
        rules.covers(method, &all),
        "{raw:?} is public, but all normalizations make it {all:?}"
    );
}

type Normalize = fn(&str) -> String;

/// What routers and proxies do to a path before they route it.
const NORMALIZATIONS: [(&str, Normalize); 7] = [
    ("percent-decoding", percent_decode),
    ("dot-segment removal", remove_dot_segments),
    ("slash merging", merge_slashes),
    ("dropping ;parameters", drop_parameters),
    ("lowercasing", |p| p.to_ascii_lowercase()),
    ("dropping a trailing / or .", |p| {
        let trimmed = p.trim_end_matches(['/', '.']);
        if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.into()
        }
    }),
    ("backslash as slash", |p| p.replace('\\', "/")),
];

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(0));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 section 5.2.4, on segments.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

fn drop_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizations_do_what_they_say() {
        assert_eq!(percent_decode("/%68ealth"), "/health");
        assert_eq!(remove_dot_segments("/docs/../admin"), "/admin");
        assert_eq!(merge_slashes("//health"), "/health");
        assert_eq!(drop_parameters("/health;x=1/y"), "/health/y");
    }
}
