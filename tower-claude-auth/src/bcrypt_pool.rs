//! Running bcrypt off the async executor, a bounded number at a time, in the
//! order the fair queue chooses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use zeroize::Zeroizing;

use crate::credential::BCRYPT_MAX_TOKEN_LEN;
use crate::fair::{Client, FairQueue, Limits};

/// What a bcrypt job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BcryptOutcome {
    Match,
    Mismatch,
    /// Every worker is busy and the queue is full.
    Busy,
    /// No tokio runtime to run the job on, or the job died.
    Unavailable,
}

pub(crate) struct BcryptPool {
    queue: FairQueue,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    rejected_busy: AtomicU64,
}

/// What the bcrypt workers of a [`KeyStore`](crate::KeyStore) have done: for
/// metrics, and for tests that must show a cached token costs no second bcrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BcryptStats {
    /// bcrypt verifications run so far.
    pub runs: u64,
    /// Running now.
    pub running: usize,
    /// The most that ever ran at once.
    pub peak_running: usize,
    /// Waiting for a worker now.
    pub queued: usize,
    /// Requests answered 503 because the workers and the queue were full.
    pub rejected_busy: u64,
}

impl BcryptPool {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            queue: FairQueue::new(limits),
            counters: Arc::default(),
        }
    }

    pub(crate) fn stats(&self) -> BcryptStats {
        BcryptStats {
            runs: self.counters.runs.load(Ordering::Relaxed),
            running: self.counters.running.load(Ordering::Relaxed),
            peak_running: self.counters.peak_running.load(Ordering::Relaxed),
            queued: self.queue.queued(),
            rejected_busy: self.counters.rejected_busy.load(Ordering::Relaxed),
        }
    }

    /// Verifies `secret` against `hash` on tokio's blocking pool, in
    /// `client`'s turn.
    pub(crate) async fn verify(
        &self,
        client: Client,
        secret: Zeroizing<Vec<u8>>,
        hash: Arc<str>,
    ) -> BcryptOutcome {
        if secret.len() >= BCRYPT_MAX_TOKEN_LEN {
            return BcryptOutcome::Mismatch;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return BcryptOutcome::Unavailable;
        };
        let Ok(permit) = self.queue.acquire(client).await else {
            self.counters.rejected_busy.fetch_add(1, Ordering::Relaxed);
            return BcryptOutcome::Busy;
        };
        let counters = Arc::clone(&self.counters);
        // The permit moves into the job: it is released when bcrypt finishes,
        // even if the request that started it has gone, so the bound holds for
        // the CPU work itself.
        let job = runtime.spawn_blocking(move || {
            let _permit = permit;
            let running = counters.running.fetch_add(1, Ordering::AcqRel) + 1;
            counters.peak_running.fetch_max(running, Ordering::AcqRel);
            counters.runs.fetch_add(1, Ordering::Relaxed);
            let verdict = bcrypt::non_truncating_verify(secret.as_slice(), &hash);
            counters.running.fetch_sub(1, Ordering::AcqRel);
            verdict
        });
        let outcome = match job.await {
            Ok(Ok(true)) => BcryptOutcome::Match,
            Ok(Ok(false)) => BcryptOutcome::Mismatch,
            // The hash was validated at construction, and the length checked
            // above; an error here is a mismatch, never a reason to let anyone in.
            Ok(Err(_)) => BcryptOutcome::Mismatch,
            Err(_) => BcryptOutcome::Unavailable,
        };
        match outcome {
            BcryptOutcome::Match => self.queue.succeeded(client),
            BcryptOutcome::Mismatch => self.queue.failed(client),
            BcryptOutcome::Busy | BcryptOutcome::Unavailable => {}
        }
        outcome
    }
}
