//! Wall-clock time in unix seconds, injectable for tests.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where signers and verifiers read the time: the system clock by default, any
/// function in tests.
#[derive(Clone, Default)]
pub struct UnixClock(Option<Arc<dyn Fn() -> u64 + Send + Sync>>);

impl UnixClock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that reads `now` (unix seconds).
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(now)))
    }

    /// Unix seconds now. A system clock before 1970 reads 0.
    pub fn now(&self) -> u64 {
        match &self.0 {
            Some(now) => now(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

impl fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "UnixClock(injected)"
        } else {
            "UnixClock(system)"
        })
    }
}
