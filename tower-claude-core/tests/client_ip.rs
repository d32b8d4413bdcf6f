//! Client address resolution, table-driven: who wins for each peer and header shape.

use std::net::{IpAddr, SocketAddr};

use http::{Extensions, HeaderMap, HeaderValue};
use tower_claude_core::{
    ClientIpResolver, ForwardedHeader, IpCidr, MissingPeerAddr, PeerAddr, peer_addr,
};

struct Case {
    name: &'static str,
    peer: &'static str,
    trusted: &'static [&'static str],
    header: ForwardedHeader,
    lines: &'static [(&'static str, &'static [u8])],
    expect: &'static str,
}

const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
const FWD: ForwardedHeader = ForwardedHeader::Forwarded;
const REAL: ForwardedHeader = ForwardedHeader::XRealIp;

const CASES: &[Case] = &[
    Case {
        name: "no proxy trusted: the peer, whatever the headers say",
        peer: "198.51.100.1",
        trusted: &[],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6")],
        expect: "198.51.100.1",
    },
    Case {
        name: "untrusted peer sending X-Forwarded-For: the spoof must not win",
        peer: "198.51.100.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, 10.0.0.9")],
        expect: "198.51.100.1",
    },
    Case {
        name: "one trusted hop",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"203.0.113.7")],
        expect: "203.0.113.7",
    },
    Case {
        name: "one trusted hop, client-typed entries to the left are ignored",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, 7.7.7.7, 203.0.113.7")],
        expect: "203.0.113.7",
    },
    Case {
        name: "two trusted hops",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8", "192.0.2.0/24"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, 203.0.113.7, 192.0.2.10")],
        expect: "203.0.113.7",
    },
    Case {
        name: "several X-Forwarded-For lines are one list, in order",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[
            ("x-forwarded-for", b"6.6.6.6"),
            ("x-forwarded-for", b"203.0.113.8, 10.0.0.7"),
        ],
        expect: "203.0.113.8",
    },
    Case {
        name: "walk crosses header lines",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[
            ("x-forwarded-for", b"6.6.6.6, 203.0.113.9"),
            ("x-forwarded-for", b"10.0.0.7"),
        ],
        expect: "203.0.113.9",
    },
    Case {
        name: "every hop trusted: the leftmost, which a trusted proxy wrote",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"10.1.1.1, 10.0.0.2")],
        expect: "10.1.1.1",
    },
    Case {
        name: "trusted peer without a header: the peer",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[],
        expect: "10.0.0.1",
    },
    Case {
        name: "garbage entry: the last trustworthy address",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, not-an-ip")],
        expect: "10.0.0.1",
    },
    Case {
        name: "garbage behind a trusted hop: that hop",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, , 10.0.0.5")],
        expect: "10.0.0.5",
    },
    Case {
        name: "non-UTF-8 line: the last trustworthy address",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"6.6.6.6, \xff\xfe")],
        expect: "10.0.0.1",
    },
    Case {
        name: "a bad byte the client typed cannot hide the entry the proxy appended",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"\xff, 203.0.113.7")],
        expect: "203.0.113.7",
    },
    Case {
        name: "an open quote the client typed cannot swallow the proxy's element",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", br#"for="6.6.6.6, for=203.0.113.7"#)],
        expect: "203.0.113.7",
    },
    Case {
        name: "entries with ports and brackets",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"[2001:db8::5]:4711, 10.0.0.3:80")],
        expect: "2001:db8::5",
    },
    Case {
        name: "IPv4-mapped IPv6 entry folds to IPv4",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"::ffff:203.0.113.4")],
        expect: "203.0.113.4",
    },
    Case {
        name: "IPv4-mapped IPv6 peer folds and matches an IPv4 block",
        peer: "::ffff:10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"203.0.113.4")],
        expect: "203.0.113.4",
    },
    Case {
        name: "IPv4-mapped IPv6 untrusted peer folds",
        peer: "::ffff:198.51.100.3",
        trusted: &[],
        header: XFF,
        lines: &[],
        expect: "198.51.100.3",
    },
    Case {
        name: "IPv6 trusted proxy block",
        peer: "fd00::1",
        trusted: &["fd00::/8"],
        header: XFF,
        lines: &[("x-forwarded-for", b"2001:db8:1::9")],
        expect: "2001:db8:1::9",
    },
    Case {
        name: "Forwarded header ignored when the proxy writes X-Forwarded-For",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: XFF,
        lines: &[
            ("forwarded", b"for=6.6.6.6"),
            ("x-forwarded-for", b"203.0.113.1"),
        ],
        expect: "203.0.113.1",
    },
    Case {
        name: "Forwarded with quoted IPv6 and port",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[(
            "forwarded",
            br#"for="[2001:db8:cafe::17]:4711";proto=https"#,
        )],
        expect: "2001:db8:cafe::17",
    },
    Case {
        name: "Forwarded, RFC 7239 example, two hops",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8", "198.51.100.17/32"],
        header: FWD,
        lines: &[(
            "forwarded",
            b"for=192.0.2.43, for=198.51.100.17;by=203.0.113.60",
        )],
        expect: "192.0.2.43",
    },
    Case {
        name: "Forwarded quoted IPv4 with port",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", br#"for="192.0.2.60:8080""#)],
        expect: "192.0.2.60",
    },
    Case {
        name: "Forwarded obfuscated _hidden: the last trustworthy address",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", b"for=6.6.6.6, for=_hidden")],
        expect: "10.0.0.1",
    },
    Case {
        name: "Forwarded unknown: never used as an address",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", b"for=unknown")],
        expect: "10.0.0.1",
    },
    Case {
        name: "Forwarded unquoted IPv6 is malformed",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", b"for=2001:db8::1")],
        expect: "10.0.0.1",
    },
    Case {
        name: "Forwarded element without for: that hop is unaccounted for",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", b"for=6.6.6.6, proto=https")],
        expect: "10.0.0.1",
    },
    Case {
        name: "Forwarded unterminated quote",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", br#"for="192.0.2.1"#)],
        expect: "10.0.0.1",
    },
    Case {
        name: "Forwarded from an untrusted peer",
        peer: "198.51.100.1",
        trusted: &["10.0.0.0/8"],
        header: FWD,
        lines: &[("forwarded", b"for=6.6.6.6")],
        expect: "198.51.100.1",
    },
    Case {
        name: "X-Real-IP from a trusted proxy",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: REAL,
        lines: &[("x-real-ip", b"203.0.113.77")],
        expect: "203.0.113.77",
    },
    Case {
        name: "X-Real-IP from an untrusted peer",
        peer: "198.51.100.1",
        trusted: &["10.0.0.0/8"],
        header: REAL,
        lines: &[("x-real-ip", b"6.6.6.6")],
        expect: "198.51.100.1",
    },
    Case {
        name: "two X-Real-IP lines: believe neither",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: REAL,
        lines: &[("x-real-ip", b"6.6.6.6"), ("x-real-ip", b"203.0.113.77")],
        expect: "10.0.0.1",
    },
    Case {
        name: "X-Real-IP garbage",
        peer: "10.0.0.1",
        trusted: &["10.0.0.0/8"],
        header: REAL,
        lines: &[("x-real-ip", b"6.6.6.6, 7.7.7.7")],
        expect: "10.0.0.1",
    },
];

