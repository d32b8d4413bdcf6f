//! What the layer records through the [`metrics`] facade (the `metrics`
//! feature). The application installs the recorder, such as
//! `metrics-exporter-prometheus`, before the first request: each series'
//! handle is taken from it once, at its first use, so that a decision costs
//! an atomic add rather than a lookup in the recorder's registry.
//!
//! Labels carry only values fixed by the code or by the layer's
//! configuration (a policy's name), never an address, a key or a path.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use crate::decision::Decision;
use crate::store::StoreError;

/// Counter of requests the layer saw: `policy` (the name of the policy the
/// request falls under); `outcome` = `admitted`, `limited` (429), `exempt`
/// (an exempt path or address), `store_error` (the store could not decide
/// and the request was refused with 503) or `unidentified` (no client
/// address to key on: the server recorded no peer; 500).
///
/// A Redis store that cannot answer under `OnRedisFailure::Fallback` decides
/// in memory, and under `Allow` admits: those requests count as `admitted`
/// or `limited`, and the store's own statistics (`RedisStore::stats`) count
/// the failures.
pub const REQUESTS_TOTAL: &str = "tower_claude_ratelimit_requests_total";

/// Histogram of the store's decision in seconds: `store` = `memory`,
/// `redis`, or a custom store's [`kind`](crate::RateLimitStore::kind).
pub const STORE_SECONDS: &str = "tower_claude_ratelimit_store_seconds";

/// Gauge of the clients the in-memory store tracks: `policy`. A Redis
/// store's buckets expire in Redis, which this process does not count; its
/// in-memory fallback's clients, while Redis is down, are counted.
pub const TRACKED_CLIENTS: &str = "tower_claude_ratelimit_tracked_clients";

/// Buckets for [`STORE_SECONDS`], from a memory store's microseconds to a
/// Redis round trip under load, for an exporter that takes them
/// (`PrometheusBuilder::set_buckets_for_metric`).
pub const STORE_SECONDS_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Gives the installed recorder a description of each metric (the `# HELP`
/// lines of a Prometheus scrape). Call it once after installing the recorder.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "Requests the rate-limit layer saw, by policy and outcome"
    );
    metrics::describe_histogram!(
        STORE_SECONDS,
        metrics::Unit::Seconds,
        "Time the rate-limit store took to decide, by store"
    );
    metrics::describe_gauge!(
        TRACKED_CLIENTS,
        "Client keys the in-memory rate-limit store tracks, by policy"
    );
}

/// What a request came to, for [`REQUESTS_TOTAL`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Admitted,
    Limited,
    Exempt,
    StoreError,
    Unidentified,
}

impl Outcome {
    const ALL: [Self; 5] = [
        Self::Admitted,
        Self::Limited,
        Self::Exempt,
        Self::StoreError,
        Self::Unidentified,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Limited => "limited",
            Self::Exempt => "exempt",
            Self::StoreError => "store_error",
            Self::Unidentified => "unidentified",
        }
    }
}

/// The request counters of one policy.
pub(crate) struct PolicyCounters {
    policy: Arc<str>,
    counters: [OnceLock<Counter>; Outcome::ALL.len()],
}

impl PolicyCounters {
    pub(crate) fn new(policy: Arc<str>) -> Self {
        Self {
            policy,
            counters: [const { OnceLock::new() }; Outcome::ALL.len()],
        }
    }

    /// Counts a store's answer.
    pub(crate) fn decided(&self, answer: &Result<Decision, StoreError>) {
        self.count(match answer {
            Ok(decision) if decision.is_allowed() => Outcome::Admitted,
            Ok(_) => Outcome::Limited,
            Err(_) => Outcome::StoreError,
        });
    }

    pub(crate) fn count(&self, outcome: Outcome) {
        self.counters[outcome as usize]
            .get_or_init(|| {
                counter!(
                    REQUESTS_TOTAL,
                    "policy" => self.policy.to_string(),
                    "outcome" => outcome.label()
                )
            })
            .increment(1);
    }
}

/// Records how long a store took to decide.
pub(crate) fn store_took(kind: &'static str, took: Duration) {
    static MEMORY: OnceLock<Histogram> = OnceLock::new();
    static REDIS: OnceLock<Histogram> = OnceLock::new();
    let seconds = took.as_secs_f64();
    let cell = match kind {
        "memory" => &MEMORY,
        "redis" => &REDIS,
        other => return histogram!(STORE_SECONDS, "store" => other).record(seconds),
    };
    cell.get_or_init(|| histogram!(STORE_SECONDS, "store" => kind))
        .record(seconds);
}

/// The tracked-clients gauge of one policy's table.
pub(crate) struct TrackedGauge {
    policy: Arc<str>,
    gauge: OnceLock<Gauge>,
}

impl TrackedGauge {
    pub(crate) fn new(policy: Arc<str>) -> Self {
        Self {
            policy,
            gauge: OnceLock::new(),
        }
    }

    fn gauge(&self) -> &Gauge {
        self.gauge
            .get_or_init(|| gauge!(TRACKED_CLIENTS, "policy" => self.policy.to_string()))
    }

    pub(crate) fn add(&self, clients: usize) {
        if clients > 0 {
            self.gauge().increment(clients as f64);
        }
    }

    pub(crate) fn sub(&self, clients: usize) {
        if clients > 0 {
            self.gauge().decrement(clients as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn outcomes_index_their_counters() {
        for (index, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, index, "{}", outcome.label());
        }
    }
}
