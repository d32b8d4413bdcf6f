//! URL redaction: whatever the shape of a connection URL, well formed or not,
//! no byte of its password is shown.

use arbitrary::{Arbitrary, Unstructured};
use tower_claude_core::redact_url;

#[derive(Debug, Arbitrary)]
struct Input {
    shape: u8,
    scheme: u8,
    user: String,
    password: String,
    host: String,
    tail: String,
}

/// Whether `pw`, written right after a scheme, stays a password: with a `:`
/// the syntax makes what precedes it a user name (shown by design), and a
/// leading `/` turns `scheme:` into `scheme://`.
fn plain_userinfo(pw: &str) -> bool {
    !pw.contains(':') && !pw.starts_with('/')
}

/// Seed format: the URL, a newline, and the password it holds.
pub fn check(data: &[u8]) {
    if let Some(text) = crate::seed(data) {
        let (url, password) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let shown = redact_url(url);
        // A password where a URL carries one: before the `@`, or in the query.
        let in_userinfo = url.contains(&format!("{password}@"));
        let in_query = url.find('?').is_some_and(|q| url[q..].contains(password));
        let once = url.matches(password).count() == 1;
        if password.len() >= 3 && once && (in_userinfo || in_query) {
            assert!(
                !shown.contains(password),
                "{url:?} shows its password: {shown:?}"
            );
        }
        return;
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let scheme =
        ["redis", "rediss", "redis+unix", "http", "https", ""][usize::from(input.scheme) % 6];
    // The password alone holds ASCII capitals: any capital in the output is a
    // password byte let through, whatever the URL's shape.
    let pw = input.password.to_ascii_uppercase();
    if !pw.bytes().any(|b| b.is_ascii_uppercase()) {
        return;
    }
    let user = input.user.to_ascii_lowercase();
    let host = input.host.to_ascii_lowercase();
    let tail = input.tail.to_ascii_lowercase();
    let url = match input.shape % 8 {
        0 => format!("{scheme}://{user}:{pw}@{host}{tail}"),
        1 => format!("{scheme}://:{pw}@{host}{tail}"),
        2 => format!("{scheme}:/:{pw}@{host}{tail}"),
        3 => format!("{scheme}//:{pw}@{host}{tail}"),
        4 if plain_userinfo(&pw) => format!("{scheme}:{pw}@{host}{tail}"),
        5 => format!("{scheme}://{user}:{pw}@{host}/0?password={pw}"),
        6 => format!("{scheme}://{host}/0?pass={pw}&db=1"),
        // Userinfo without a `:` is a password to some drivers; with one,
        // the syntax makes what precedes it a user name, shown by design.
        7 if plain_userinfo(&pw) => format!("{scheme}://{pw}@{host}{tail}"),
        _ => return,
    };
    let shown = redact_url(&url);
    assert!(
        !shown.bytes().any(|b| b.is_ascii_uppercase()),
        "{url:?} shows password bytes: {shown:?}"
    );
}
