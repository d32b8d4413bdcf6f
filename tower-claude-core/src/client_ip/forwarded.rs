//! Parsers for the hop entries of `Forwarded` (RFC 7239), `X-Forwarded-For` and
//! `X-Real-IP`. They only parse; deciding whom to believe is the resolver's job.

use std::net::{IpAddr, SocketAddr};

/// One hop as a proxy described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// A usable address.
    Ip(IpAddr),
    /// `unknown` or an obfuscated `_identifier` (RFC 7239 section 6): a hop that
    /// exists but whose address was deliberately withheld.
    Obfuscated,
    /// Anything else: empty, truncated, not an address.
    Invalid,
}

/// Parses one node as proxies write it in practice: `192.0.2.1`, `2001:db8::1`,
/// `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
pub(crate) fn parse_address(text: &str) -> Node {
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if text.is_empty() {
        return Node::Invalid;
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Node::Ip(ip);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Node::Ip(sock.ip());
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<std::net::Ipv6Addr>()
    {
        return Node::Ip(IpAddr::V6(ip));
    }
    Node::Invalid
}

/// A node of a `Forwarded` `for=` parameter, already unquoted.
fn parse_forwarded_node(value: &str) -> Node {
    if value.eq_ignore_ascii_case("unknown") {
        return Node::Obfuscated;
    }
    if let Some(id) = value.strip_prefix('_') {
        // obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-"), optionally with a port.
        let name = id.split(':').next().unwrap_or_default();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        return if valid {
            Node::Obfuscated
        } else {
            Node::Invalid
        };
    }
    // RFC 7239 requires IPv6 in brackets (and then quotes); a bare IPv6 address
    // is not a valid node and is treated as garbage rather than guessed at.
    if value.contains(':') && !value.starts_with('[') && value.parse::<IpAddr>().is_ok() {
        return Node::Invalid;
    }
    parse_address(value)
}

/// Splits `text` on `separator` outside quoted strings. Returns `None` when a
/// quoted string is left open.
fn split_outside_quotes(text: &str, separator: u8) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_quotes {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
        } else if b == b'"' {
            in_quotes = true;
        } else if b == separator {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    if in_quotes {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// Undoes RFC 7230 quoting: `"a\"b"` is `a"b`. A token comes back unchanged.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        let is_token = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        return is_token.then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The `for=` node of one `Forwarded` element such as
/// `for=192.0.2.60;proto=http;by=203.0.113.43`. An element without exactly one
/// `for` parameter, or with a malformed pair, is `Invalid`: that hop cannot be
/// accounted for.
pub(crate) fn forwarded_element_node(element: &str) -> Node {
    let Some(pairs) = split_outside_quotes(element, b';') else {
        return Node::Invalid;
    };
    let mut node = None;
    for pair in pairs {
        let pair = pair.trim_matches(|c| c == ' ' || c == '\t');
        let Some((name, value)) = pair.split_once('=') else {
            return Node::Invalid;
        };
        let Some(value) = unquote(value) else {
            return Node::Invalid;
        };
        if name.eq_ignore_ascii_case("for") {
            if node.is_some() {
                return Node::Invalid;
            }
            node = Some(parse_forwarded_node(&value));
        }
    }
    node.unwrap_or(Node::Invalid)
}

/// The nodes of one `Forwarded` header line, left to right, split as the
/// resolver splits them: on every comma, so that a quote the client left open
/// cannot swallow the element a proxy appended after it. A quoted value holding
/// a comma (legal, and never an address) becomes garbage, which stops the walk
/// at the last trusted hop: safe, never the client's choice.
#[cfg(test)]
fn forwarded_nodes(line: &str) -> Vec<Node> {
    line.split(',').map(forwarded_element_node).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Node {
        Node::Ip(s.parse().unwrap())
    }

    #[test]
    fn addresses_as_proxies_write_them() {
        assert_eq!(parse_address(" 192.0.2.1 "), ip("192.0.2.1"));
        assert_eq!(parse_address("192.0.2.1:8080"), ip("192.0.2.1"));
        assert_eq!(parse_address("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(parse_address("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(parse_address("[2001:db8::1]:4711"), ip("2001:db8::1"));
        for bad in [
            "",
            "   ",
            "unknown",
            "1.2.3",
            "1.2.3.4.5",
            "[1.2.3.4]",
            "evil.example",
            "1.2.3.4:x",
        ] {
            assert_eq!(parse_address(bad), Node::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn rfc7239_examples() {
        // The examples of RFC 7239 section 4 and 7.
        assert_eq!(forwarded_nodes(r#"for="_gazonk""#), vec![Node::Obfuscated]);
        assert_eq!(
            forwarded_nodes(r#"For="[2001:db8:cafe::17]:4711""#),
            vec![ip("2001:db8:cafe::17")]
        );
        assert_eq!(
            forwarded_nodes("for=192.0.2.60;proto=http;by=203.0.113.43"),
            vec![ip("192.0.2.60")]
        );
        assert_eq!(
            forwarded_nodes("for=192.0.2.43, for=198.51.100.17"),
            vec![ip("192.0.2.43"), ip("198.51.100.17")]
        );
        assert_eq!(
            forwarded_nodes(r#"for=unknown, for="_hidden:443", for=198.51.100.17"#),
            vec![Node::Obfuscated, Node::Obfuscated, ip("198.51.100.17")]
        );
    }

    #[test]
    fn malformed_forwarded_elements_are_invalid() {
        assert_eq!(forwarded_nodes("proto=https"), vec![Node::Invalid]);
        assert_eq!(forwarded_nodes("for"), vec![Node::Invalid]);
        assert_eq!(forwarded_nodes(r#"for="192.0.2.1"#), vec![Node::Invalid]);
        assert_eq!(
            forwarded_nodes("for=192.0.2.1;for=192.0.2.2"),
            vec![Node::Invalid]
        );
        assert_eq!(forwarded_nodes("for=2001:db8::1"), vec![Node::Invalid]);
        assert_eq!(forwarded_nodes("for=_"), vec![Node::Invalid]);
        assert_eq!(forwarded_nodes("for=_a/b"), vec![Node::Invalid]);
        assert_eq!(
            forwarded_nodes(r#"for=192.0.2.1;by="a,b", for=198.51.100.2"#),
            vec![Node::Invalid, Node::Invalid, ip("198.51.100.2")]
        );
        assert_eq!(forwarded_nodes(""), vec![Node::Invalid]);
    }
}
