#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod answer;
pub mod audit;
mod body;
mod client_ip;
mod clock;
pub mod encoding;
mod error;
mod path;
pub mod random;
mod redact;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod rejection;
mod service;
mod throttle;

pub use answer::{BoxResponseFuture, LayerAnswer};
pub use body::{RejectionBody, ResponseBody};
pub use client_ip::{
    ClientIpResolver, ForwardedHeader, InsertPeerAddr, InsertPeerAddrLayer, IpCidr, Ipv6Prefix,
    MissingPeerAddr, PeerAddr, TlsConnection, canonical_ip, embedded_ipv4, is_loopback_host,
    peer_addr,
};
pub use clock::Clock;
pub use error::ConfigError;
pub use path::{PathRules, is_ambiguous_path, routing_path};
pub use redact::{redact_url, redact_urls};
pub use rejection::{
    DefaultResponder, GrpcStatus, Rejection, RejectionReason, RequestHead, Responder,
    SharedResponder, is_grpc, percent_encode_grpc_message,
};
pub use service::take_ready;
pub use throttle::{LogAdmit, LogThrottle, WarnOnce};
