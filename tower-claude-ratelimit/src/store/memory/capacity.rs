//! A full store: when there is room again, and what a newcomer gets meanwhile.

use std::sync::atomic::Ordering;
use std::time::Duration;

use dashmap::mapref::entry::Entry;

use super::{AtCapacity, MemoryStore, NEVER, Table, step};
use crate::decision::Decision;
use crate::key::ClientKey;

impl MemoryStore {
    /// When a new client can first be tracked while the store is full: when
    /// the earliest tracked bucket is full again and a sweep for room may run
    /// (at most one per second). A refusal's `Retry-After` says this time, not
    /// a second that would only be refused again; several newcomers may still
    /// compete for the room it frees.
    fn room_at(&self, now: u64) -> u64 {
        let shared = &self.shared;
        let free_at = match shared.next_free_at.load(Ordering::Relaxed) {
            // No tracked bucket known (a table dropped since the last sweep):
            // the next sweep will know.
            NEVER => now.saturating_add(shared.sweep_every),
            free_at => free_at,
        };
        let sweep_at = match shared.capacity_swept_at.load(Ordering::Relaxed) {
            NEVER => now,
            last => last.saturating_add(shared.reclaim_every),
        };
        free_at.max(sweep_at).max(now.saturating_add(1))
    }

    pub(super) fn has_room(&self) -> bool {
        self.shared.tracked.load(Ordering::Relaxed) < self.shared.max_keys
    }

    /// A new client while the store is full: sweep now if no sweep ran lately,
    /// then track it if that made room, or apply the capacity policy.
    pub(super) fn at_capacity(
        &self,
        table: &Table,
        key: &ClientKey,
        now: u64,
        tat: u64,
        admitted: Decision,
    ) -> Decision {
        let shared = &self.shared;
        let warned = shared.full_warned_at.load(Ordering::Relaxed);
        let due = (warned == NEVER || now.saturating_sub(warned) >= shared.sweep_every)
            && shared
                .full_warned_at
                .compare_exchange(warned, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if due {
            tracing::warn!(
                target: "tower_claude_ratelimit",
                policy = %table.name,
                max_keys = shared.max_keys,
                behaviour = ?shared.at_capacity,
                "rate-limit store is full: new clients are handled by the capacity policy until a sweep frees room"
            );
        }
        // A bucket known to be full again is room to be had now, at the time a
        // refusal's Retry-After named. Under churn some bucket is always about
        // to be full again, so one caller at most once per `reclaim_every`
        // walks the tables: a stream of newcomers cannot make every request
        // a sweep.
        let reclaim = now >= shared.next_free_at.load(Ordering::Relaxed) && {
            let last = shared.capacity_swept_at.load(Ordering::Relaxed);
            (last == NEVER || now.saturating_sub(last) >= shared.reclaim_every)
                && shared
                    .capacity_swept_at
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
        };
        if due || reclaim {
            shared.capacity_swept_at.store(now, Ordering::Relaxed);
            self.sweep_all(now);
            if self.has_room() {
                return match table.map.entry(self.slot(key)) {
                    // Another request of this client got in first: its step counts.
                    Entry::Occupied(mut entry) => step(table, entry.get_mut(), now),
                    Entry::Vacant(entry) => {
                        self.track(table, entry, tat);
                        admitted
                    }
                };
            }
        }
        match shared.at_capacity {
            AtCapacity::AdmitUntracked => admitted,
            AtCapacity::RefuseNew => {
                let wait = Duration::from_nanos(self.room_at(now).saturating_sub(now));
                Decision::from_parts(false, 0, wait, wait)
            }
        }
    }
}
