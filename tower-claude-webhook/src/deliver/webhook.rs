//! One webhook to send: where, what, and under which id.

use std::fmt;

use bytes::Bytes;
use http::Uri;

use crate::deliver::DeliveryId;

/// One webhook: the endpoint, the body (signed byte for byte), the event
/// type and content type, and the delivery id every attempt carries.
///
/// ```
/// use tower_claude_webhook::deliver::{DeliveryId, Webhook};
///
/// let url = "https://hooks.example.com/in".parse().unwrap();
/// let webhook = Webhook::new(url, r#"{"task":7}"#)
///     .event("task.completed")
///     .delivery_id(DeliveryId::new("task-7-completed").unwrap());
/// assert_eq!(webhook.id().as_str(), "task-7-completed");
/// ```
#[derive(Clone)]
pub struct Webhook {
    pub(crate) url: Uri,
    pub(crate) id: DeliveryId,
    pub(crate) event: Option<String>,
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
}

impl Webhook {
    /// `body` to `url`, as `application/json`, under a random delivery id.
    pub fn new(url: Uri, body: impl Into<Bytes>) -> Self {
        Self {
            url,
            id: DeliveryId::random(),
            event: None,
            content_type: "application/json".to_owned(),
            body: body.into(),
        }
    }

    /// The event type, sent as `X-Webhook-Event` (neither scheme signs it).
    #[must_use]
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// The content type (default `application/json`).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The delivery id (default a random one): set it to the event's own id so
    /// that a receiver can tell a resend from a new event.
    #[must_use]
    pub fn delivery_id(mut self, id: DeliveryId) -> Self {
        self.id = id;
        self
    }

    /// The delivery id.
    pub fn id(&self) -> &DeliveryId {
        &self.id
    }

    /// The endpoint.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

impl fmt::Debug for Webhook {
    /// The endpoint's origin only (a path or user part may hold a token) and
    /// the body's length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("endpoint", &crate::deliver::sender::origin(&self.url))
            .field("id", &self.id)
            .field("event", &self.event)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}
