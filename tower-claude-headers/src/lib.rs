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
