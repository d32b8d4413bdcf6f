#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
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
pub mod redirect;
mod values;

pub use error::HeaderConfigError;

/// Security headers on every response: [`SecurityHeadersLayer`](security::SecurityHeadersLayer) (presets
/// `web`, `strict_api`, `basic`), [`SecurityHeadersBuilder`](security::SecurityHeadersBuilder) and the typed
/// header values.
pub mod security {
    pub use crate::builder::SecurityHeadersBuilder;
    pub use crate::csp::Csp;
    pub use crate::future::ResponseFuture;
    pub use crate::hsts::{Hsts, ONE_YEAR};
    pub use crate::layer::{SecurityHeaders, SecurityHeadersLayer};
    pub use crate::nonce::CspNonce;
    pub use crate::values::{
        CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy,
        FrameOptions, PermissionsPolicy, ReferrerPolicy,
    };
}
