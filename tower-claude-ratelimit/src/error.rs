//! Configuration errors of the rate limiter.

use std::fmt;
use std::time::Duration;

use tower_claude_core::ConfigError;

/// A rate-limit setting was refused when the layer was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitConfigError {
    /// A quota of zero requests: use an exempt path or a firewall rule instead.
    ZeroQuota,
    /// A burst of zero: nothing would ever pass.
    ZeroBurst,
    /// A burst whose empty bucket would take more than ten years to refill.
    BurstTooLarge(u32),
    /// A window under a millisecond, over a year, or too short for its count.
    Window(Duration),
    /// A policy name that is not 1 to 64 of `A-Z a-z 0-9 _ - .`: it is sent
    /// in the `RateLimit` fields and in store keys.
    PolicyName(String),
    /// Two policies of one layer share a name, and so would share buckets in a
    /// distributed store.
    DuplicatePolicy(String),
    /// A path rule or address block from the core crate.
    Core(ConfigError),
}

impl fmt::Display for RateLimitConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroQuota => f.write_str("a rate-limit quota must admit at least one request"),
            Self::ZeroBurst => f.write_str("a rate-limit burst must be at least one request"),
            Self::BurstTooLarge(burst) => write!(
                f,
                "a burst of {burst} would take more than ten years to refill at this rate"
            ),
            Self::Window(window) => write!(
                f,
                "a rate-limit window must be between 1 ms and a year and leave at least 1 ns per request, not {window:?}"
            ),
            Self::PolicyName(name) => write!(
                f,
                "invalid rate-limit policy name {name:?}: use 1 to 64 of A-Z a-z 0-9 _ - ."
            ),
            Self::DuplicatePolicy(name) => {
                write!(f, "two rate-limit policies are named {name:?}")
            }
            Self::Core(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RateLimitConfigError {}

impl From<ConfigError> for RateLimitConfigError {
    fn from(error: ConfigError) -> Self {
        Self::Core(error)
    }
}
