//! Bearer-token authentication for Tower services.
//!
//! [`BearerAuthLayer`] requires `Authorization: Bearer <token>` on every request
//! but the public ones, and works the same on axum, tonic and plain hyper: HTTP
//! clients get 401/403 with `WWW-Authenticate` and a JSON body, gRPC clients get
//! `UNAUTHENTICATED` or `PERMISSION_DENIED`.
//!
//! - **Credentials** ([`Credential`]): plaintext for development (compared in
//!   constant time through a keyed hash, so neither content nor length leaks),
//!   the SHA-256 digest of a random machine key, or a bcrypt hash validated when
//!   the layer is built. Tokens of 72 bytes or more never reach bcrypt, which
//!   would silently truncate them.
//! - **Named keys** ([`KeyStore`]): many keys with scopes, added and revoked at
//!   run time; tokens `<name>.<secret>` cost one bcrypt run however many keys
//!   there are. Handlers find [`Authenticated`] in the request extensions.
//! - **bcrypt without the bill**: runs off the executor, a bounded number at a
//!   time, with a verified-token cache, a short memory of wrong tokens and one
//!   shared run for concurrent requests with the same token; a full queue is a
//!   fast 503.
//! - **Public paths** through [`tower_claude_core::PathRules`], which match the
//!   raw path and refuse every shape a proxy could read two ways.
//! - **Other backends** through [`TokenVerifier`], whose "unavailable" verdict is
//!   a 503, not a 401.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_claude_auth::{BearerAuthLayer, Credential, Key, KeyStore, DEFAULT_PUBLIC_PATHS};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = KeyStore::new()
//!     .with("ci-bot", Key::new(Credential::sha256_hex(
//!         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//!     )?).scopes(["deploy"]));
//! let app: Router = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route("/deploy", get(|| async { "deploying" }))
//!     .layer(BearerAuthLayer::with_store(store.clone()).public_paths(DEFAULT_PUBLIC_PATHS));
//! // `Authorization: Bearer ci-bot.test` now reaches /deploy; revoke it with:
//! store.revoke("ci-bot");
//! # Ok(()) }
//! ```
//!
//! gRPC health checks stay public with
//! `.public_paths(["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"])`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod answers;
mod bcrypt_pool;
mod cache;
mod credential;
mod future;
mod keyed_hash;
mod layer;
mod service;
mod store;
mod token;
mod verifier;

pub use bcrypt_pool::BcryptStats;
pub use credential::{BCRYPT_MAX_TOKEN_LEN, Credential, CredentialError};
pub use future::ResponseFuture;
pub use layer::{BearerAuthLayer, DEFAULT_PUBLIC_PATHS};
pub use service::BearerAuth;
pub use store::{Key, KeyError, KeyStore, KeyStoreBuilder};
pub use verifier::{Authenticated, TokenVerifier, Verification, VerifyFuture};
