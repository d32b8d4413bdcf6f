//! The audit trail: one `tracing` event per decision on the target
//! [`AUDIT_TARGET`](crate::AUDIT_TARGET), with structured fields (`outcome`,
//! `reason`, `key`, `client_ip`, `method`, `route`, `request_id`). Never the
//! token, nor any part of it.
//!
//! Refusals are written in full for the first few of each reason in an
//! interval, then one line counts those left out: a flood of wrong tokens
//! cannot fill the disk, and the count keeps the total exact.

use http::Request;
use tower_claude_core::audit::{request_id, route};

use crate::answers::Refusal;
use crate::layer::Config;

/// The `tracing` target of the layer's decisions: filter on it
/// (`RUST_LOG=tower_claude_auth::audit=info`) to keep the audit trail.
pub const AUDIT_TARGET: &str = "tower_claude_auth::audit";

fn client<B>(config: &Config, request: &Request<B>) -> String {
    config
        .client_ip
        .resolve(request.headers(), request.extensions())
        .map_or_else(|_| String::from("unknown"), |ip| ip.to_string())
}

/// A valid key, with every scope the route needs.
pub(crate) fn allowed<B>(config: &Config, request: &Request<B>, key: &str) {
    tracing::info!(
        target: AUDIT_TARGET,
        outcome = "allowed",
        key,
        client_ip = %client(config, request),
        method = %request.method(),
        route = %route(request.uri().path()),
        request_id = request_id(request.headers()),
        "bearer authentication succeeded"
    );
}

/// A public path or an allowed loopback peer: no token asked. At `debug`,
/// since health checks would otherwise fill the trail.
pub(crate) fn public<B>(request: &Request<B>) {
    tracing::debug!(
        target: AUDIT_TARGET,
        outcome = "public",
        method = %request.method(),
        route = %route(request.uri().path()),
        request_id = request_id(request.headers()),
        "no token needed"
    );
}

/// A refusal; `key` when a valid key lacked a scope.
pub(crate) fn refused<B>(
    config: &Config,
    request: &Request<B>,
    refusal: Refusal,
    key: Option<&str>,
) {
    let admit = config.refusal_log.admit(refusal.code());
    if let Some(left_out) = admit.left_out {
        tracing::info!(
            target: AUDIT_TARGET,
            outcome = "refused",
            reason = refusal.code(),
            left_out,
            "bearer authentication refusals of this reason not written in the last interval"
        );
    }
    if !admit.write {
        return;
    }
    tracing::info!(
        target: AUDIT_TARGET,
        outcome = "refused",
        reason = refusal.code(),
        detail = refusal.reason(),
        key,
        client_ip = %client(config, request),
        method = %request.method(),
        route = %route(request.uri().path()),
        request_id = request_id(request.headers()),
        "bearer authentication refused"
    );
}
