//! Receiving webhooks: [`Verifier`] checks a message (freshness both ways, a
//! constant-time signature compare against one or several secrets, a
//! [`ReplayCache`](crate::replay::ReplayCache)), and [`VerifyWebhookLayer`]
//! puts it in front of a handler, which gets the identical raw bytes it
//! verified.

mod answers;
mod audit;
mod body;
mod claim;
mod duplicates;
mod layer;
mod outcome;
mod verifier;

pub use audit::AUDIT_TARGET;
pub use layer::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MAX_IN_FLIGHT, VerifyWebhook,
    VerifyWebhookLayer,
};
pub use outcome::{Delivery, VerifiedWebhook, VerifyError};
pub use verifier::{DEFAULT_TOLERANCE, Verifier};
