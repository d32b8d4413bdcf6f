//! When to try a webhook again, and how long to wait.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::BoxError;
use tower::retry::Policy;

use crate::error::AttemptError;
use crate::sign_layer::Attempt;

/// The retry policy of webhook delivery, for `tower::retry::RetryLayer`.
///
/// - Retries connect errors, timeouts and 429, 500, 502, 503, 504; never other
///   answers (a 400 will be a 400 again) and never a refusal before sending.
/// - Waits `base × 2^(n-1)`, capped, each wait varied by up to ±20% so that
///   many failed deliveries do not come back at one instant; a 429's
///   `Retry-After` (seconds) is waited instead when it is longer, and ends the
///   delivery when it is longer than the cap.
/// - Marks each retry's request with its [`Attempt`] number, so the signing
///   layer inside re-signs it with a fresh timestamp under the same id.
///
/// The default is the schedule of the system this crate replaces: 3 retries,
/// 1 s doubling to a 30 s cap (and 30 s per attempt, set on the signing layer).
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    retries: u32,
    base: Duration,
    cap: Duration,
    attempt_timeout: Duration,
    /// Attempts made so far by the request this copy of the policy follows.
    made: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(30),
            made: 1,
        }
    }
}

impl DeliveryPolicy {
    /// How many retries after the first attempt (default 3).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The first wait (default 1 s).
    #[must_use]
    pub fn base_delay(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The longest wait (default 30 s).
    #[must_use]
    pub fn max_delay(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The per-attempt timeout that [`webhook_client`](crate::webhook_client)
    /// gives the signing layer (default 30 s).
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The wait before retry number `retry` (1 for the first), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Whether `result` deserves another attempt, and after how long.
    fn next_delay<B>(&self, result: &Result<Response<B>, BoxError>) -> Option<Duration> {
        let backoff = jitter(self.backoff(self.made));
        match result {
            Ok(response) => match response.status() {
                StatusCode::TOO_MANY_REQUESTS => match retry_after(response) {
                    Some(wait) if wait > self.cap => None,
                    Some(wait) => Some(wait.max(backoff)),
                    None => Some(backoff),
                },
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => Some(backoff),
                _ => None,
            },
            Err(error) => match error.downcast_ref::<AttemptError>() {
                Some(attempt) if !attempt.is_retryable() => None,
                // Transport errors, timeouts and errors of layers in between.
                _ => Some(backoff),
            },
        }
    }
}

impl<B> Policy<Request<Full<Bytes>>, Response<B>, BoxError> for DeliveryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Full<Bytes>>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if self.made > self.retries {
            return None;
        }
        let delay = self.next_delay(result)?;
        self.made += 1;
        request.extensions_mut().insert(Attempt(self.made));
        tracing::debug!(
            target: "tower_claude_webhook",
            attempt = self.made,
            delay_ms = delay.as_millis() as u64,
            "webhook will be retried"
        );
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<Full<Bytes>>) -> Option<Request<Full<Bytes>>> {
        let mut clone = Request::new(request.body().clone());
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.version_mut() = request.version();
        *clone.headers_mut() = request.headers().clone();
        *clone.extensions_mut() = request.extensions().clone();
        Some(clone)
    }
}

/// A `Retry-After` in delay-seconds. An HTTP date is not honoured (the
/// backoff applies), as it depends on the receiver's clock.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let value = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `delay` varied by up to ±20%.
fn jitter(delay: Duration) -> Duration {
    let mut byte = [0u8; 2];
    if getrandom::fill(&mut byte).is_err() {
        return delay;
    }
    // 0..=65535 mapped onto 0.8..=1.2.
    let factor = 0.8 + 0.4 * f64::from(u16::from_le_bytes(byte)) / 65535.0;
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Response<()>, BoxError> {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Some(value) = retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value.parse().unwrap());
        }
        Ok(response)
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let policy = DeliveryPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.backoff(200), Duration::from_secs(30));
    }

    #[test]
    fn which_answers_are_retried() {
        let policy = DeliveryPolicy::default();
        for status in [429, 500, 502, 503, 504] {
            assert!(
                policy.next_delay(&answer(status, None)).is_some(),
                "{status}"
            );
        }
        for status in [200, 201, 204, 301, 400, 401, 403, 404, 409, 410, 422, 501] {
            assert!(
                policy.next_delay(&answer(status, None)).is_none(),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = DeliveryPolicy::default();
        let wait = policy.next_delay(&answer(429, Some("7"))).unwrap();
        assert!(wait >= Duration::from_secs(7), "{wait:?}");
        assert!(policy.next_delay(&answer(429, Some("3600"))).is_none());
        let wait = policy
            .next_delay(&answer(429, Some("Wed, 21 Oct 2015 07:28:00 GMT")))
            .unwrap();
        assert!(
            wait <= Duration::from_millis(1200),
            "backoff applies: {wait:?}"
        );
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
