//! How many requests a client may make: a rate and a burst.

use std::fmt;
use std::time::Duration;

use crate::error::RateLimitConfigError;

/// Ten years: the longest an empty bucket may take to refill.
const MAX_REFILL_NANOS: u64 = 10 * 366 * 24 * 3600 * 1_000_000_000;

/// A token bucket: `count` requests per `window`, at most `burst` of them at
/// once.
///
/// The bucket holds `burst` tokens (by default `count`) and refills one token
/// every `window / count`. `Quota::per_minute(100)` admits 100 requests at once
/// and then one every 600 ms; `Quota::per_minute(100).burst(20)` admits 20 at
/// once and then one every 600 ms.
///
/// ```
/// use std::time::Duration;
/// use tower_claude_ratelimit::Quota;
///
/// let login = Quota::per_minute(5).burst(2);
/// assert_eq!(login.count(), 5);
/// assert_eq!(login.burst_size(), 2);
/// assert_eq!(login.replenish_interval(), Duration::from_secs(12));
/// assert_eq!(Quota::default(), Quota::per_minute(100));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u32,
    window: Duration,
    burst: u32,
}

impl Quota {
    /// `count` requests per second.
    ///
    /// # Panics
    /// When `count` is 0; see [`try_new`](Self::try_new).
    pub fn per_second(count: u32) -> Self {
        Self::checked(count, Duration::from_secs(1))
    }

    /// `count` requests per minute.
    ///
    /// # Panics
    /// When `count` is 0; see [`try_new`](Self::try_new).
    pub fn per_minute(count: u32) -> Self {
        Self::checked(count, Duration::from_secs(60))
    }

    /// `count` requests per hour.
    ///
    /// # Panics
    /// When `count` is 0; see [`try_new`](Self::try_new).
    pub fn per_hour(count: u32) -> Self {
        Self::checked(count, Duration::from_secs(3600))
    }

    /// `count` requests per `window`, from configuration.
    ///
    /// # Errors
    /// When `count` is 0, the window is shorter than a millisecond or longer than
    /// a year, or one token would take less than a nanosecond to refill.
    pub fn try_new(count: u32, window: Duration) -> Result<Self, RateLimitConfigError> {
        if count == 0 {
            return Err(RateLimitConfigError::ZeroQuota);
        }
        if window < Duration::from_millis(1) || window > Duration::from_secs(366 * 24 * 3600) {
            return Err(RateLimitConfigError::Window(window));
        }
        let quota = Self {
            count,
            window,
            burst: count,
        };
        if quota.interval_nanos() == 0 {
            return Err(RateLimitConfigError::Window(window));
        }
        Ok(quota)
    }

    /// The same rate with a bucket of `burst` tokens.
    ///
    /// # Panics
    /// When `burst` is 0; see [`try_burst`](Self::try_burst).
    #[must_use]
    pub fn burst(self, burst: u32) -> Self {
        match self.try_burst(burst) {
            Ok(quota) => quota,
            Err(error) => panic!("{error}"),
        }
    }

    /// The same rate with a bucket of `burst` tokens, from configuration.
    ///
    /// # Errors
    /// When `burst` is 0, or an empty bucket would take more than ten years to
    /// refill (the arithmetic would then saturate into no limit at all).
    pub fn try_burst(mut self, burst: u32) -> Result<Self, RateLimitConfigError> {
        if burst == 0 {
            return Err(RateLimitConfigError::ZeroBurst);
        }
        let refill = self.interval_nanos().checked_mul(u64::from(burst));
        if refill.is_none_or(|nanos| nanos > MAX_REFILL_NANOS) {
            return Err(RateLimitConfigError::BurstTooLarge(burst));
        }
        self.burst = burst;
        Ok(self)
    }

    /// Requests per window.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The window the count is per.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The most requests admitted at once: the size of the bucket.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    /// The time one token takes to come back.
    pub fn replenish_interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos())
    }

    /// The time an empty bucket takes to fill again, and so the longest an
    /// idle client must be remembered.
    pub fn refill_time(&self) -> Duration {
        Duration::from_nanos(self.tolerance_nanos())
    }

    /// Nanoseconds per token (GCRA's emission interval `T`).
    pub(crate) fn interval_nanos(&self) -> u64 {
        let nanos = self.window.as_nanos() / u128::from(self.count);
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Nanoseconds of burst (GCRA's tolerance `τ = T · burst`).
    pub(crate) fn tolerance_nanos(&self) -> u64 {
        self.interval_nanos().saturating_mul(u64::from(self.burst))
    }

    fn checked(count: u32, window: Duration) -> Self {
        match Self::try_new(count, window) {
            Ok(quota) => quota,
            Err(error) => panic!("{error}"),
        }
    }
}

impl Default for Quota {
    /// 100 requests per minute, all of them at once if the client likes.
    fn default() -> Self {
        Self::per_minute(100)
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Quota({} per {:?}, burst {})",
            self.count, self.window, self.burst
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let q = Quota::per_second(4);
        assert_eq!(q.replenish_interval(), Duration::from_millis(250));
        assert_eq!(q.refill_time(), Duration::from_secs(1));
        let q = Quota::per_hour(10).burst(1);
        assert_eq!(q.replenish_interval(), Duration::from_secs(360));
        assert_eq!(q.refill_time(), Duration::from_secs(360));
    }

    #[test]
    fn refuses_nonsense() {
        assert_eq!(
            Quota::try_new(0, Duration::from_secs(1)),
            Err(RateLimitConfigError::ZeroQuota)
        );
        assert!(Quota::try_new(1, Duration::from_micros(10)).is_err());
        assert!(Quota::try_new(u32::MAX, Duration::from_millis(1)).is_err());
        assert_eq!(
            Quota::per_second(1).try_burst(0),
            Err(RateLimitConfigError::ZeroBurst)
        );
        let yearly = Quota::try_new(1, Duration::from_secs(366 * 24 * 3600)).unwrap();
        assert_eq!(
            yearly.try_burst(1000),
            Err(RateLimitConfigError::BurstTooLarge(1000))
        );
        assert!(yearly.try_burst(10).is_ok());
        assert!(Quota::per_second(1_000_000_000).try_burst(u32::MAX).is_ok());
    }
}
