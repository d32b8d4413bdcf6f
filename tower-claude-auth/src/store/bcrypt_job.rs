//! A bcrypt verification: run once per token however many requests present
//! it at once, and cached.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::{Entry, KeyStore, Secret};
use crate::bcrypt_pool::BcryptOutcome;
use crate::fair::Client;
use crate::keyed_hash::TokenHash;
use crate::verifier::Verification;

/// How long a bcrypt-busy request is told to wait.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A bcrypt verification still to run.
pub(crate) struct BcryptJob {
    pub(super) store: KeyStore,
    pub(super) entry: Arc<Entry>,
    pub(super) hash: TokenHash,
    pub(super) secret: Zeroizing<Vec<u8>>,
}

impl BcryptJob {
    /// Runs the verification, shared with every concurrent request presenting
    /// the same token.
    pub(crate) async fn run(self, client: Client) -> Verification {
        let inner = &self.store.inner;
        let cell = {
            let mut in_flight = inner
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match in_flight.get(&self.hash) {
                Some(running) if Arc::ptr_eq(&running.entry, &self.entry) => {
                    Arc::clone(&running.cell)
                }
                // None running, or one against a key since replaced: start anew.
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    let running = InFlight {
                        entry: Arc::clone(&self.entry),
                        cell: Arc::clone(&cell),
                    };
                    in_flight.insert(self.hash, running);
                    cell
                }
            }
        };
        // Leaves the in-flight map however this request ends: a client that
        // hangs up mid-verification must not leave its entry behind. The slot
        // holds this request's only reference to the cell.
        let slot = InFlightSlot {
            store: &self.store,
            hash: self.hash,
            cell: Some(cell),
        };
        match &slot.cell {
            Some(cell) => cell.get_or_init(|| self.verify_now(client)).await.clone(),
            None => Verification::Invalid,
        }
    }

    async fn verify_now(&self, client: Client) -> Verification {
        let Secret::Bcrypt(hash) = &self.entry.secret else {
            return Verification::Invalid;
        };
        let inner = &self.store.inner;
        #[cfg(feature = "metrics")]
        let started = Instant::now();
        let outcome = inner
            .pool
            .verify(client, self.secret.clone(), Arc::clone(hash))
            .await;
        let now = Instant::now();
        #[cfg(feature = "metrics")]
        if let BcryptOutcome::Match | BcryptOutcome::Mismatch = outcome {
            let valid = matches!(outcome, BcryptOutcome::Match);
            crate::metrics::bcrypt_run(valid, now.saturating_duration_since(started));
        }
        match outcome {
            BcryptOutcome::Match => {
                inner.valid.insert(self.hash, Arc::clone(&self.entry), now);
                Verification::Valid(self.entry.identity.clone())
            }
            BcryptOutcome::Mismatch => {
                inner
                    .invalid
                    .insert(self.hash, Arc::clone(&self.entry), now);
                Verification::Invalid
            }
            BcryptOutcome::Busy | BcryptOutcome::Unavailable => Verification::Unavailable {
                retry_after: BUSY_RETRY_AFTER,
            },
        }
    }
}

/// A verification under way, and the key it runs against.
pub(super) struct InFlight {
    entry: Arc<Entry>,
    cell: Arc<OnceCell<Verification>>,
}

/// One request's share of an in-flight verification.
struct InFlightSlot<'a> {
    store: &'a KeyStore,
    hash: TokenHash,
    /// Given up under the map's lock, so that two requests leaving at once
    /// on two threads cannot both count the other as still waiting.
    cell: Option<Arc<OnceCell<Verification>>>,
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .store
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(cell) = self.cell.take() else {
            return;
        };
        let is_ours = in_flight
            .get(&self.hash)
            .is_some_and(|current| Arc::ptr_eq(&current.cell, &cell));
        // Done: the verdict is cached and every waiter holds the cell. Not done:
        // remove it only when no other request still waits on it (the map's
        // reference and ours are all that is left). Clones are taken and given
        // up under this lock, so the count is exact here.
        if is_ours && (cell.initialized() || Arc::strong_count(&cell) <= 2) {
            in_flight.remove(&self.hash);
        }
        drop(cell);
    }
}
