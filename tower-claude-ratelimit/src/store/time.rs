//! The clock of the in-memory store: quanta by default, any governor clock in tests.

use std::fmt;
use std::sync::Arc;

use governor::clock::{Clock, QuantaClock, Reference};

/// Nanoseconds since the store was made, from an injected clock.
#[derive(Clone)]
pub(crate) enum Time {
    Quanta {
        clock: QuantaClock,
        start: <QuantaClock as Clock>::Instant,
    },
    Injected(Arc<dyn Fn() -> u64 + Send + Sync>),
}

impl Time {
    pub(crate) fn quanta() -> Self {
        let clock = QuantaClock::default();
        let start = clock.now();
        Self::Quanta { clock, start }
    }

    pub(crate) fn injected<C>(clock: C) -> Self
    where
        C: Clock + Send + Sync + 'static,
    {
        let start = clock.now();
        Self::Injected(Arc::new(move || clock.now().duration_since(start).as_u64()))
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
