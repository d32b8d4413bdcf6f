//! Who runs bcrypt next: clients take turns, and a client whose recent
//! verifications failed waits behind every client whose did not.
//!
//! A flood of wrong tokens is a flood of bcrypt runs. With one queue in
//! arrival order, a valid user's first verification waits behind all of it.
//! Here each client (an address, IPv6 by its /64) has a queue of its own, the
//! workers serve clients in turn, and clients that failed lately are served
//! only when no other client waits. Queues are bounded per client and
//! overall; when the whole queue is full, a newcomer in good standing takes
//! the place of a failing client's newest job rather than be refused.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// Who asked: a client address (IPv6 grouped by prefix), or `None` when the
/// server recorded no peer address.
pub(crate) type Client = Option<IpAddr>;

/// The sizes of a [`FairQueue`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// bcrypt runs at once.
    pub(crate) workers: usize,
    /// Jobs waiting, over all clients.
    pub(crate) max_queued: usize,
    /// Jobs waiting for one client.
    pub(crate) per_client: usize,
    /// How long a failed verification marks its client.
    pub(crate) suspect_for: Duration,
    /// Clients with a recent failure remembered at most.
    pub(crate) max_suspects: usize,
}

/// The scheduler; clones share it.
#[derive(Clone)]
pub(crate) struct FairQueue {
    shared: Arc<Shared>,
}

struct Shared {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: usize,
    queued: usize,
    next_ticket: u64,
    /// Each client's waiting jobs, oldest first.
    waiting: HashMap<Client, VecDeque<Waiter>>,
    /// Clients with waiting jobs, in turn order.
    turns: VecDeque<Client>,
    /// When each client's verification last failed.
    failed_at: HashMap<Client, Instant>,
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<bool>,
}

/// No room: every worker is busy and the queue (the client's, or the whole)
/// is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// A running slot: held while bcrypt runs, handed to the next job on drop.
pub(crate) struct Slot {
    queue: FairQueue,
}

