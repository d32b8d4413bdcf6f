//! Security headers for Tower services.
//!
//! [`SecurityHeadersLayer`] adds a modern set of response headers, each value
//! built once when the layer is built, so a response costs one pass of inserts:
//!
//! - presets: [`web`](SecurityHeadersLayer::web) (helmet's defaults, for HTML
//!   apps), [`strict_api`](SecurityHeadersLayer::strict_api) (for JSON APIs,
//!   OWASP's stricter values) and [`legacy`](SecurityHeadersLayer::legacy) (the
//!   system this crate replaces);
//! - typed, validated builders: [`Hsts`], [`Csp`] (report-only too),
//!   [`PermissionsPolicy`], [`FrameOptions`], [`ReferrerPolicy`] and the
//!   cross-origin policies; any header can be overridden or removed;
//! - CSP nonces: a fresh 128-bit nonce per request in `script-src` and
//!   `style-src`, and as [`CspNonce`] in the request extensions;
//! - HSTS only over HTTPS (TLS this server terminated, marked by a
//!   [`TlsConnection`](tower_claude_core::TlsConnection) extension, or
//!   `X-Forwarded-Proto` from a trusted proxy; never a scheme the client wrote)
//!   unless told to send it always;
//! - no clobbering of headers the handler set; `Server` and `X-Powered-By`
//!   removed; browser-only headers skipped on gRPC responses.
//!
//! [`HttpsRedirectLayer`] sends plain-HTTP requests to HTTPS with a 308, for the
//! hosts on its allowlist only.
//!
//! ```
//! use axum::{Extension, Router, response::Html, routing::get};
//! use tower_claude_headers::{CspNonce, SecurityHeadersBuilder};
//!
//! # fn main() -> Result<(), tower_claude_headers::HeaderConfigError> {
//! let headers = SecurityHeadersBuilder::web().csp_nonces(true).build()?;
//! let app: Router = Router::new()
//!     .route("/", get(|Extension(nonce): Extension<CspNonce>| async move {
//!         Html(format!("<script nonce=\"{nonce}\">console.log('hi')</script>"))
//!     }))
//!     .layer(headers);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod builder;
mod csp;
mod error;
mod future;
mod hsts;
mod layer;
mod nonce;
mod policy;
mod redirect;
mod values;

pub use builder::SecurityHeadersBuilder;
pub use csp::Csp;
pub use error::HeaderConfigError;
pub use future::ResponseFuture;
pub use hsts::{Hsts, ONE_YEAR};
pub use layer::{SecurityHeaders, SecurityHeadersLayer};
pub use nonce::CspNonce;
pub use redirect::{HttpsRedirect, HttpsRedirectLayer, RedirectFuture};
pub use values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions,
    PermissionsPolicy, ReferrerPolicy,
};
