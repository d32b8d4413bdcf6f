//! Bearer-token authentication for Tower services.
//!
//! This crate will hold the `Authorization: Bearer` layer: plaintext (development),
//! SHA-256 and bcrypt credentials, named keys with scopes, and a public-path
//! allowlist built on [`tower_claude_core::PathRules`]. It is being built in the
//! open; until its first release it exports nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]
