//! The rate-limit fields of a response: the IETF draft's and the legacy trio.

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
    /// `"name";r=`, the start of every `RateLimit` value.
    ratelimit_prefix: Box<[u8]>,
    policy: HeaderValue,
    limit: HeaderValue,
}

/// The longest `RateLimit` value: a 64-byte name, its quotes and two numbers.
const RATELIMIT_MAX: usize = 2 + 64 + 3 + 20 + 3 + 20;

impl PolicyHeaders {
    pub(crate) fn new(name: &str, quota: Quota) -> Self {
        // The bucket as a quota: `burst` requests per the time the whole burst
        // takes to come back. Its rate is the configured one, and `q` is also
        // the most `r` can ever be (`per_minute(100)` is `q=100;w=60`).
        let window = quota.refill_time().as_nanos().div_ceil(1_000_000_000);
        // The name was checked to be a token of A-Z a-z 0-9 _ - . when the policy
        // was configured, so it needs no escaping inside the quoted string.
        let policy = format!("\"{name}\";q={};w={window}", quota.burst_size());
        Self {
            ratelimit_prefix: format!("\"{name}\";r=").into_bytes().into_boxed_slice(),
            policy: value(policy),
            limit: HeaderValue::from(quota.burst_size()),
        }
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
        // One growth of the map for the fields this style writes, instead of
        // one per field as it fills up.
        let fields = 2 * usize::from(style.ietf())
            + 3 * usize::from(style.legacy())
            + usize::from(!decision.is_allowed());
        headers.reserve(fields);
        if style.ietf() {
            headers.insert(RATELIMIT_POLICY, self.policy.clone());
            headers.insert(RATELIMIT, self.ratelimit(remaining, reset));
        }
        if style.legacy() {
            headers.insert(X_RATELIMIT_LIMIT, self.limit.clone());
            headers.insert(X_RATELIMIT_REMAINING, number(remaining));
            headers.insert(X_RATELIMIT_RESET, number(reset));
        }
        if !decision.is_allowed() {
            headers.insert(RETRY_AFTER, number(decision.retry_after_secs()));
        }
    }

    /// `"name";r=<remaining>;t=<reset>`, built on the stack: this runs on every
    /// response, and `format!` costs more than the rest of the layer.
    fn ratelimit(&self, remaining: u64, reset: u64) -> HeaderValue {
        let mut buf = [0u8; RATELIMIT_MAX];
        let mut len = 0;
        let mut push = |bytes: &[u8]| {
            let end = (len + bytes.len()).min(RATELIMIT_MAX);
            buf[len..end].copy_from_slice(&bytes[..end - len]);
            len = end;
        };
        push(&self.ratelimit_prefix);
        push(Digits::of(remaining).as_bytes());
        push(b";t=");
        push(Digits::of(reset).as_bytes());
        HeaderValue::from_bytes(&buf[..len]).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }
}

/// The decimal digits of a number, on the stack.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn of(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return Self { buf, start };
            }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// "000" to "999", so that the numbers most responses carry are static values:
/// no allocation, and nothing to count when they are cloned.
static SMALL: [u8; 3000] = small_numbers();

const fn small_numbers() -> [u8; 3000] {
    let mut table = [0u8; 3000];
    let mut i = 0;
    while i < 1000 {
        table[3 * i] = b'0' + (i / 100) as u8;
        table[3 * i + 1] = b'0' + (i / 10 % 10) as u8;
        table[3 * i + 2] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
}

/// "0" to "999" as strings, checked as UTF-8 once at compile time rather
/// than on every response.
static SMALL_TEXT: [&str; 1000] = small_texts();

const fn small_texts() -> [&'static str; 1000] {
    let mut texts = [""; 1000];
    let mut i = 0;
    while i < 1000 {
        let digits = if i >= 100 {
            3
        } else if i >= 10 {
            2
        } else {
            1
        };
        let (_, tail) = SMALL.split_at(3 * i + 3 - digits);
        let (text, _) = tail.split_at(digits);
        texts[i] = match std::str::from_utf8(text) {
            Ok(text) => text,
            Err(_) => "0",
        };
        i += 1;
    }
    texts
}

/// A header value of `n`.
fn number(n: u64) -> HeaderValue {
    if let Some(text) = usize::try_from(n).ok().and_then(|i| SMALL_TEXT.get(i)) {
        return HeaderValue::from_static(text);
    }
    HeaderValue::from_bytes(Digits::of(n).as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
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
    fn numbers() {
        for n in [0, 7, 10, 99, 100, 999, 1000, 65_535, u64::MAX] {
            assert_eq!(number(n), n.to_string().as_str());
        }
        let policy = PolicyHeaders::new(&"p".repeat(64), Quota::per_second(1));
        let value = policy.ratelimit(u64::from(u32::MAX), u64::MAX);
        assert_eq!(
            value,
            format!("\"{}\";r={};t={}", "p".repeat(64), u32::MAX, u64::MAX).as_str()
        );
    }

    #[test]
    fn policy_names() {
        assert!(is_valid_policy_name("login.v2_strict-1"));
        for bad in ["", "a\"b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_valid_policy_name(bad), "{bad}");
        }
    }
}
