//! Sending webhooks: [`WebhookSender`] signs each [`Webhook`], sends it through
//! any HTTP client `Service`, retries it under one [`DeliveryId`] as the
//! [`RetryPolicy`] says, and answers `Result<`[`DeliveryReport`]`,
//! `[`DeliveryError`]`>`.

mod endpoint;
mod error;
mod id;
mod retry;
pub(crate) mod sender;
mod webhook;

pub use endpoint::PlainHttp;
pub use error::{DeliveryError, DeliveryFailure, DeliveryReport, SendError};
pub use id::DeliveryId;
pub use retry::RetryPolicy;
pub use sender::{DEFAULT_MAX_BODY, DeliveryFuture, WebhookSender};
pub use webhook::Webhook;
