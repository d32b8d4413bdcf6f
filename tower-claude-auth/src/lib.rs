#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod answers;
mod audit;
mod bcrypt_pool;
mod cache;
mod credential;
mod fair;
mod future;
mod keyed_hash;
mod layer;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
pub mod oauth;
mod scopes;
mod service;
mod store;
mod token;
mod verifier;

pub use audit::AUDIT_TARGET;
pub use bcrypt_pool::BcryptStats;
pub use credential::{BCRYPT_MAX_TOKEN_LEN, Credential, CredentialError};
pub use future::ResponseFuture;
pub use layer::{BearerAuthLayer, DEFAULT_PUBLIC_PATHS};
pub use scopes::{RequireScopes, RequireScopesLayer};
pub use service::BearerAuth;
pub use store::{Key, KeyError, KeyStore, KeyStoreBuilder};
pub use verifier::{Authenticated, TokenVerifier, Verification, VerifyFuture};
