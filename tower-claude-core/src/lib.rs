//! The shared floor of the tower-claude layers.
//!
//! Every layer in the workspace does four things the same way, and they live here:
//!
//! - **Who is calling.** [`ClientIpResolver`] reads the transport peer from the
//!   request extensions ([`PeerAddr`], axum's `ConnectInfo<SocketAddr>` with the
//!   `axum` feature, tonic's `TcpConnectInfo` with the `tonic` feature) and
//!   believes `X-Forwarded-For`, `Forwarded` or `X-Real-IP` only from proxies in
//!   trusted CIDR blocks, walking from the right.
//! - **How to refuse.** A [`Rejection`] becomes a JSON error for HTTP clients and a
//!   trailers-only response with the right `grpc-status` for gRPC clients, through
//!   a replaceable [`Responder`].
//! - **What body to answer with.** [`ResponseBody`] is the inner body or the
//!   refusal's, and works with axum, tonic and hyper.
//! - **Which paths are public.** [`PathRules`] matches the raw path exactly and
//!   fails closed on every shape that a proxy or router might read differently.
//!
//! ```
//! use http::{HeaderMap, HeaderValue, Method};
//! use tower_claude_core::{ClientIpResolver, IpCidr, PathRules};
//!
//! let public = PathRules::new().exact("/health").prefix("/docs");
//! assert!(public.is_match(&Method::GET, "/docs/api"));
//! assert!(!public.is_match(&Method::GET, "/docs/..%2fadmin"));
//!
//! let resolver = ClientIpResolver::new().trust_proxies(IpCidr::loopback());
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
//! let client = resolver.resolve_from_peer("127.0.0.1".parse().unwrap(), &headers);
//! assert_eq!(client.to_string(), "203.0.113.9");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod body;
mod client_ip;
pub mod encoding;
mod error;
mod path;
pub mod random;
mod redact;
mod rejection;
mod throttle;

pub use body::{RejectionBody, ResponseBody};
pub use client_ip::{
    ClientIpResolver, ForwardedHeader, InsertPeerAddr, InsertPeerAddrLayer, IpCidr, Ipv6Prefix,
    MissingPeerAddr, PeerAddr, TlsConnection, canonical_ip, embedded_ipv4, peer_addr,
};
pub use error::ConfigError;
pub use path::{PathRules, is_ambiguous_path, routing_path};
pub use redact::redact_url;
pub use rejection::{
    DefaultResponder, GrpcStatus, Rejection, RejectionReason, RequestHead, Responder,
    SharedResponder, is_grpc, percent_encode_grpc_message,
};
pub use throttle::{LogAdmit, LogThrottle, WarnOnce};
