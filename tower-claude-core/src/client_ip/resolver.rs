//! Deciding which address is the client's.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::Extensions;
use http::header::{FORWARDED, HeaderMap, HeaderName};

use crate::Rejection;

use super::addr::canonical;
use super::cidr::IpCidr;
use super::forwarded::{Node, forwarded_element_node, parse_address};
use super::peer::peer_addr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The header a trusted proxy writes the client address into.
///
/// Pick the one your proxy *writes*. The others are ignored even from trusted
/// peers, because a proxy that appends to one header passes the rest through from
/// the client untouched: reading them would let the client choose its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx `$proxy_add_x_forwarded_for`,
    /// AWS ALB, Google Cloud load balancers, Envoy, Traefik, HAProxy `forwardfor`).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
    /// `X-Real-IP: client`, written whole by one proxy (nginx `$remote_addr`).
    XRealIp,
}

/// Resolves the client address of a request.
///
/// The transport peer (see [`peer_addr`](crate::peer_addr)) is the only address
/// nobody can forge. Forwarded headers are read only when that peer lies in a
/// trusted block, and then walked from the right: each trusted hop vouches for the
/// entry it appended, so the walk stops at the first address that is not a trusted
/// proxy. That is the client. An entry that is malformed or obfuscated
/// (`for=unknown`, `for=_hidden`) ends the walk at the last trustworthy address,
/// because nothing to its left was written by anyone we trust.
///
/// IPv4-mapped IPv6 addresses fold to IPv4 everywhere.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use tower_claude_core::{ClientIpResolver, IpCidr};
///
/// let resolver = ClientIpResolver::new()
///     .trusted_proxies(["10.0.0.0/8".parse::<IpCidr>().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"));
///
/// // From the trusted load balancer: the first untrusted hop from the right.
/// let lb = "10.0.0.1".parse().unwrap();
/// assert_eq!(resolver.resolve_from_peer(lb, &headers).to_string(), "203.0.113.7");
///
/// // From anyone else the header is a client's claim and is ignored.
/// let stranger = "198.51.100.9".parse().unwrap();
/// assert_eq!(resolver.resolve_from_peer(stranger, &headers), stranger);
/// ```
#[derive(Clone, Default)]
pub struct ClientIpResolver {
    trusted: Arc<[IpCidr]>,
    header: ForwardedHeader,
}

impl ClientIpResolver {
    /// A resolver that trusts no proxy: the client is the transport peer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the proxies in these blocks to report the client address. Replaces
    /// any blocks trusted before.
    #[must_use]
    pub fn trusted_proxies(mut self, blocks: impl IntoIterator<Item = IpCidr>) -> Self {
        self.trusted = blocks.into_iter().collect();
        self
    }

    /// Which header the trusted proxies write. Default: `X-Forwarded-For`.
    #[must_use]
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` lies in a trusted block.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|block| block.contains(ip))
    }

    /// The client address of a request, from its peer address and headers.
    ///
    /// # Errors
    /// [`MissingPeerAddr`] when the server recorded no peer address: a
    /// configuration error (see its message for the fix), never a reason to fall
    /// back to a shared or header-supplied address.
    pub fn resolve(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<IpAddr, MissingPeerAddr> {
        let peer = peer_addr(extensions).ok_or(MissingPeerAddr(()))?;
        Ok(self.resolve_from_peer(peer.ip(), headers))
    }

    /// The client address given the transport peer's address.
    pub fn resolve_from_peer(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut walk = Walk {
            resolver: self,
            current: canonical(peer),
        };
        if self.trusted.is_empty() || !self.is_trusted(walk.current) {
            return walk.current;
        }
        match self.header {
            // Entries are split from the right, byte-wise, and decoded one by one:
            // a proxy appends its (well-formed) entry to the client's line, so a
            // malformed byte or an open quote the client typed to the left must
            // not hide it.
            ForwardedHeader::XForwardedFor => {
                for line in headers.get_all(X_FORWARDED_FOR).iter().rev() {
                    for entry in line.as_bytes().rsplit(|&b| b == b',') {
                        let node = std::str::from_utf8(entry).map_or(Node::Invalid, parse_address);
                        if !walk.step(node) {
                            return walk.current;
                        }
                    }
                }
            }
            ForwardedHeader::Forwarded => {
                for line in headers.get_all(FORWARDED).iter().rev() {
                    for element in line.as_bytes().rsplit(|&b| b == b',') {
                        let node = std::str::from_utf8(element)
                            .map_or(Node::Invalid, forwarded_element_node);
                        if !walk.step(node) {
                            return walk.current;
                        }
                    }
                }
            }
            ForwardedHeader::XRealIp => {
                let mut lines = headers.get_all(X_REAL_IP).iter();
                // Several X-Real-IP lines mean someone other than our proxy wrote
                // one; believe none of them.
                if let (Some(line), None) = (lines.next(), lines.next())
                    && let Ok(text) = line.to_str()
                {
                    walk.step(parse_address(text));
                }
            }
        }
        walk.current
    }
}

/// The right-to-left walk over forwarded entries.
struct Walk<'a> {
    resolver: &'a ClientIpResolver,
    current: IpAddr,
}

impl Walk<'_> {
    /// Takes the next entry to the left. Returns whether the walk goes on.
    fn step(&mut self, node: Node) -> bool {
        if !self.resolver.is_trusted(self.current) {
            // `current` is the client: whatever lies further left is its claim.
            return false;
        }
        match node {
            Node::Ip(ip) => {
                self.current = canonical(ip);
                true
            }
            Node::Obfuscated | Node::Invalid => false,
        }
    }
}

impl fmt::Debug for ClientIpResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIpResolver")
            .field("trusted", &self.trusted)
            .field("header", &self.header)
            .finish()
    }
}

/// The server recorded no peer address for the request.
///
/// This is a deployment error, not a client error: the server was not set up to
/// tell middleware who is calling. Layers answer it with a 500 and one `tracing`
/// error naming the fix ([`MissingPeerAddr::report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPeerAddr(());

impl MissingPeerAddr {
    /// The fix, in one sentence an operator can act on.
    pub const FIX: &'static str = "no peer address in the request extensions: serve axum with \
        `into_make_service_with_connect_info::<SocketAddr>()` (and enable the `axum` feature), \
        enable the `tonic` feature for tonic servers (`tonic-tls` for tonic with TLS), or wrap each connection's service of a \
        plain hyper server in `tower_claude_core::InsertPeerAddr`";

    /// Logs one `tracing` error naming the fix and returns the 500 to send. The
    /// client learns only that the server could not identify it.
    pub fn report(&self, layer: &'static str) -> Rejection {
        tracing::error!(layer, "{}", Self::FIX);
        Rejection::internal(
            "missing_client_address",
            "the server could not determine the client address",
        )
    }
}

impl fmt::Display for MissingPeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::FIX)
    }
}

impl std::error::Error for MissingPeerAddr {}
