//! The duplicate check: a new attempt of a delivery already processed is
//! acknowledged without running the handler again.

use sha2::{Digest, Sha256};

use crate::scheme::Scheme;
use crate::verify::{Delivery, VerifiedWebhook, Verifier, VerifyError};

impl Verifier {
    /// The delivery `webhook` (with `body`) belongs to, for the duplicate
    /// check: computed once, then asked with
    /// [`is_processed`](Self::is_processed) before the handler and recorded
    /// with [`remember_processed`](Self::remember_processed) after it.
    ///
    /// The delivery id is only a hint, asked only of a message whose signature
    /// verified and whose signed content is new; it can never make a message
    /// acceptable. The `X-Webhook-*` scheme does not sign its delivery id, so there a
    /// delivery is the id *and the body* (its SHA-256): someone who resends a
    /// captured message under another id marks only that id with that body as
    /// processed, never a different delivery. A body-only message (no signed
    /// time), an id longer than 256 bytes or with bytes outside visible ASCII,
    /// and a verifier without a replay cache get `None`: no duplicate check.
    pub fn delivery(&self, webhook: &VerifiedWebhook, body: &[u8]) -> Option<Delivery> {
        self.replay.as_ref()?;
        let id = webhook.delivery_id.as_deref()?;
        let sane =
            (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic() && b != b'%');
        if !sane {
            return None;
        }
        let key = match self.scheme {
            Scheme::Standard => format!("delivery:{id}"),
            Scheme::XWebhook => {
                webhook.timestamp?;
                let digest = Sha256::digest(body);
                format!(
                    "delivery:{id}:{}",
                    tower_claude_core::encoding::hex(&digest[..16])
                )
            }
        };
        Some(Delivery(key))
    }

    /// Whether `delivery` was already processed: the sender's new attempt of
    /// it.
    ///
    /// # Errors
    /// The replay cache could not answer.
    pub async fn is_processed(&self, delivery: &Delivery) -> Result<bool, VerifyError> {
        let Some(cache) = &self.replay else {
            return Ok(false);
        };
        cache
            .contains(&delivery.0)
            .await
            .map_err(VerifyError::ReplayCacheUnavailable)
    }

    /// Remembers that `delivery` was processed, for the duplicate window.
    /// Only deliveries whose handler succeeded are remembered, so a failed one
    /// is run again when the sender retries.
    ///
    /// # Errors
    /// The replay cache could not record it.
    pub async fn remember_processed(&self, delivery: &Delivery) -> Result<(), VerifyError> {
        let Some(cache) = &self.replay else {
            return Ok(());
        };
        cache
            .first_seen(
                &delivery.0,
                self.duplicate_window.unwrap_or(self.replay_ttl()),
            )
            .await
            .map(|_| ())
            .map_err(VerifyError::ReplayCacheUnavailable)
    }
}
