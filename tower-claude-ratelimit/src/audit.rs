//! The audit trail: one `tracing` event per refusal on the target
//! [`AUDIT_TARGET`](crate::AUDIT_TARGET), with structured fields (`outcome`,
//! `reason`, `policy`, `client_ip`, `method`, `route`, `request_id`). Admitted
//! requests write nothing (the metrics count them).
//!
//! The first few refusals of each reason in an interval are written in full,
//! then one line counts those left out, so a flood cannot fill the disk.

use http::Request;
use tower_claude_core::audit::{request_id, route};

use crate::layer::Config;
use crate::store::RateLimitStore;

/// The `tracing` target of the layer's refusals
/// (`RUST_LOG=tower_claude_ratelimit::audit=info`).
pub const AUDIT_TARGET: &str = "tower_claude_ratelimit::audit";

/// Whether this refusal's line is written, after the summary of those left
/// out in the interval that just ended.
fn admit<St: RateLimitStore>(config: &Config<St>, reason: &'static str) -> bool {
    let admit = config.refusal_log.admit(reason);
    if let Some(left_out) = admit.left_out {
        tracing::info!(
            target: AUDIT_TARGET,
            reason,
            left_out,
            "rate-limit refusals of this reason not written in the last interval"
        );
    }
    admit.write
}

fn client<St: RateLimitStore, B>(config: &Config<St>, request: &Request<B>) -> String {
    config
        .resolver
        .resolve(request.headers(), request.extensions())
        .map_or_else(|_| String::from("unknown"), |ip| ip.to_string())
}

/// A request over its policy's quota (429).
pub(crate) fn limited<St: RateLimitStore, B>(
    config: &Config<St>,
    request: &Request<B>,
    policy: &str,
    retry_after: u64,
) {
    if !admit(config, "rate_limited") {
        return;
    }
    tracing::info!(
        target: AUDIT_TARGET,
        outcome = "limited",
        reason = "rate_limited",
        policy,
        retry_after,
        client_ip = %client(config, request),
        method = %request.method(),
        route = %route(request.uri().path()),
        request_id = request_id(request.headers()),
        "request rate limited"
    );
}

/// A request refused because the store could not decide (503).
pub(crate) fn store_error<St: RateLimitStore, B>(
    config: &Config<St>,
    request: &Request<B>,
    policy: &str,
    error: &str,
) {
    if !admit(config, "rate_limit_unavailable") {
        return;
    }
    tracing::warn!(
        target: AUDIT_TARGET,
        outcome = "store_error",
        reason = "rate_limit_unavailable",
        policy,
        error,
        client_ip = %client(config, request),
        method = %request.method(),
        route = %route(request.uri().path()),
        request_id = request_id(request.headers()),
        "rate-limit store could not decide; refusing the request"
    );
}
