//! Client address: the resolved address is the peer, or an address written by
//! a chain of trusted proxies; never one that only an untrusted hop wrote.
//! Checked against a reference walk over the structured input the header text
//! is made from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Arbitrary, Unstructured};
use http::{HeaderMap, HeaderValue};
use tower_claude_core::{ClientIpResolver, ForwardedHeader, IpCidr, canonical_ip};

#[derive(Debug, Arbitrary)]
enum Kind {
    XForwardedFor,
    Forwarded,
    XRealIp,
}

#[derive(Debug, Arbitrary)]
enum Addr {
    /// One of a few addresses, trusted and not, so walks go deep.
    Known(u8),
    V4(u32),
    V6(u128),
}

#[derive(Debug, Arbitrary)]
enum Entry {
    /// An address, written in one of several spellings.
    Ip(Addr, u8),
    /// `unknown`, `_hidden` or junk: not an address.
    Opaque(u8),
    /// Raw bytes the client typed (commas removed so entries stay entries).
    Raw(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    kind: Kind,
    peer: Addr,
    /// Header lines, each a list of entries, left to right.
    lines: Vec<Vec<Entry>>,
}

const KNOWN: [&str; 8] = [
    "10.0.0.1",
    "10.9.9.9",
    "192.0.2.7",
    "203.0.113.5",
    "::ffff:10.0.0.2",
    "2001:db8::1",
    "2001:db8:ffff::9",
    "fd00::1",
];

fn trusted() -> Vec<IpCidr> {
    ["10.0.0.0/8", "2001:db8::/32"]
        .iter()
        .filter_map(|b| b.parse().ok())
        .collect()
}

fn ip(addr: &Addr) -> IpAddr {
    match addr {
        Addr::Known(n) => KNOWN[usize::from(*n) % KNOWN.len()]
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Addr::V4(bits) => IpAddr::V4(Ipv4Addr::from(*bits)),
        Addr::V6(bits) => IpAddr::V6(Ipv6Addr::from(*bits)),
    }
}

/// The entry as text, and what the reference walk takes it for.
fn spell(entry: &Entry, kind: &Kind) -> (String, Option<IpAddr>) {
    match entry {
        Entry::Ip(addr, style) => {
            let ip = ip(addr);
            let text = match (kind, ip, style % 4) {
                (Kind::Forwarded, IpAddr::V4(v4), 0) => format!("for={v4}"),
                (Kind::Forwarded, IpAddr::V4(v4), 1) => format!("for=\"{v4}:8080\""),
                (Kind::Forwarded, IpAddr::V4(v4), _) => format!("proto=https;for={v4}"),
                (Kind::Forwarded, IpAddr::V6(v6), 0) => format!("for=\"[{v6}]\""),
                (Kind::Forwarded, IpAddr::V6(v6), _) => format!("for=\"[{v6}]:443\""),
                (_, IpAddr::V4(v4), 0) => format!(" {v4}"),
                (_, IpAddr::V4(v4), 1) => format!("{v4}:1234"),
                (_, IpAddr::V6(v6), 1) => format!("[{v6}]:80"),
                (_, ip, _) => ip.to_string(),
            };
            (text, Some(ip))
        }
        Entry::Opaque(n) => {
            let text = match (kind, n % 3) {
                (Kind::Forwarded, 0) => "for=unknown",
                (Kind::Forwarded, 1) => "for=_hidden",
                (_, 0) => "unknown",
                (_, 1) => "not-an-address",
                (_, _) => "1.2.3.4.5",
            };
            (text.to_owned(), None)
        }
        Entry::Raw(text) => (text.replace(',', ""), None),
    }
}

/// Seed format: `<peer> <xff|forwarded|xrealip> <one header line>`.
pub fn check(data: &[u8]) {
    if let Some(text) = crate::seed(data) {
        return check_seed(&text);
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let header = match input.kind {
        Kind::XForwardedFor => ForwardedHeader::XForwardedFor,
        Kind::Forwarded => ForwardedHeader::Forwarded,
        Kind::XRealIp => ForwardedHeader::XRealIp,
    };
    let name = match input.kind {
        Kind::XForwardedFor => "x-forwarded-for",
        Kind::Forwarded => "forwarded",
        Kind::XRealIp => "x-real-ip",
    };
    let blocks = trusted();
    let is_trusted = |ip: IpAddr| blocks.iter().any(|b| b.contains(ip));
    let resolver = ClientIpResolver::new()
        .trusted_proxies(blocks.iter().copied())
        .forwarded_header(header);

    let mut headers = HeaderMap::new();
    // The entries the walk may take, left to right over all valid lines; a
    // raw entry's meaning is left to the parser, so the model only bounds it.
    let mut modelled: Vec<Option<IpAddr>> = Vec::new();
    let mut exact = true;
    for line in &input.lines {
        let spelled: Vec<(String, Option<IpAddr>)> =
            line.iter().map(|e| spell(e, &input.kind)).collect();
        let text = spelled
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let Ok(value) = HeaderValue::from_str(&text) else {
            continue;
        };
        if line.iter().any(|e| matches!(e, Entry::Raw(_))) || line.is_empty() {
            exact = false;
        }
        headers.append(name, value);
        modelled.extend(spelled.into_iter().map(|(_, ip)| ip));
    }
    let peer = canonical_ip(ip(&input.peer));
    let resolved = resolver.resolve_from_peer(peer, &headers);

    if !is_trusted(peer) {
        assert_eq!(resolved, peer, "an untrusted peer's headers were believed");
        return;
    }
    if matches!(input.kind, Kind::XRealIp) {
        if headers.get_all(name).iter().count() != 1 {
            assert_eq!(resolved, peer, "several X-Real-IP lines were believed");
        } else if let [single] = modelled.as_slice() {
            // One line holding one entry from a trusted peer: that address,
            // or the peer when it is not one.
            if exact {
                assert_eq!(resolved, single.map_or(peer, canonical_ip), "{headers:?}");
            }
        } else if exact {
            assert_eq!(
                resolved, peer,
                "a list in X-Real-IP was believed: {headers:?}"
            );
        }
        return;
    }
    // The reference walk: from the right, while the current hop is trusted.
    let mut expected = peer;
    for entry in modelled.iter().rev() {
        if !is_trusted(expected) {
            break;
        }
        match entry {
            Some(ip) => expected = canonical_ip(*ip),
            None => break,
        }
    }
    if exact {
        assert_eq!(resolved, expected, "{headers:?} from {peer}");
    } else {
        assert_written(resolved, peer, &headers, name);
    }
}

/// With raw client bytes in the lines, the parser's reading of them is not
/// modelled, but whatever it resolved must be the peer or written in the
/// headers.
fn assert_written(resolved: IpAddr, peer: IpAddr, headers: &HeaderMap, name: &str) {
    if resolved == peer {
        return;
    }
    let written = headers
        .get_all(name)
        .iter()
        // RFC 7239 quoted-pairs (`\b` is `b`) are read unescaped.
        .map(|v| String::from_utf8_lossy(v.as_bytes()).replace('\\', ""))
        .collect::<Vec<_>>();
    let written = written
        .iter()
        .flat_map(|line| line.split([',', ';', ' ', '"', '=', '[', ']', '\t']))
        .flat_map(|piece| [Some(piece), piece.rsplit_once(':').map(|(a, _)| a)])
        .flatten()
        .filter_map(|piece| piece.parse::<IpAddr>().ok())
        .any(|ip| canonical_ip(ip) == resolved);
    assert!(written, "{resolved} is written in none of {headers:?}");
}

fn check_seed(text: &str) {
    let mut parts = text.splitn(3, ' ');
    let (Some(peer), Some(kind), Some(line)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(peer) = peer.parse::<IpAddr>() else {
        return;
    };
    let (header, name) = match kind {
        "forwarded" => (ForwardedHeader::Forwarded, "forwarded"),
        "xrealip" => (ForwardedHeader::XRealIp, "x-real-ip"),
        _ => (ForwardedHeader::XForwardedFor, "x-forwarded-for"),
    };
    let blocks = trusted();
    let resolver = ClientIpResolver::new()
        .trusted_proxies(blocks.iter().copied())
        .forwarded_header(header);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(line) {
        headers.insert(name, value);
    }
    let peer = canonical_ip(peer);
    let resolved = resolver.resolve_from_peer(peer, &headers);
    if !blocks.iter().any(|b| b.contains(peer)) {
        assert_eq!(resolved, peer, "an untrusted peer's headers were believed");
    }
    assert_written(resolved, peer, &headers, name);
}
