//! Which endpoints a sender may send to in the clear.

use http::Uri;

/// Where a [`WebhookSender`](crate::deliver::WebhookSender) may send over
/// plain `http://`: the body, its signature and the delivery id then cross the
/// network in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PlainHttp {
    /// Only `https://` endpoints (the default).
    #[default]
    Refused,
    /// `http://` on loopback hosts (`127.0.0.0/8`, `::1`, `localhost`): local
    /// receivers and tests.
    Loopback,
    /// `http://` anywhere.
    Anywhere,
}

impl PlainHttp {
    pub(crate) fn permits(self, uri: &Uri) -> bool {
        match uri.scheme_str() {
            Some("https") => true,
            Some("http") => match self {
                Self::Anywhere => true,
                Self::Loopback => uri.host().is_some_and(tower_claude_core::is_loopback_host),
                Self::Refused => false,
            },
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PlainHttp;

    #[test]
    fn plain_http_only_where_allowed() {
        let cases = [
            ("https://example.com/h", [true, true, true]),
            ("http://example.com/h", [false, false, true]),
            ("http://127.0.0.2:9/h", [false, true, true]),
            ("http://[::1]:9/h", [false, true, true]),
            ("http://LOCALHOST/h", [false, true, true]),
            ("http://localhost.example.com/h", [false, false, true]),
            ("ftp://127.0.0.1/h", [false, false, false]),
            ("/relative", [false, false, false]),
        ];
        for (uri, expected) in cases {
            let uri = uri.parse().unwrap();
            let got = [PlainHttp::Refused, PlainHttp::Loopback, PlainHttp::Anywhere]
                .map(|policy| policy.permits(&uri));
            assert_eq!(got, expected, "{uri}");
        }
    }
}
