//! The receiver's audit trail: one `tracing` event per delivery judged, on
//! the target [`AUDIT_TARGET`](crate::verify::AUDIT_TARGET), with structured
//! fields (`outcome`, `reason`, `delivery_id`, `event`, `peer`, `method`,
//! `route`, `request_id`). Never a secret or a signature.
//!
//! Refusals are written in full for the first few of each reason in an
//! interval, then one line counts those left out.

use http::request::Parts;
use tower_claude_core::Rejection;
use tower_claude_core::audit::{header, request_id, route, text};

use crate::verify::VerifiedWebhook;
use crate::verify::layer::ReceiveConfig;

/// The `tracing` target of the receiver's decisions
/// (`RUST_LOG=tower_claude_webhook::audit=info`).
pub const AUDIT_TARGET: &str = "tower_claude_webhook::audit";

fn peer(parts: &Parts) -> String {
    tower_claude_core::peer_addr(&parts.extensions)
        .map_or_else(|| String::from("unknown"), |addr| addr.ip().to_string())
}

impl ReceiveConfig {
    /// A verified delivery, handed to the handler.
    pub(super) fn audit_accepted(&self, parts: &Parts, webhook: &VerifiedWebhook) {
        audit_verified(parts, webhook, "accepted", None, "webhook verified");
    }

    /// A verified repeat of a delivery already processed: acknowledged, the
    /// handler not run again.
    pub(super) fn audit_duplicate(&self, parts: &Parts, webhook: &VerifiedWebhook) {
        audit_verified(
            parts,
            webhook,
            "duplicate",
            Some("already_processed"),
            "webhook delivery already processed; acknowledged as a duplicate",
        );
    }

    /// A refused delivery (a replay counts as a duplicate).
    pub(super) fn audit_refused(&self, parts: &Parts, rejection: &Rejection) {
        let admit = self.refusal_log.admit(rejection.code());
        if let Some(left_out) = admit.left_out {
            tracing::info!(
                target: AUDIT_TARGET,
                reason = rejection.code(),
                left_out,
                "webhook refusals of this reason not written in the last interval"
            );
        }
        if !admit.write {
            return;
        }
        let outcome = if rejection.code() == "replayed_delivery" {
            "duplicate"
        } else {
            "refused"
        };
        tracing::info!(
            target: AUDIT_TARGET,
            outcome,
            reason = rejection.code(),
            detail = rejection.message(),
            delivery_id = header(&parts.headers, self.verifier.scheme().id_header().as_str()),
            peer = %peer(parts),
            method = %parts.method,
            route = %route(parts.uri.path()),
            request_id = request_id(&parts.headers),
            "webhook refused"
        );
    }
}

/// One event about a delivery whose signature verified.
fn audit_verified(
    parts: &Parts,
    webhook: &VerifiedWebhook,
    outcome: &'static str,
    reason: Option<&'static str>,
    message: &'static str,
) {
    tracing::info!(
        target: AUDIT_TARGET,
        outcome,
        reason,
        delivery_id = webhook.delivery_id.as_deref().and_then(text),
        event = webhook.event.as_deref().and_then(text),
        peer = %peer(parts),
        method = %parts.method,
        route = %route(parts.uri.path()),
        request_id = request_id(&parts.headers),
        "{message}"
    );
}
