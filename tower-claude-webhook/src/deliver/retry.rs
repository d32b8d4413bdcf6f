//! When to try a webhook again, how long to wait, and how long an attempt may take.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// The retry schedule of a [`WebhookSender`](crate::deliver::WebhookSender):
/// every setting of an attempt's timing lives here.
///
/// - Retries connect errors, timeouts and 429, 500, 502, 503, 504; never other
///   answers (a 400 will be a 400 again) and never a refusal before sending.
/// - Waits `base × 2^(n-1)`, each wait varied by up to ±20% so that many
///   failed deliveries do not come back at one instant, never past the cap; a
///   429's or 503's `Retry-After` (seconds) is waited instead when it is
///   longer, and ends the delivery when it is longer than the cap.
///
/// The default: 3 retries, 1 s doubling to a 30 s cap, 30 s per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

/// What one attempt came to, as the policy judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    /// The receiver answered, with `Retry-After` when it sent delay-seconds.
    Answered(StatusCode, Option<Duration>),
    /// No answer: a transport failure or the timeout.
    NoAnswer,
}

impl RetryPolicy {
    /// How many retries after the first attempt (default 3).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The first wait (default 1 s).
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest wait (default 30 s).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest one attempt may take, from sending to the answer's head
    /// (default 30 s).
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The per-attempt timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The wait before retry number `retry` (1 for the first), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// After attempt number `made` came to `outcome`: the wait before the
    /// next attempt, or `None` when the delivery ends here.
    pub(crate) fn next_delay(&self, made: u32, outcome: AttemptOutcome) -> Option<Duration> {
        if made > self.retries {
            return None;
        }
        // Varied, then capped: the cap is a promise.
        let backoff = jitter(self.backoff(made)).min(self.max_delay);
        match outcome {
            AttemptOutcome::NoAnswer => Some(backoff),
            // A receiver that says how long to wait is waited for, up to the
            // cap; past it the delivery ends rather than hammer it sooner.
            AttemptOutcome::Answered(
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE,
                Some(wait),
            ) => (wait <= self.max_delay).then(|| wait.max(backoff)),
            AttemptOutcome::Answered(
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT,
                _,
            ) => Some(backoff),
            AttemptOutcome::Answered(..) => None,
        }
    }
}

/// A `Retry-After` in delay-seconds. An HTTP date is not honoured (the
/// backoff applies), as it depends on the receiver's clock.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `delay` varied by up to ±20%.
fn jitter(delay: Duration) -> Duration {
    let [low, high] = tower_claude_core::random::random_bytes::<2>();
    // 0..=65535 mapped onto 0.8..=1.2.
    let factor = 0.8 + 0.4 * f64::from(u16::from_le_bytes([low, high])) / 65535.0;
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after_value: Option<&str>) -> AttemptOutcome {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after_value {
            headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        }
        AttemptOutcome::Answered(StatusCode::from_u16(status).unwrap(), retry_after(&headers))
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.backoff(200), Duration::from_secs(30));
    }

    #[test]
    fn which_answers_are_retried() {
        let policy = RetryPolicy::default();
        for status in [429, 500, 502, 503, 504] {
            assert!(
                policy.next_delay(1, answer(status, None)).is_some(),
                "{status}"
            );
        }
        for status in [200, 201, 204, 301, 400, 401, 403, 404, 409, 410, 422, 501] {
            assert!(
                policy.next_delay(1, answer(status, None)).is_none(),
                "{status}"
            );
        }
        assert!(policy.next_delay(1, AttemptOutcome::NoAnswer).is_some());
    }

    #[test]
    fn retries_run_out() {
        let policy = RetryPolicy::default().retries(2);
        assert!(policy.next_delay(2, AttemptOutcome::NoAnswer).is_some());
        assert!(policy.next_delay(3, AttemptOutcome::NoAnswer).is_none());
        assert!(
            RetryPolicy::default()
                .retries(0)
                .next_delay(1, AttemptOutcome::NoAnswer)
                .is_none()
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let wait = policy.next_delay(1, answer(429, Some("7"))).unwrap();
        assert!(wait >= Duration::from_secs(7), "{wait:?}");
        assert!(policy.next_delay(1, answer(429, Some("3600"))).is_none());
        let wait = policy
            .next_delay(1, answer(429, Some("Wed, 21 Oct 2015 07:28:00 GMT")))
            .unwrap();
        assert!(
            wait <= Duration::from_millis(1200),
            "backoff applies: {wait:?}"
        );
    }

    #[test]
    fn a_503_retry_after_is_honoured_and_no_wait_passes_the_cap() {
        let policy = RetryPolicy::default();
        let wait = policy.next_delay(1, answer(503, Some("12"))).unwrap();
        assert!(wait >= Duration::from_secs(12), "{wait:?}");
        assert!(policy.next_delay(1, answer(503, Some("3600"))).is_none());
        let capped = RetryPolicy::default().max_delay(Duration::from_secs(2));
        for made in 1..=3 {
            for _ in 0..200 {
                let wait = capped.next_delay(made, AttemptOutcome::NoAnswer).unwrap();
                assert!(wait <= Duration::from_secs(2), "{wait:?}");
            }
        }
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
    }
}
