//! Per-client rate limiting for Tower services.
//!
//! This crate will hold the token-bucket layer keyed by the client address that
//! [`tower_claude_core::ClientIpResolver`] resolves, with IPv6 prefix grouping,
//! the IETF `RateLimit` fields and bounded memory. It is being built in the open;
//! until its first release it exports nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]
