//! Security headers for Tower services.
//!
//! This crate will hold the security-header layer (HSTS, CSP with per-request
//! nonces, frame options, nosniff, referrer and cross-origin policies) and an
//! HTTPS redirect. It is being built in the open; until its first release it
//! exports nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]
