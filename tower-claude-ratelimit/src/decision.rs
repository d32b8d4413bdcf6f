//! The answer of a store for one request, and the GCRA step that computes it.

use std::time::Duration;

/// What a store decided for one request of one client.
///
/// The in-memory store and any distributed store compute it with the same
/// [GCRA](https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm) step
/// ([`Decision::gcra`]), so the response headers do not depend on where the
/// buckets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    remaining: u32,
    reset_nanos: u64,
    retry_after_nanos: u64,
}

/// The new theoretical arrival time to store, when the request was admitted.
pub type NewTat = Option<u64>;

impl Decision {
    /// One GCRA step.
    ///
    /// `tat` is the stored theoretical arrival time of the client's bucket
    /// (0 or any value at or before `now` for a full bucket), `now` the current
    /// time, `interval` the nanoseconds per token and `tolerance` the
    /// nanoseconds of burst (`interval × burst`), all on one clock. Returns the
    /// decision and, when the request is admitted, the `tat` to store.
    ///
    /// ```
    /// use tower_claude_ratelimit::Decision;
    ///
    /// // 2 tokens, one back every 10 ns.
    /// let (first, tat) = Decision::gcra(0, 100, 10, 20);
    /// assert!(first.is_allowed());
    /// assert_eq!((first.remaining(), tat), (1, Some(110)));
    /// let (second, tat) = Decision::gcra(110, 100, 10, 20);
    /// assert_eq!((second.remaining(), tat), (0, Some(120)));
    /// let (third, tat) = Decision::gcra(120, 100, 10, 20);
    /// assert!(!third.is_allowed());
    /// assert_eq!((third.retry_after().as_nanos(), tat), (10, None));
    /// ```
    pub fn gcra(tat: u64, now: u64, interval: u64, tolerance: u64) -> (Self, NewTat) {
        let start = tat.max(now);
        let Some(new_tat) = start.checked_add(interval) else {
            // Past the last representable time (about 584 years of
            // nanoseconds): saturating here would stop the bucket from ever
            // draining, so refuse instead (found by a property test).
            let decision = Self {
                allowed: false,
                remaining: 0,
                reset_nanos: start - now,
                retry_after_nanos: u64::MAX,
            };
            return (decision, None);
        };
        let backlog = new_tat - now;
        if backlog > tolerance {
            let decision = Self {
                allowed: false,
                remaining: 0,
                reset_nanos: start - now,
                retry_after_nanos: backlog - tolerance,
            };
            return (decision, None);
        }
        let remaining = (tolerance - backlog) / interval.max(1);
        let decision = Self {
            allowed: true,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_nanos: backlog,
            retry_after_nanos: 0,
        };
        (decision, Some(new_tat))
    }

    /// A decision from its parts, for a store that computes the step elsewhere
    /// (a server-side script). `retry_after` is ignored when `allowed`.
    pub fn from_parts(
        allowed: bool,
        remaining: u32,
        reset: Duration,
        retry_after: Duration,
    ) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self {
            allowed,
            remaining: if allowed { remaining } else { 0 },
            reset_nanos: nanos(reset),
            retry_after_nanos: if allowed {
                0
            } else {
                nanos(retry_after).max(1)
            },
        }
    }

    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// Requests the client may still make at once.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Time until the client's bucket is full again.
    pub fn reset(&self) -> Duration {
        Duration::from_nanos(self.reset_nanos)
    }

    /// For a refusal, the time until one request would be admitted; zero for
    /// an admitted request.
    pub fn retry_after(&self) -> Duration {
        Duration::from_nanos(self.retry_after_nanos)
    }

    /// `reset` in whole seconds, rounded up.
    pub(crate) fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset_nanos)
    }

    /// `retry_after` in whole seconds, rounded up and never 0: `Retry-After: 0`
    /// tells a client to retry at once.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after_nanos).max(1)
    }
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    /// Walks a bucket of 3 tokens, one back per second, with exact numbers.
    #[test]
    fn burst_then_refusal_then_one_more() {
        let (interval, tolerance) = (SEC, 3 * SEC);
        let mut tat = 0;
        let now = 1_000 * SEC;
        for expected_remaining in [2, 1, 0] {
            let (d, new) = Decision::gcra(tat, now, interval, tolerance);
            assert!(d.is_allowed());
            assert_eq!(d.remaining(), expected_remaining);
            tat = new.unwrap();
        }
        let (d, new) = Decision::gcra(tat, now, interval, tolerance);
        assert!(!d.is_allowed());
        assert_eq!(new, None);
        assert_eq!(d.retry_after(), Duration::from_secs(1));
        assert_eq!(d.retry_after_secs(), 1);
        assert_eq!(d.reset(), Duration::from_secs(3));

        let (d, _) = Decision::gcra(tat, now + SEC / 2, interval, tolerance);
        assert!(!d.is_allowed());
        assert_eq!(d.retry_after(), Duration::from_millis(500));
        assert_eq!(d.retry_after_secs(), 1, "rounded up, never 0");

        let (d, new) = Decision::gcra(tat, now + SEC, interval, tolerance);
        assert!(d.is_allowed());
        assert_eq!(d.remaining(), 0);
        assert_eq!(d.reset_secs(), 3);
        let (d, _) = Decision::gcra(new.unwrap(), now + SEC, interval, tolerance);
        assert!(!d.is_allowed());
    }

    #[test]
    fn an_idle_bucket_is_full() {
        let (d, _) = Decision::gcra(5, 1_000, 10, 50);
        assert_eq!(d.remaining(), 4);
        assert_eq!(d.reset().as_nanos(), 10);
    }

    #[test]
    fn from_parts_never_says_retry_now() {
        let d = Decision::from_parts(false, 7, Duration::ZERO, Duration::ZERO);
        assert_eq!(d.remaining(), 0);
        assert_eq!(d.retry_after_secs(), 1);
    }
}
