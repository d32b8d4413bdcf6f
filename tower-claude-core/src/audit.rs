//! What an audit event may say of a request: the parts a client sends,
//! bounded and limited to characters that cannot forge a log line.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::HeaderMap;

/// The request header an audit event reads its request id from, the one
/// tower-http's `SetRequestId` and most proxies write.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id or path an audit event carries.
pub const MAX_LOGGED_LEN: usize = 200;

/// The request's `x-request-id`, when it is 1 to [`MAX_LOGGED_LEN`] visible
/// ASCII characters (no spaces, quotes, control or non-ASCII bytes); any other
/// value is left out, so a client cannot write a line break or a fake field
/// into the log through it.
///
/// ```
/// use http::HeaderMap;
/// use tower_claude_core::audit;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(audit::request_id(&headers), None);
/// headers.insert("x-request-id", "7f9c-42".parse().unwrap());
/// assert_eq!(audit::request_id(&headers), Some("7f9c-42"));
/// headers.insert("x-request-id", "two words".parse().unwrap());
/// assert_eq!(audit::request_id(&headers), None);
/// ```
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    header(headers, REQUEST_ID_HEADER)
}

/// The value of the header `name` under the rules of [`request_id`]: shown
/// only when it is 1 to [`MAX_LOGGED_LEN`] visible ASCII characters other
/// than `"` and `\\`.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    text(value)
}

/// `value` when an audit event may carry it as it is: 1 to
/// [`MAX_LOGGED_LEN`] visible ASCII characters other than `"` and `\\`.
///
/// ```
/// use tower_claude_core::audit;
///
/// assert_eq!(audit::text("build.finished"), Some("build.finished"));
/// assert_eq!(audit::text("a\u{202e}b"), None);
/// assert_eq!(audit::text(&"x".repeat(201)), None);
/// ```
pub fn text(value: &str) -> Option<&str> {
    let shown = !value.is_empty() && value.len() <= MAX_LOGGED_LEN && value.bytes().all(is_plain);
    shown.then_some(value)
}

/// Visible ASCII that needs no escaping in a text or JSON log line.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'"' | b'\\')
}

/// `path` as an audit event shows it: every byte other than visible ASCII
/// (non-ASCII, which `http` admits in a path, such as a right-to-left
/// override), `"` and `\\` percent-encoded, so the line reads as written; at
/// most [`MAX_LOGGED_LEN`] bytes, then `...`.
///
/// ```
/// use tower_claude_core::audit;
///
/// assert_eq!(audit::route("/api/whoami"), "/api/whoami");
/// assert_eq!(audit::route("/a\u{202e}b"), "/a%E2%80%AEb");
/// assert_eq!(audit::route(&"/a".repeat(500)).len(), audit::MAX_LOGGED_LEN + 3);
/// ```
pub fn route(path: &str) -> Cow<'_, str> {
    let shown: Cow<'_, str> = if path.bytes().all(is_plain) {
        path.into()
    } else {
        let mut encoded = String::with_capacity(path.len() + 16);
        for byte in path.bytes() {
            if is_plain(byte) {
                encoded.push(char::from(byte));
            } else {
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
        encoded.into()
    };
    if shown.len() <= MAX_LOGGED_LEN {
        return shown;
    }
    // All ASCII by now, so any index is a character boundary.
    format!("{}...", &shown[..MAX_LOGGED_LEN]).into()
}