impl FairQueue {
    pub(crate) fn new(limits: Limits) -> Self {
        let limits = Limits {
            workers: limits.workers.max(1),
            per_client: limits.per_client.max(1),
            max_suspects: limits.max_suspects.max(1),
            ..limits
        };
        Self {
            shared: Arc::new(Shared {
                limits,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A slot to run bcrypt for `client`: at once when a worker is free and
    /// nobody waits, else in `client`'s turn.
    ///
    /// # Errors
    /// [`Busy`] when the queue has no room for this client.
    pub(crate) async fn acquire(&self, client: Client) -> Result<Slot, Busy> {
        let (ticket, granted) = {
            let mut state = self.lock();
            let limits = &self.shared.limits;
            if state.running < limits.workers && state.queued == 0 {
                state.running += 1;
                return Ok(Slot {
                    queue: self.clone(),
                });
            }
            let mine = state.waiting.get(&client).map_or(0, VecDeque::len);
            if mine >= limits.per_client {
                return Err(Busy);
            }
            if state.queued >= limits.max_queued {
                let suspect = state.is_suspect(client, limits.suspect_for);
                if suspect || !state.evict_a_suspect(limits.suspect_for) {
                    return Err(Busy);
                }
            }
            let (grant, granted) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            // A client's queue exists only while it has jobs waiting.
            if !state.waiting.contains_key(&client) {
                state.turns.push_back(client);
            }
            state
                .waiting
                .entry(client)
                .or_default()
                .push_back(Waiter { ticket, grant });
            state.queued += 1;
            (ticket, granted)
        };
        // Leaves the queue however this wait ends, cancellation included.
        let mut place = Place {
            queue: self,
            client,
            ticket,
            granted: Some(granted),
        };
        let outcome = match place.granted.as_mut() {
            Some(granted) => granted.await,
            None => Ok(false),
        };
        place.granted = None;
        match outcome {
            Ok(true) => Ok(Slot {
                queue: self.clone(),
            }),
            // Evicted for a client in good standing, or the queue is gone.
            Ok(false) | Err(_) => Err(Busy),
        }
    }

    /// Marks `client` as failing, for the suspect period.
    pub(crate) fn failed(&self, client: Client) {
        let limits = self.shared.limits;
        let mut state = self.lock();
        if state.failed_at.len() >= limits.max_suspects {
            let now = Instant::now();
            state
                .failed_at
                .retain(|_, at| now.duration_since(*at) < limits.suspect_for);
            if state.failed_at.len() >= limits.max_suspects {
                // Full of live suspects (a spray through a trusted proxy):
                // forget the one that failed longest ago.
                let oldest = state
                    .failed_at
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(client, _)| *client);
                if let Some(oldest) = oldest {
                    state.failed_at.remove(&oldest);
                }
            }
        }
        state.failed_at.insert(client, Instant::now());
    }

    /// Clears `client`'s mark: it just proved it holds a valid key.
    pub(crate) fn succeeded(&self, client: Client) {
        self.lock().failed_at.remove(&client);
    }

    /// Jobs waiting now.
    pub(crate) fn queued(&self) -> usize {
        self.lock().queued
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a finished slot to the next job, or frees it.
    fn release(&self) {
        let suspect_for = self.shared.limits.suspect_for;
        let mut state = self.lock();
        while let Some(waiter) = state.next_waiter(suspect_for) {
            if waiter.grant.send(true).is_ok() {
                // The slot passes on: `running` is unchanged.
                return;
            }
        }
        state.running = state.running.saturating_sub(1);
    }

    /// Takes a cancelled job out of its queue.
    fn leave(&self, client: Client, ticket: u64) {
        let mut state = self.lock();
        let Some(queue) = state.waiting.get_mut(&client) else {
            return;
        };
        let before = queue.len();
        queue.retain(|waiter| waiter.ticket != ticket);
        let removed = before - queue.len();
        let emptied = queue.is_empty();
        state.queued -= removed;
        if emptied {
            state.remove_client(client);
        }
    }
}

impl State {
    fn is_suspect(&self, client: Client, suspect_for: Duration) -> bool {
        self.failed_at
            .get(&client)
            .is_some_and(|at| at.elapsed() < suspect_for)
    }

    /// The next job to run: the first client in turn order in good standing,
    /// else the first failing one; that client then goes to the back.
    fn next_waiter(&mut self, suspect_for: Duration) -> Option<Waiter> {
        let position = self
            .turns
            .iter()
            .position(|client| !self.is_suspect(*client, suspect_for))
            .or_else(|| (!self.turns.is_empty()).then_some(0))?;
        let client = self.turns.remove(position)?;
        let queue = self.waiting.get_mut(&client)?;
        let waiter = queue.pop_front();
        if queue.is_empty() {
            self.waiting.remove(&client);
        } else {
            self.turns.push_back(client);
        }
        if waiter.is_some() {
            self.queued -= 1;
        }
        waiter
    }

    /// Refuses the newest job of a failing client, to make room; false when
    /// no failing client waits.
    fn evict_a_suspect(&mut self, suspect_for: Duration) -> bool {
        let victim = self
            .turns
            .iter()
            .rev()
            .copied()
            .find(|client| self.is_suspect(*client, suspect_for));
        let Some(victim) = victim else {
            return false;
        };
        let Some(queue) = self.waiting.get_mut(&victim) else {
            return false;
        };
        let Some(waiter) = queue.pop_back() else {
            return false;
        };
        let emptied = queue.is_empty();
        self.queued -= 1;
        if emptied {
            self.remove_client(victim);
        }
        // The evicted request answers 503 at once.
        let _ = waiter.grant.send(false);
        true
    }

    fn remove_client(&mut self, client: Client) {
        self.waiting.remove(&client);
        self.turns.retain(|c| *c != client);
    }
}

/// A job's place in its queue while it waits.
struct Place<'a> {
    queue: &'a FairQueue,
    client: Client,
    ticket: u64,
    /// Taken once the wait has ended and its answer was read.
    granted: Option<oneshot::Receiver<bool>>,
}

impl Drop for Place<'_> {
    /// A wait cancelled before its answer was read: leave the queue, or, when
    /// the slot was handed over meanwhile, hand it on.
    fn drop(&mut self) {
        let Some(mut granted) = self.granted.take() else {
            return;
        };
        granted.close();
        match granted.try_recv() {
            Ok(true) => self.queue.release(),
            _ => self.queue.leave(self.client, self.ticket),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.queue.release();
    }
}

#[cfg(test)]
mod tests;
