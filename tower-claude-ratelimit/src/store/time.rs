//! The clock of the stores: quanta by default (the cheapest monotonic read),
//! a core [`Clock`] when one is given.

use std::fmt;
use std::sync::Arc;

use governor::clock::{Clock as GovernorClock, QuantaClock, Reference};
use tower_claude_core::Clock;

/// Nanoseconds since the store was made, from an injected clock.
#[derive(Clone)]
pub(crate) enum Time {
    Quanta {
        clock: QuantaClock,
        start: <QuantaClock as GovernorClock>::Instant,
    },
    Injected(Arc<dyn Fn() -> u64 + Send + Sync>),
}

impl Time {
    pub(crate) fn quanta() -> Self {
        let clock = QuantaClock::default();
        let start = clock.now();
        Self::Quanta { clock, start }
    }

    /// `clock`'s time; the system clock is read through quanta.
    pub(crate) fn from_clock(clock: Clock) -> Self {
        if clock.is_system() {
            return Self::quanta();
        }
        let start = clock.elapsed();
        Self::Injected(Arc::new(move || {
            let since = clock.elapsed().saturating_sub(start);
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        }))
    }

    /// Nanoseconds since the store was made, plus one so that 0 never means
    /// "now" (a stored 0 is a full bucket).
    pub(crate) fn now(&self) -> u64 {
        let since = match self {
            Self::Quanta { clock, start } => clock.now().duration_since(*start).as_u64(),
            Self::Injected(now) => now(),
        };
        since.saturating_add(1)
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Quanta { .. } => "QuantaClock",
            Self::Injected(_) => "InjectedClock",
        })
    }
}
