//! Bounding what a flood writes to the logs.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Per reason, the first few events of each interval in full, then one summary
/// line with the count of those that were not written.
///
/// A client flooding wrong tokens makes one refusal per request; a line for
/// each would fill a disk (about 6 GB an hour at 260 bytes a line). Every
/// event is still counted: the summary says how many were left out. Reasons
/// are the `&'static str` refusal codes, so the table is as small as the code
/// that names them.
///
/// ```
/// use std::time::Duration;
/// use tower_claude_core::LogThrottle;
///
/// let throttle = LogThrottle::new(2, Duration::from_secs(10));
/// assert!(throttle.admit("wrong_token").write);
/// assert!(throttle.admit("wrong_token").write);
/// assert!(!throttle.admit("wrong_token").write, "the third in this interval");
/// assert!(throttle.admit("missing_token").write, "each reason has its own budget");
/// ```
pub struct LogThrottle {
    burst: u64,
    interval: Duration,
    started: Instant,
    reasons: Mutex<Vec<Window>>,
}

struct Window {
    reason: &'static str,
    /// Nanoseconds since `started` at which this window opened.
    opened: u64,
    /// Events in this window.
    seen: u64,
}

/// What to write for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogAdmit {
    /// Write this event's line.
    pub write: bool,
    /// Events of this reason left out in the interval that just ended: write
    /// one summary line with this count first.
    pub left_out: Option<u64>,
}

impl LogThrottle {
    /// The default: 10 lines per reason every 10 s, then a summary.
    pub fn standard() -> Self {
        Self::new(10, Duration::from_secs(10))
    }

    /// At most `burst` full lines per reason in each `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        Self::new_at(burst, interval, Instant::now())
    }

    fn new_at(burst: u32, interval: Duration, started: Instant) -> Self {
        Self {
            burst: u64::from(burst),
            interval,
            started,
            reasons: Mutex::new(Vec::new()),
        }
    }

    /// Counts one event of `reason` now.
    pub fn admit(&self, reason: &'static str) -> LogAdmit {
        self.admit_at(reason, Instant::now())
    }

    fn admit_at(&self, reason: &'static str, now: Instant) -> LogAdmit {
        let now = u64::try_from(now.saturating_duration_since(self.started).as_nanos())
            .unwrap_or(u64::MAX);
        let interval = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
        let mut reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
        // Reasons are a handful of static codes: a scan beats a hash here.
        let index = match reasons.iter().position(|w| w.reason == reason) {
            Some(index) => index,
            None => {
                reasons.push(Window {
                    reason,
                    opened: now,
                    seen: 0,
                });
                reasons.len() - 1
            }
        };
        let window = &mut reasons[index];
        let mut left_out = None;
        if now.saturating_sub(window.opened) >= interval {
            let skipped = window.seen.saturating_sub(self.burst);
            if skipped > 0 {
                left_out = Some(skipped);
            }
            window.opened = now;
            window.seen = 0;
        }
        window.seen += 1;
        LogAdmit {
            write: window.seen <= self.burst,
            left_out,
        }
    }
}

impl Default for LogThrottle {
    fn default() -> Self {
        Self::standard()
    }
}

impl fmt::Debug for LogThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogThrottle")
            .field("burst", &self.burst)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Once at first, then at most once per interval: for warnings about a state
/// that lasts (a store down, a table full). The first one is written at once,
/// however soon after start-up it happens.
#[derive(Debug)]
pub struct WarnOnce {
    interval_ns: u64,
    started: Instant,
    /// Nanoseconds since `started` of the last warning, plus one; 0: never.
    last: std::sync::atomic::AtomicU64,
}

impl WarnOnce {
    /// At most one warning per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval_ns: u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX),
            started: Instant::now(),
            last: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether to warn now; true for exactly one caller per interval.
    pub fn due(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.started.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= self.interval_ns)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_writes_a_burst_then_one_summary_per_interval() {
        let start = Instant::now();
        let throttle = LogThrottle::new_at(3, Duration::from_secs(10), start);
        let written = (0..1000)
            .filter(|_| throttle.admit_at("wrong_token", start).write)
            .count();
        assert_eq!(written, 3);
        let next = throttle.admit_at("wrong_token", start + Duration::from_secs(10));
        assert_eq!(
            next,
            LogAdmit {
                write: true,
                left_out: Some(997)
            }
        );
        // A quiet interval has nothing to summarize.
        let later = throttle.admit_at("wrong_token", start + Duration::from_secs(30));
        assert_eq!(later.left_out, None);
    }

    /// Issue 13, item 12: the first warning comes at once, not an interval in.
    #[test]
    fn the_first_warning_is_due_at_once() {
        let warn = WarnOnce::new(Duration::from_secs(10));
        assert!(warn.due());
        assert!(!warn.due());
    }
}
