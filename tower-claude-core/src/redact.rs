//! Showing a connection URL without its password.

/// `url` without its password, for logs and `Debug`: the password of
/// `scheme://user:password@host` and the whole query string (where
/// `redis+unix:///sock?pass=...` and many drivers carry it) are replaced by
/// `<redacted>`.
///
/// ```
/// use tower_claude_core::redact_url;
///
/// assert_eq!(redact_url("rediss://app:hunter2@cache:6380/0"), "rediss://app:<redacted>@cache:6380/0");
/// assert_eq!(redact_url("redis+unix:///run/redis.sock?pass=hunter2"), "redis+unix:///run/redis.sock?<redacted>");
/// assert_eq!(redact_url("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
/// ```
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?<redacted>"),
        None => (url, ""),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = base[scheme + 3..at].split(':').next().unwrap_or_default();
            format!("{}{user}:<redacted>{}", &base[..scheme + 3], &base[at..])
        }
        _ => base.to_owned(),
    };
    format!("{base}{query}")
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
}
