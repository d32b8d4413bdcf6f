//! Showing a connection URL without its password.

/// `url` without its password, for logs, errors and `Debug`.
///
/// Everything before the last `@` (after the scheme) is userinfo and is never
/// shown, except the user name of a well-formed `scheme://user:password@host`.
/// The query string (where `redis+unix:///sock?pass=...` and many drivers carry
/// a password) is replaced by `<redacted>`. Malformed input is redacted the
/// same way: a password that contains `/` or `@`, a scheme written `redis:/`
/// or `redis:`, or none at all, shows nothing of the userinfo; where a `?` or
/// `#` comes before the last `@` (a password holding it, or a query whose
/// password holds an `@`), nothing after the scheme is shown.
///
/// ```
/// use tower_claude_core::redact_url;
///
/// assert_eq!(redact_url("rediss://app:hunter2@cache:6380/0"), "rediss://app:<redacted>@cache:6380/0");
/// assert_eq!(redact_url("redis+unix:///run/redis.sock?pass=hunter2"), "redis+unix:///run/redis.sock?<redacted>");
/// assert_eq!(redact_url("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
/// assert_eq!(redact_url("redis:/:hunter2@127.0.0.1:1/0"), "redis:/<redacted>@127.0.0.1:1/0");
/// ```
pub fn redact_url(url: &str) -> String {
    redact_one(url)
}

/// Several URLs (a cluster's seed nodes), each as [`redact_url`] shows it,
/// comma-separated.
///
/// ```
/// use tower_claude_core::redact_urls;
///
/// assert_eq!(redact_urls(["redis://:pw@a:1/", "redis://b:2/"]), "redis://:<redacted>@a:1/,redis://b:2/");
/// ```
pub fn redact_urls(urls: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    urls.into_iter()
        .map(|url| redact_one(url.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    let (scheme, rest) = split_scheme(url);
    let mut out = String::with_capacity(url.len() + 10);
    out.push_str(scheme);
    let host_and_rest = match rest.rfind('@') {
        // A `?` or `#` before the last `@`: either the password holds it, or a
        // query (which may carry a password with an `@` in it) began there.
        // Nothing after the scheme can be shown safely.
        Some(at) if rest[..at].contains(['?', '#']) => {
            out.push_str("<redacted>");
            return out;
        }
        Some(at) => {
            let userinfo = &rest[..at];
            let well_formed = scheme.ends_with("://")
                && !userinfo.contains(['/', '?', '#', '@', '\\'])
                && userinfo.contains(':');
            if well_formed {
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push(':');
            }
            out.push_str("<redacted>");
            &rest[at..]
        }
        None => rest,
    };
    match host_and_rest.split_once('?') {
        Some((base, _)) => {
            out.push_str(base);
            out.push_str("?<redacted>");
        }
        None => out.push_str(host_and_rest),
    }
    out
}

/// `scheme://` (or a malformed `scheme:`, `scheme:/`), and what follows. A
/// scheme is ASCII letters, digits, `+`, `-` and `.`, starting with a letter.
fn split_scheme(url: &str) -> (&str, &str) {
    let Some(colon) = url.find(':') else {
        return ("", url);
    };
    let name = &url[..colon];
    let is_scheme = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return ("", url);
    }
    let slashes = url[colon + 1..].bytes().take_while(|&b| b == b'/').count();
    url.split_at(colon + 1 + slashes)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://:<redacted>@cache:6379/0"
        );
        assert_eq!(
            redact_url("rediss://app:hunter2@cache:6380"),
            "rediss://app:<redacted>@cache:6380"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?pass=hunter2&db=1"),
            "redis+unix:///run/redis.sock?<redacted>"
        );
    }

    /// Issue 13, item 11: malformed URLs still show no password byte.
    #[test]
    fn malformed_urls_show_nothing_of_the_userinfo() {
        let cases = [
            (
                "redis:/:PW@127.0.0.1:1/0",
                "redis:/<redacted>@127.0.0.1:1/0",
            ),
            ("redis//:PW@127.0.0.1:1/0", "<redacted>@127.0.0.1:1/0"),
            ("redis:PW@host", "redis:<redacted>@host"),
            ("redis://:P?W@host:6379/0", "redis://<redacted>"),
            ("redis://app:P?W@host", "redis://<redacted>"),
            // Found by the redact fuzz target: a query password holding `@`.
            ("redis://host/0?pass=PW@H1&db=1", "redis://<redacted>"),
            ("redis://:P@W@host", "redis://<redacted>@host"),
            ("redis://:P/W@host/0", "redis://<redacted>@host/0"),
            ("redis://PW@host", "redis://<redacted>@host"),
            (
                "http://user:pass@example.com/hook",
                "http://user:<redacted>@example.com/hook",
            ),
            ("http://user:pa#ss@example.com/hook", "http://<redacted>"),
            ("://:PW@x", "<redacted>@x"),
        ];
        for (input, want) in cases {
            let shown = redact_url(input);
            assert_eq!(shown, want, "{input}");
            for secret in ["PW", "P?W", "P@W", "P/W", "pass", "pa#ss"] {
                if input.contains(&format!(":{secret}@")) || input.contains(&format!("/{secret}@"))
                {
                    assert!(!shown.contains(secret), "{input} shows {secret}: {shown}");
                }
            }
        }
    }
}
