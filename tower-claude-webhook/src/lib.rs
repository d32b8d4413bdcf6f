//! Signed webhooks for Tower clients and servers.
//!
//! - **Signing**: [`Signer`] in the seed scheme (`X-Webhook-Signature-256:
//!   sha256=<hex>` over `"<timestamp>." + body`, plus the body-only
//!   `X-Webhook-Signature`) or in [Standard Webhooks](https://www.standardwebhooks.com/)
//!   (`webhook-signature: v1,<base64>`), with several secrets during a rotation.
//!   [`WebhookSecret`] never prints and is wiped on drop.
//! - **Sending**: [`SignWebhookLayer`] around any HTTP client `Service`;
//!   [`DeliveryPolicy`] for `tower::retry` (backoff with jitter, 429
//!   `Retry-After`, 5xx and transport errors; never other 4xx); every attempt
//!   re-signed under one delivery id; [`webhook_client`] stacks them.
//! - **Receiving**: [`Verifier`] (freshness both ways, constant-time compare,
//!   several secrets, a [`ReplayCache`]) and [`VerifyWebhookLayer`], which hands
//!   the handler the identical raw bytes it verified.
//!
//! ```
//! use tower_claude_webhook::{Signer, UnixClock, Verifier, WebhookSecret};
//!
//! let secret = WebhookSecret::new("It's a Secret to Everybody").unwrap();
//! let headers = Signer::seed(secret.clone()).sign("msg_1", 1_614_265_330, b"Hello, World!");
//! let verifier = Verifier::seed(secret).clock(UnixClock::from_fn(|| 1_614_265_400));
//! assert!(verifier.verify_signature(&headers, b"Hello, World!").is_ok());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code answers bad input; it does not panic on it.
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod clock;
mod delivery;
mod error;
mod issued;
mod outgoing;
mod policy;
mod receive;
#[cfg(feature = "redis")]
mod redis_replay;
mod replay;
mod scheme;
mod secret;
mod sign_layer;
mod verify;

pub use clock::UnixClock;
pub use delivery::{
    DeliveryReport, WebhookClient, WebhookDelivery, WebhookDeliveryLayer, webhook_client,
};
pub use error::{AttemptError, AttemptFailure, DeliveryError, SendError};
pub use outgoing::new_delivery_id;
pub use policy::DeliveryPolicy;
pub use receive::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_RECEIVE_LIMIT, VerifyWebhook,
    VerifyWebhookLayer,
};
#[cfg(feature = "redis")]
pub use redis_replay::{OnReplayCacheFailure, RedisReplayCache};
pub use replay::{MemoryReplayCache, ReplayCache, ReplayCacheError, ReplayFuture};
pub use scheme::{Scheme, Signer, names};
pub use secret::{STANDARD_SECRET_PREFIX, SecretError, WebhookSecret};
pub use sign_layer::{Attempt, DEFAULT_MAX_BODY, SentWebhook, SignWebhook, SignWebhookLayer};
pub use verify::{DEFAULT_TOLERANCE, Delivery, VerifiedWebhook, Verifier, VerifyError};
