//! The path a route quota is chosen by: the raw path as every component in
//! front of or behind the service might resolve it.

use std::borrow::Cow;

use super::is_ambiguous_path;
use crate::encoding::hex_digit;

/// Rounds of percent-decoding: `%2569` is `%69` is `i` to a component that
/// decodes twice.
const DECODE_ROUNDS: usize = 3;

/// `path` with the shapes that routers and proxies resolve differently
/// resolved the way that lands it on a route if any component could: percent-
/// encoded ASCII decoded (repeatedly), backslashes read as slashes, `;params`
/// dropped, empty and `.` segments removed, `..` applied.
///
/// Choosing a route quota by this path can only put *more* requests under a
/// route's quota, never fewer: `/log%69n`, `//login`, `/login/` and `/login;x`
/// are all held to the `/login` quota, while `/files/caf%C3%A9` still goes to
/// whatever quota `/files` has.
pub fn routing_path(raw: &str) -> Cow<'_, str> {
    if !is_ambiguous_path(raw) {
        return Cow::Borrowed(raw);
    }
    let mut bytes = raw.as_bytes().to_vec();
    for _ in 0..DECODE_ROUNDS {
        match decode_ascii(&bytes) {
            Some(decoded) => bytes = decoded,
            None => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut path = String::with_capacity(text.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() {
        path.push('/');
    }
    Cow::Owned(path)
}

/// One round of decoding `%XX` escapes of ASCII bytes (non-ASCII escapes stay
/// as they are: they name no ASCII route); `None` when nothing changed.
fn decode_ascii(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|b| hex_digit(*b)),
                bytes.get(i + 2).and_then(|b| hex_digit(*b)),
            )
        {
            let byte = high * 16 + low;
            if byte.is_ascii() && !byte.is_ascii_control() {
                out.push(byte);
                changed = true;
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::routing_path;

    #[test]
    fn resolves_every_shape_onto_the_route() {
        for shape in [
            "/login",
            "/log%69n",
            "/log%2569n",
            "//login",
            "/login/",
            "/login;jsessionid=1",
            "/./login",
            "/x/../login",
            "/login%2f",
            "\\login",
            "/%2e/login",
            "/login/.",
        ] {
            assert_eq!(routing_path(shape), "/login", "{shape}");
        }
        assert_eq!(routing_path("/files/caf%C3%A9"), "/files/caf%C3%A9");
        assert_eq!(routing_path("/../.."), "/");
        assert_eq!(
            routing_path("/a%00b"),
            "/a%00b",
            "control bytes stay encoded"
        );
    }
}
