//! The rate-limit fields of a response: the IETF draft's and the legacy trio.

use std::fmt::Write as _;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};

use crate::decision::Decision;
use crate::quota::Quota;

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Values kept ready for small numbers, so most responses format nothing.
const CACHED_NUMBERS: u64 = 256;

/// Which rate-limit fields responses carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitHeaders {
    /// None: `Retry-After` on a 429 only.
    None,
    /// `RateLimit-Policy: "default";q=100;w=60` and `RateLimit: "default";r=42;t=17`
    /// (draft-ietf-httpapi-ratelimit-headers, revisions 08 to 11).
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
    /// (seconds until the bucket is full again), which older clients read.
    Legacy,
    /// Both sets.
    #[default]
    Both,
}

impl RateLimitHeaders {
    fn ietf(self) -> bool {
        matches!(self, Self::Ietf | Self::Both)
    }

    fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }
}

/// The header values of one policy that do not change between requests.
#[derive(Debug)]
pub(crate) struct PolicyHeaders {
    name: Box<str>,
    policy: HeaderValue,
    limit: HeaderValue,
    numbers: Box<[HeaderValue]>,
}

impl PolicyHeaders {
    pub(crate) fn new(name: &str, quota: Quota) -> Self {
        let window = quota.window().as_nanos().div_ceil(1_000_000_000);
        // The name was checked to be a token of A-Z a-z 0-9 _ - . when the policy
        // was configured, so it needs no escaping inside the quoted string.
        let policy = format!("\"{name}\";q={};w={window}", quota.count());
        Self {
            name: name.into(),
            policy: value(policy),
            limit: HeaderValue::from(quota.count()),
            numbers: (0..CACHED_NUMBERS).map(HeaderValue::from).collect(),
        }
    }

    fn number(&self, n: u64) -> HeaderValue {
        usize::try_from(n)
            .ok()
            .and_then(|i| self.numbers.get(i))
            .cloned()
            .unwrap_or_else(|| HeaderValue::from(n))
    }

    /// Writes the fields `style` asks for, for `decision`.
    pub(crate) fn stamp(
        &self,
        headers: &mut HeaderMap,
        style: RateLimitHeaders,
        decision: &Decision,
    ) {
        let remaining = u64::from(decision.remaining());
        let reset = decision.reset_secs();
        if style.ietf() {
            let mut field = String::with_capacity(self.name.len() + 24);
            // Writing to a String cannot fail.
            let _ = write!(field, "\"{}\";r={remaining};t={reset}", self.name);
            headers.insert(RATELIMIT_POLICY, self.policy.clone());
            headers.insert(RATELIMIT, value(field));
        }
        if style.legacy() {
            headers.insert(X_RATELIMIT_LIMIT, self.limit.clone());
            headers.insert(X_RATELIMIT_REMAINING, self.number(remaining));
            headers.insert(X_RATELIMIT_RESET, self.number(reset));
        }
        if !decision.is_allowed() {
            headers.insert(RETRY_AFTER, self.number(decision.retry_after_secs()));
        }
    }
}

/// A value built from ASCII we produced ourselves.
fn value(text: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(text))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Whether `name` can name a policy: it is sent inside a structured-field
/// string and used in store keys.
pub(crate) fn is_valid_policy_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fields_of_an_admitted_and_a_refused_request() {
        let policy = PolicyHeaders::new("login", Quota::per_minute(5));
        let mut headers = HeaderMap::new();
        let admitted = Decision::from_parts(true, 3, Duration::from_millis(24_001), Duration::ZERO);
        policy.stamp(&mut headers, RateLimitHeaders::Both, &admitted);
        assert_eq!(headers["ratelimit-policy"], r#""login";q=5;w=60"#);
        assert_eq!(headers["ratelimit"], r#""login";r=3;t=25"#);
        assert_eq!(headers["x-ratelimit-limit"], "5");
        assert_eq!(headers["x-ratelimit-remaining"], "3");
        assert_eq!(headers["x-ratelimit-reset"], "25");
        assert!(!headers.contains_key(RETRY_AFTER));

        let mut headers = HeaderMap::new();
        let refused = Decision::from_parts(
            false,
            0,
            Duration::from_secs(60),
            Duration::from_millis(11_500),
        );
        policy.stamp(&mut headers, RateLimitHeaders::Ietf, &refused);
        assert_eq!(headers["ratelimit"], r#""login";r=0;t=60"#);
        assert_eq!(headers[RETRY_AFTER], "12");
        assert!(!headers.contains_key("x-ratelimit-limit"));
    }

    #[test]
    fn large_numbers_are_formatted() {
        let policy = PolicyHeaders::new("default", Quota::per_hour(100_000));
        let mut headers = HeaderMap::new();
        let d = Decision::from_parts(true, 99_999, Duration::from_secs(3600), Duration::ZERO);
        policy.stamp(&mut headers, RateLimitHeaders::Legacy, &d);
        assert_eq!(headers["x-ratelimit-remaining"], "99999");
        assert_eq!(headers["x-ratelimit-reset"], "3600");
    }

    #[test]
    fn policy_names() {
        assert!(is_valid_policy_name("login.v2_strict-1"));
        for bad in ["", "a\"b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_valid_policy_name(bad), "{bad}");
        }
    }
}
