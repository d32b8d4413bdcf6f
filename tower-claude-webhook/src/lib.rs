//! Signed webhooks for Tower clients and servers.
//!
//! This crate will hold HMAC-SHA256 signing in the seed and Standard Webhooks
//! schemes, an outbound signing layer, a delivery retry policy, and the verifier
//! with its receiver layer. It is being built in the open; until its first release
//! it exports nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]
