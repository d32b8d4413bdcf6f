//! What an audit event may say of a request: the parts a client sends,
//! bounded and limited to characters that cannot forge a log line.

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
/// than `"` and `\`.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.as_bytes();
    let shown = !value.is_empty()
        && value.len() <= MAX_LOGGED_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\'));
    // All visible ASCII, so the conversion cannot fail.
    shown.then(|| std::str::from_utf8(value).ok()).flatten()
}

/// `path` as an audit event shows it: at most [`MAX_LOGGED_LEN`] bytes, then
/// `...`. A URI path holds only ASCII that needs no escaping in a log line.
///
/// ```
/// use tower_claude_core::audit;
///
/// assert_eq!(audit::route("/api/whoami"), "/api/whoami");
/// assert_eq!(audit::route(&"/a".repeat(500)).len(), audit::MAX_LOGGED_LEN + 3);
/// ```
pub fn route(path: &str) -> std::borrow::Cow<'_, str> {
    if path.len() <= MAX_LOGGED_LEN {
        return path.into();
    }
    let mut end = MAX_LOGGED_LEN;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &path[..end]).into()
}