fn headers(lines: &[(&'static str, &'static [u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(*name, HeaderValue::from_bytes(value).unwrap());
    }
    map
}

#[test]
fn resolution_table() {
    for case in CASES {
        let resolver = ClientIpResolver::new()
            .trusted_proxies(case.trusted.iter().map(|c| c.parse::<IpCidr>().unwrap()))
            .forwarded_header(case.header);
        let peer: IpAddr = case.peer.parse().unwrap();
        let got = resolver.resolve_from_peer(peer, &headers(case.lines));
        assert_eq!(got.to_string(), case.expect, "{}", case.name);
    }
}

#[test]
fn no_peer_is_an_error_naming_the_fix() {
    let resolver = ClientIpResolver::new().trusted_proxies(IpCidr::private());
    let mut map = HeaderMap::new();
    map.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
    let error: MissingPeerAddr = resolver.resolve(&map, &Extensions::new()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("into_make_service_with_connect_info"),
        "{text}"
    );
    assert!(text.contains("InsertPeerAddr"), "{text}");
    let rejection = error.report("test");
    assert_eq!(rejection.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!rejection.message().contains("InsertPeerAddr"));
}

#[test]
fn peer_from_the_peer_addr_extension() {
    let mut extensions = Extensions::new();
    let addr: SocketAddr = "[::ffff:192.0.2.9]:443".parse().unwrap();
    extensions.insert(PeerAddr(addr));
    assert_eq!(peer_addr(&extensions), Some(addr));
    let resolved = ClientIpResolver::new()
        .resolve(&HeaderMap::new(), &extensions)
        .unwrap();
    assert_eq!(resolved.to_string(), "192.0.2.9");
}

#[test]
fn peer_from_axum_connect_info() {
    let mut extensions = Extensions::new();
    let addr: SocketAddr = "192.0.2.10:5000".parse().unwrap();
    extensions.insert(axum::extract::ConnectInfo(addr));
    assert_eq!(peer_addr(&extensions), Some(addr));
}
