//! What the sender and the verifier record through the [`metrics`] facade
//! (the `metrics` feature). Webhooks are few beside requests, so each event
//! looks its series up in the installed recorder.
//!
//! Labels carry only values fixed by this crate: never a URL, a delivery id
//! or an event name.

use metrics::counter;

use crate::Scheme;

/// Counter of deliveries the sender finished: `outcome` = `delivered` (a 2xx
/// answer) or `failed` (retries exhausted, a final answer, or refused before
/// sending); `scheme` = `x_webhook` or `standard`.
pub const DELIVERIES_TOTAL: &str = "tower_claude_webhook_deliveries_total";

/// Counter of the sender's attempts: `outcome` = `ok` (2xx), `retryable` (a
/// failure another attempt follows) or `final` (a failure that ends the
/// delivery).
pub const ATTEMPTS_TOTAL: &str = "tower_claude_webhook_attempts_total";

/// Counter of the deliveries the verifier judged: `outcome` = `accepted`
/// (the handler ran), `duplicate` (a replay, or a repeat of a delivery
/// already processed: acknowledged or refused without running the handler)
/// or `refused`; `reason` = the refusal code (such as `bad_signature`,
/// `timestamp_too_old`, `malformed_signature_header`), `replayed_delivery`
/// or `already_processed` for duplicates, `none` when accepted.
pub const VERIFICATIONS_TOTAL: &str = "tower_claude_webhook_verifications_total";

/// Gives the installed recorder a description of each metric (the `# HELP`
/// lines of a Prometheus scrape). Call it once after installing the recorder.
pub fn describe() {
    metrics::describe_counter!(
        DELIVERIES_TOTAL,
        "Webhook deliveries the sender finished, by outcome and scheme"
    );
    metrics::describe_counter!(ATTEMPTS_TOTAL, "Webhook delivery attempts, by outcome");
    metrics::describe_counter!(
        VERIFICATIONS_TOTAL,
        "Incoming webhooks the verifier judged, by outcome and reason"
    );
}

fn scheme_label(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::XWebhook => "x_webhook",
        Scheme::Standard => "standard",
    }
}

pub(crate) fn delivery(delivered: bool, scheme: Scheme) {
    let outcome = if delivered { "delivered" } else { "failed" };
    counter!(DELIVERIES_TOTAL, "outcome" => outcome, "scheme" => scheme_label(scheme)).increment(1);
}

pub(crate) fn attempt(outcome: &'static str) {
    counter!(ATTEMPTS_TOTAL, "outcome" => outcome).increment(1);
}

pub(crate) fn accepted() {
    counter!(VERIFICATIONS_TOTAL, "outcome" => "accepted", "reason" => "none").increment(1);
}

pub(crate) fn already_processed() {
    counter!(VERIFICATIONS_TOTAL, "outcome" => "duplicate", "reason" => "already_processed")
        .increment(1);
}

/// A refusal by its code; a replay counts as a duplicate.
pub(crate) fn refused(code: &'static str) {
    let outcome = if code == "replayed_delivery" {
        "duplicate"
    } else {
        "refused"
    };
    counter!(VERIFICATIONS_TOTAL, "outcome" => outcome, "reason" => code).increment(1);
}
