//! The webhook client `POST /api/notify` and `webhook-sender` use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::Semaphore;
use tower_claude_webhook::deliver::{
    DeliveryError, DeliveryId, DeliveryReport, PlainHttp, RetryPolicy, Webhook, WebhookSender,
};
use tower_claude_webhook::sign::Signer;

/// An HTTP(S) client over rustls with the web PKI roots.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The programs' outbound client (webhook deliveries, the OAuth issuer):
/// HTTP/1 over rustls with the web's roots; `http://` too, which each caller
/// permits only where its settings allow.
pub fn https_client() -> HttpsClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Deliveries that may go on in the background past the budget at once.
pub const MAX_BACKGROUND_DELIVERIES: usize = 64;

/// Signs and delivers webhooks to one URL.
#[derive(Clone)]
pub struct Notifier {
    sender: WebhookSender<HttpsClient>,
    url: Uri,
    /// Deliveries running now, each holding a permit until it ends.
    running: Arc<Semaphore>,
}

/// What `POST /api/notify` answers within its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The delivery ended within the budget.
    Done(Outcome),
    /// Still under way; the remaining attempts go on in the background and
    /// their outcome is logged.
    Pending {
        /// The delivery id, the same on every attempt.
        delivery_id: String,
    },
    /// Too many deliveries under way to start another.
    Busy,
}

/// How a delivery ended, as `POST /api/notify` and `webhook-sender` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The delivery id.
    pub delivery_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's last status, if it answered at all.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl Outcome {
    /// The JSON answer.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "delivery_id": self.delivery_id,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
        })
    }

    /// Whether the receiver accepted it (2xx).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Notifier {
    /// Delivers to `url`, signed by `signer`, with `policy`. Plain `http://`
    /// targets only with `allow_insecure`.
    ///
    /// # Errors
    /// A URL that is not absolute http(s).
    pub fn new(
        url: &str,
        signer: Signer,
        allow_insecure: bool,
        policy: RetryPolicy,
    ) -> Result<Self, String> {
        // The URL may carry a password: errors show it redacted.
        let shown = tower_claude_core::redact_url(url);
        let url: Uri = url
            .parse()
            .map_err(|e| format!("webhook URL {shown}: {e}"))?;
        match url.scheme_str() {
            Some("https") => {}
            Some("http") if allow_insecure => {}
            Some("http") => {
                return Err(format!(
                    "webhook URL {shown} is plain http://: use https://, or pass --allow-insecure-webhooks"
                ));
            }
            _ => return Err(format!("webhook URL {shown} must be absolute http(s)://")),
        }
        Ok(Self {
            sender: WebhookSender::new(https_client(), signer)
                .retry_policy(policy)
                .plain_http(if allow_insecure {
                    PlainHttp::Anywhere
                } else {
                    PlainHttp::Refused
                }),
            url,
            running: Arc::new(Semaphore::new(MAX_BACKGROUND_DELIVERIES)),
        })
    }

    /// Sends `body` as event `event`, waiting at most `budget` for the
    /// delivery to end. Past it the delivery goes on in the background (at
    /// most [`MAX_BACKGROUND_DELIVERIES`] at once) and its outcome is logged.
    pub async fn send_within(
        &self,
        budget: Duration,
        event: &str,
        content_type: &str,
        body: Bytes,
    ) -> Answer {
        let Ok(permit) = Arc::clone(&self.running).try_acquire_owned() else {
            return Answer::Busy;
        };
        let webhook = self.webhook(event, content_type, body);
        let delivery_id = webhook.id().to_string();
        let sender = self.sender.clone();
        let mut delivery = tokio::spawn(async move {
            let outcome = Outcome::from(sender.send(webhook).await);
            drop(permit);
            tracing::info!(
                delivery_id = %outcome.delivery_id,
                attempts = outcome.attempts,
                status = outcome.status,
                error = outcome.error.as_deref(),
                "webhook delivery ended"
            );
            outcome
        });
        match tokio::time::timeout(budget, &mut delivery).await {
            Ok(Ok(outcome)) => Answer::Done(outcome),
            Ok(Err(error)) => Answer::Done(Outcome {
                delivery_id,
                attempts: 0,
                status: None,
                error: Some(format!("the delivery task failed: {error}")),
            }),
            // Dropping the handle detaches the task: it runs on.
            Err(_) => Answer::Pending { delivery_id },
        }
    }

    /// Sends `body` as event `event`, waiting for the delivery to end.
    pub async fn send(&self, event: &str, content_type: &str, body: Bytes) -> Outcome {
        Outcome::from(
            self.sender
                .send(self.webhook(event, content_type, body))
                .await,
        )
    }

    fn webhook(&self, event: &str, content_type: &str, body: Bytes) -> Webhook {
        // The id is chosen here, so that a 202 can name the delivery it started.
        Webhook::new(self.url.clone(), body)
            .event(event)
            .content_type(content_type)
            .delivery_id(DeliveryId::random())
    }
}

impl From<Result<DeliveryReport, DeliveryError>> for Outcome {
    fn from(result: Result<DeliveryReport, DeliveryError>) -> Self {
        match result {
            Ok(report) => Self {
                delivery_id: report.delivery_id.to_string(),
                attempts: report.attempts,
                status: Some(report.status.as_u16()),
                error: None,
            },
            // The receiver's own answer is reported as its status, not as an
            // error of ours (a 400, or the last 503 when retries ran out).
            Err(error) => Self {
                delivery_id: error.delivery_id().to_string(),
                attempts: error.attempts(),
                status: error.status().map(|s| s.as_u16()),
                error: error.status().is_none().then(|| error.to_string()),
            },
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("url", &tower_claude_core::redact_url(&self.url.to_string()))
            .finish_non_exhaustive()
    }
}
