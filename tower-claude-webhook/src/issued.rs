//! The signed content a signer issued lately, so that no two messages it
//! sends to one endpoint carry the same signed content.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};

/// How far ahead of the clock a timestamp may be moved to keep signed content
/// unique: far inside every receiver's window (5 minutes by default).
pub(crate) const MAX_AHEAD_SECS: u64 = 60;

/// The timestamps issued, per message content, for seconds not yet past.
///
/// The `X-Webhook-*` scheme signs only `timestamp.body`, so two deliveries of
/// the same body in one second (or a retry in the same second as its first
/// attempt) would carry identical signatures, and a receiver's replay check
/// would refuse the second. A message is keyed by what its signature covers
/// besides the timestamp (the body, and the id where the scheme signs it) and
/// by where it goes, hashed once; the first free second from now is claimed
/// before anything is signed, so a busy second costs a map lookup per second
/// tried, not a signature. A timestamp earlier than now can never collide
/// with a new one (timestamps only move forward), so only the current second
/// and those moved ahead are kept: memory follows the rate.
#[derive(Debug, Default)]
pub(crate) struct Issued {
    hasher: RandomState,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    /// Message fingerprint to the timestamps issued for it (each `>= now`).
    by_content: HashMap<u64, Vec<u64>>,
    pruned_at: u64,
}

impl Issued {
    /// The fingerprint of a message to `scope` (an endpoint) whose signed
    /// content is `parts` and a timestamp.
    pub(crate) fn fingerprint(&self, scope: &[u8], parts: &[&[u8]]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(scope);
        for part in parts {
            hasher.write_usize(part.len());
            hasher.write(part);
        }
        hasher.finish()
    }

    /// Claims the first second from `now` (at most [`MAX_AHEAD_SECS`] ahead)
    /// no message with this fingerprint was issued for; `None` when all are
    /// taken.
    pub(crate) fn claim(&self, fingerprint: u64, now: u64) -> Option<u64> {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if now > recent.pruned_at {
            recent.by_content.retain(|_, stamps| {
                stamps.retain(|&stamp| stamp >= now);
                !stamps.is_empty()
            });
            recent.pruned_at = now;
        }
        let stamps = recent.by_content.entry(fingerprint).or_default();
        let free = (0..=MAX_AHEAD_SECS)
            .map(|ahead| now.saturating_add(ahead))
            .find(|stamp| !stamps.contains(stamp))?;
        stamps.push(free);
        Some(free)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_content
            .len()
    }
}
