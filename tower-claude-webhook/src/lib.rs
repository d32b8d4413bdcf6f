#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod deliver;
mod ed25519;
mod issued;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod replay;
mod scheme;
mod secret;
pub mod sign;
pub mod verify;
mod wire;

pub use ed25519::{PUBLIC_KEY_PREFIX, SIGNING_KEY_PREFIX, StandardPublicKey, StandardSigningKey};
pub use scheme::{Scheme, names};
pub use secret::{STANDARD_SECRET_PREFIX, SecretError, WebhookSecret};
