//! The command-line and environment options the servers share.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tower_claude_core::IpCidr;
use tower_claude_ratelimit::{OnRedisFailure, Quota, RateLimitConfigError};

/// Options of `reference-server` and `grpc-server`; each also reads the
/// environment variable named.
#[derive(Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on [env: TOWER_CLAUDE_BIND] (default 127.0.0.1:8080,
    /// or 127.0.0.1:50051 for grpc-server).
    #[arg(long, env = "TOWER_CLAUDE_BIND")]
    pub bind: Option<SocketAddr>,
    /// bcrypt hash of the API token (make one with `hash-password`).
    #[arg(long, env = "TOWER_CLAUDE_PASSWORD_HASH", hide_env_values = true)]
    pub password_hash: Option<String>,
    /// The API token in plaintext (development only; prefer --password-hash).
    #[arg(long, env = "TOWER_CLAUDE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Requests per client address, such as `100/min`, `5/s` or `1000/hour`.
    #[arg(long, env = "TOWER_CLAUDE_RATE_LIMIT", default_value = "100/min")]
    pub rate_limit: Rate,
    /// Requests a client may make at once (default: the rate's count).
    #[arg(long, env = "TOWER_CLAUDE_BURST")]
    pub burst: Option<u32>,
    /// Client addresses the in-memory rate limiter tracks at once (about 40
    /// bytes each); past that, new clients get 429 until room frees up.
    #[arg(long, env = "TOWER_CLAUDE_MAX_CLIENTS", default_value_t = 1_000_000)]
    pub max_clients: usize,
    /// A proxy whose forwarding headers are believed (CIDR; repeatable, or
    /// comma-separated in the environment).
    #[arg(
        long = "trusted-proxy",
        env = "TOWER_CLAUDE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpCidr>,
    /// Secret that signs outgoing webhooks and verifies incoming ones.
    #[arg(long, env = "TOWER_CLAUDE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Where `POST /api/notify` sends its webhook.
    #[arg(long, env = "TOWER_CLAUDE_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Permit `http://` webhook targets (the payload and signature then cross
    /// the network in the clear).
    #[arg(long)]
    pub allow_insecure_webhooks: bool,
    /// Seconds `POST /api/notify` waits for its delivery before answering
    /// `202 Accepted` while the remaining attempts go on in the background.
    #[arg(long, env = "TOWER_CLAUDE_NOTIFY_BUDGET", default_value = "5", value_parser = seconds)]
    pub notify_budget: Duration,
    /// Redis (`redis://` or `rediss://`) for rate limits and the webhook replay
    /// cache shared by every instance: once for a single Redis, once per seed
    /// node (two or more; primaries or replicas) for a Redis Cluster; without
    /// it both live in memory. In the environment, the URLs are separated by
    /// commas (a comma inside a password stays: only a comma followed by
    /// `redis://` or `rediss://` separates).
    #[arg(
        long = "redis-url",
        env = "TOWER_CLAUDE_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_urls: Vec<String>,
    /// What the rate limits do while Redis cannot answer: keep per-instance
    /// limits in memory (`fallback`), admit (`allow`) or refuse with 503
    /// (`refuse`). The webhook replay cache refuses (503) either way.
    #[arg(
        long,
        env = "TOWER_CLAUDE_REDIS_ON_FAILURE",
        value_enum,
        default_value_t = RedisOnFailure::Fallback
    )]
    pub redis_on_failure: RedisOnFailure,
}

/// `--redis-on-failure`: the rate limiter's [`OnRedisFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RedisOnFailure {
    /// Per-instance limits in memory until Redis answers again.
    Fallback,
    /// Admit every request (no limit) until Redis answers again.
    Allow,
    /// Refuse every request (503, gRPC `UNAVAILABLE`) until Redis answers again.
    Refuse,
}

impl From<RedisOnFailure> for OnRedisFailure {
    fn from(policy: RedisOnFailure) -> Self {
        match policy {
            RedisOnFailure::Fallback => Self::Fallback,
            RedisOnFailure::Allow => Self::Allow,
            RedisOnFailure::Refuse => Self::Refuse,
        }
    }
}

impl ServerArgs {
    /// The rate limit as a quota.
    ///
    /// # Errors
    /// When the burst is 0 or too large for the rate.
    pub fn quota(&self) -> Result<Quota, RateLimitConfigError> {
        let quota = Quota::try_new(self.rate_limit.count, self.rate_limit.per)?;
        match self.burst {
            Some(burst) => quota.try_burst(burst),
            None => Ok(quota),
        }
    }
}

impl fmt::Debug for ServerArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |option: &Option<String>| option.as_ref().map(|_| "<set>");
        f.debug_struct("ServerArgs")
            .field("bind", &self.bind)
            .field("password_hash", &set(&self.password_hash))
            .field("password", &set(&self.password))
            .field("rate_limit", &self.rate_limit)
            .field("burst", &self.burst)
            .field("max_clients", &self.max_clients)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("webhook_secret", &set(&self.webhook_secret))
            .field(
                "webhook_url",
                &self
                    .webhook_url
                    .as_deref()
                    .map(tower_claude_core::redact_url),
            )
            .field("notify_budget", &self.notify_budget)
            .field("allow_insecure_webhooks", &self.allow_insecure_webhooks)
            .field(
                "redis_urls",
                &self
                    .redis_urls
                    .iter()
                    .map(|url| tower_claude_core::redact_url(url))
                    .collect::<Vec<_>>(),
            )
            .field("redis_on_failure", &self.redis_on_failure)
            .finish()
    }
}

/// Seconds, whole or decimal (`5`, `0.5`), as a duration.
///
/// # Errors
/// Not a number, negative, or over a day.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&value) {
        return Err(format!("{text:?}: give 0 to 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// A rate such as `100/min`: a count per unit of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests.
    pub count: u32,
    /// Per this long.
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!("{text:?} is not a rate: write COUNT/UNIT, such as 100/min, 5/s or 1000/hour")
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(usage)?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err("a rate must admit at least one request".into());
        }
        let seconds = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(usage()),
        };
        Ok(Self {
            count,
            per: Duration::from_secs(seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(
            "100/min".parse::<Rate>().unwrap().per,
            Duration::from_secs(60)
        );
        assert_eq!("5/s".parse::<Rate>().unwrap().count, 5);
        assert_eq!(
            " 1000 / hour ".parse::<Rate>().unwrap().per,
            Duration::from_secs(3600)
        );
        for bad in ["", "100", "0/min", "x/min", "5/fortnight", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }
}
