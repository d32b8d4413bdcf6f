//! Signed webhooks for Tower clients and servers.
//!
//! - [`sign`]: [`Signer`](sign::Signer) in the `X-Webhook-*` scheme
//!   (`X-Webhook-Signature-256: sha256=<hex>` over `"<timestamp>." + body`,
//!   plus the body-only `X-Webhook-Signature`) or in
//!   [Standard Webhooks](https://www.standardwebhooks.com/)
//!   (`webhook-signature: v1,<base64>`), with several secrets during a rotation.
//!   [`WebhookSecret`] never prints and is wiped on drop.
//! - [`deliver`]: [`WebhookSender`](deliver::WebhookSender) signs, sends and
//!   retries a webhook through any HTTP client `Service` and answers
//!   `Result<DeliveryReport, DeliveryError>`.
//! - [`verify`]: [`Verifier`](verify::Verifier) and
//!   [`VerifyWebhookLayer`](verify::VerifyWebhookLayer), which hands the
//!   handler the identical raw bytes it verified.
//! - [`replay`]: the caches that refuse replays and acknowledge duplicates.
//!
//! ```
//! use tower_claude_webhook::{UnixClock, WebhookSecret};
//! use tower_claude_webhook::sign::Signer;
//! use tower_claude_webhook::verify::Verifier;
//!
//! let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
//! let headers = Signer::x_webhook(secret.clone()).sign("msg_1", 1_614_265_330, b"Hello, World!");
//! let verifier = Verifier::x_webhook(secret).clock(UnixClock::from_fn(|| 1_614_265_400));
//! assert!(verifier.verify_signature(&headers, b"Hello, World!").is_ok());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod clock;
pub mod deliver;
mod issued;
pub mod replay;
mod scheme;
mod secret;
pub mod sign;
pub mod verify;

pub use clock::UnixClock;
pub use scheme::{Scheme, names};
pub use secret::{STANDARD_SECRET_PREFIX, SecretError, WebhookSecret};
