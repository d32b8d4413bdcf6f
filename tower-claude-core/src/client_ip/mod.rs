//! Who is calling: the transport peer, trusted proxies and forwarded headers.

mod addr;
mod cidr;
mod forwarded;
mod peer;
mod resolver;

pub use addr::{Ipv6Prefix, canonical_ip, embedded_ipv4, is_loopback_host};
pub use cidr::IpCidr;
pub use peer::{InsertPeerAddr, InsertPeerAddrLayer, PeerAddr, TlsConnection, peer_addr};
pub use resolver::{ClientIpResolver, ForwardedHeader, MissingPeerAddr};
