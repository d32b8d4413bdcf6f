//! One clock for every layer: the system's, or a manual one that tests move.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where layers read the time: wall-clock time for what goes on the wire
/// (webhook timestamps) and monotonic time for what is measured (rate-limit
/// buckets). The system clocks by default; [`Clock::manual`] in tests, which
/// moves only when told, and moves both readings together.
///
/// ```
/// use std::time::Duration;
/// use tower_claude_core::Clock;
///
/// let clock = Clock::manual(Duration::from_secs(1_700_000_000));
/// let shared = clock.clone();
/// shared.advance(Duration::from_millis(1500));
/// assert_eq!(clock.unix_seconds(), 1_700_000_001);
/// assert_eq!(clock.elapsed(), Duration::from_millis(1500));
/// ```
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

struct Manual {
    unix_at_start: Duration,
    elapsed_nanos: AtomicU64,
}

impl Clock {
    /// The system clocks.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that reads `unix_time` since the epoch until
    /// [`advance`](Self::advance) moves it; clones share it.
    pub fn manual(unix_time: Duration) -> Self {
        Self(Some(Arc::new(Manual {
            unix_at_start: unix_time,
            elapsed_nanos: AtomicU64::new(0),
        })))
    }

    /// Moves a manual clock (and its clones) forward. The system clock is
    /// not moved.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.0 {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            // Saturating: a clock never goes back, not even by wrapping.
            let _ = manual
                .elapsed_nanos
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                    Some(now.saturating_add(nanos))
                });
        }
    }

    /// Whether this is the system clock.
    pub fn is_system(&self) -> bool {
        self.0.is_none()
    }

    /// Time since the unix epoch. A system clock before 1970 reads zero.
    pub fn unix_time(&self) -> Duration {
        match &self.0 {
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            Some(manual) => manual.unix_at_start.saturating_add(Duration::from_nanos(
                manual.elapsed_nanos.load(Ordering::SeqCst),
            )),
        }
    }

    /// Whole seconds since the unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        self.unix_time().as_secs()
    }

    /// Monotonic time since an origin fixed for the process (the system
    /// clock) or the clock's creation (a manual clock). Never goes back.
    pub fn elapsed(&self) -> Duration {
        match &self.0 {
            None => {
                static ORIGIN: OnceLock<Instant> = OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed()
            }
            Some(manual) => Duration::from_nanos(manual.elapsed_nanos.load(Ordering::SeqCst)),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_system() {
            "Clock(system)"
        } else {
            "Clock(manual)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_saturates_rather_than_wrap() {
        let clock = Clock::manual(Duration::from_secs(5));
        clock.advance(Duration::MAX);
        let late = clock.elapsed();
        clock.advance(Duration::from_secs(1));
        assert!(clock.elapsed() >= late, "never goes back");
        assert!(clock.unix_time() >= Duration::from_secs(5));
    }

    #[test]
    fn the_system_clock_is_not_moved() {
        let clock = Clock::system();
        let before = clock.unix_seconds();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.unix_seconds() < before + 3600);
    }
}
