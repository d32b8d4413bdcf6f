//! What the layer records through the [`metrics`] facade (the `metrics`
//! feature). The application installs the recorder, such as
//! `metrics-exporter-prometheus`, before the first request: each series'
//! handle is taken from it once, at its first use, so that a decision costs
//! an atomic add rather than a lookup in the recorder's registry.
//!
//! Labels carry only values fixed by this crate (never an address, a token,
//! a path or a key name), so the number of series is bounded by the code.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram, counter, histogram};

/// Counter of requests the layer decided: `outcome` = `allowed`, `public` (a
/// public path, or a loopback peer when allowed) or `refused`; `reason` = the
/// refusal code (`missing_credentials`, `invalid_request`, `invalid_token`,
/// `insufficient_scope`, `verifier_unavailable`), `none` otherwise.
pub const REQUESTS_TOTAL: &str = "tower_claude_auth_requests_total";

/// Histogram of bcrypt runs in seconds, the wait for a worker included:
/// `outcome` = `valid` or `invalid`. Requests that share a run (the same
/// token at once) or hit the cache record nothing.
pub const BCRYPT_SECONDS: &str = "tower_claude_auth_bcrypt_seconds";

/// Buckets for [`BCRYPT_SECONDS`] that resolve bcrypt costs 10 to 14 (about
/// 50 ms to 1 s a run) and a queue of waiting runs, for an exporter that
/// takes them (`PrometheusBuilder::set_buckets_for_metric`).
pub const BCRYPT_SECONDS_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];

/// The refusal codes, in the order of their counters below.
const REFUSAL_CODES: [&str; 5] = [
    "missing_credentials",
    "invalid_request",
    "invalid_token",
    "insufficient_scope",
    "verifier_unavailable",
];

/// Gives the installed recorder a description of each metric (the `# HELP`
/// lines of a Prometheus scrape). Call it once after installing the recorder.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "Requests the bearer-auth layer decided, by outcome and refusal reason"
    );
    metrics::describe_histogram!(
        BCRYPT_SECONDS,
        metrics::Unit::Seconds,
        "bcrypt verifications, the wait for a worker included, by outcome"
    );
}

fn count(cell: &OnceLock<Counter>, outcome: &'static str, reason: &'static str) {
    cell.get_or_init(|| counter!(REQUESTS_TOTAL, "outcome" => outcome, "reason" => reason))
        .increment(1);
}

pub(crate) fn allowed() {
    static ALLOWED: OnceLock<Counter> = OnceLock::new();
    count(&ALLOWED, "allowed", "none");
}

pub(crate) fn public() {
    static PUBLIC: OnceLock<Counter> = OnceLock::new();
    count(&PUBLIC, "public", "none");
}

pub(crate) fn refused(code: &'static str) {
    static REFUSED: [OnceLock<Counter>; REFUSAL_CODES.len()] =
        [const { OnceLock::new() }; REFUSAL_CODES.len()];
    match REFUSAL_CODES.iter().position(|known| *known == code) {
        Some(index) => count(&REFUSED[index], "refused", REFUSAL_CODES[index]),
        // A code added without a counter here still counts, at a lookup's cost.
        None => counter!(REQUESTS_TOTAL, "outcome" => "refused", "reason" => code).increment(1),
    }
}

pub(crate) fn bcrypt_run(valid: bool, took: Duration) {
    static VALID: OnceLock<Histogram> = OnceLock::new();
    static INVALID: OnceLock<Histogram> = OnceLock::new();
    let (cell, outcome) = if valid {
        (&VALID, "valid")
    } else {
        (&INVALID, "invalid")
    };
    cell.get_or_init(|| histogram!(BCRYPT_SECONDS, "outcome" => outcome))
        .record(took.as_secs_f64());
}
