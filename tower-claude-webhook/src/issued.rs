//! The signatures a signer issued lately, so that no two messages it sends
//! carry the same signed content.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

/// How far ahead of the clock a timestamp may be moved to keep signed content
/// unique: far inside every receiver's window (5 minutes by default).
pub(crate) const MAX_AHEAD_SECS: u64 = 60;

/// Fingerprints of the signature headers issued for timestamps not yet past.
///
/// The `X-Webhook-*` scheme signs only `timestamp.body`, so two deliveries of the same
/// body in one second (or a retry in the same second as its first attempt)
/// would carry identical signatures, and a receiver's replay check would
/// refuse the second. A signature issued for a timestamp earlier than now can
/// never collide with a new one (timestamps only move forward), so only the
/// current second's (and those moved ahead) are kept: memory follows the rate.
#[derive(Debug, Default)]
pub(crate) struct Issued {
    hasher: RandomState,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    /// Fingerprint of a signature value to the timestamp it was issued for.
    by_fingerprint: HashMap<u64, u64>,
    pruned_at: u64,
}

impl Issued {
    /// Records `signature`, issued for `timestamp` at `now`; false if the same
    /// signature was already issued (the caller moves to the next second).
    pub(crate) fn claim(&self, signature: &[u8], timestamp: u64, now: u64) -> bool {
        let fingerprint = self.hasher.hash_one(signature);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if now > recent.pruned_at {
            recent.by_fingerprint.retain(|_, issued| *issued >= now);
            recent.pruned_at = now;
        }
        match recent.by_fingerprint.get(&fingerprint) {
            Some(issued) if *issued == timestamp => false,
            _ => {
                recent.by_fingerprint.insert(fingerprint, timestamp);
                true
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_fingerprint
            .len()
    }
}
