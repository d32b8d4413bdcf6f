//! The per-client connection cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tower_claude_core::Ipv6Prefix;

/// Connections counted per client: an address, or an IPv6 `/64`.
pub(super) type Clients = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One connection of a client, counted while it lives.
pub(super) struct PerClient {
    clients: Clients,
    key: IpAddr,
}

impl PerClient {
    /// Counts a new connection of `ip`'s client, unless it holds `max` already.
    pub(super) fn admit(clients: &Clients, ip: IpAddr, max: usize) -> Option<Self> {
        let key = Ipv6Prefix::DEFAULT.apply(ip);
        let mut counts = clients.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(Self {
            clients: Arc::clone(clients),
            key,
        })
    }
}

impl Drop for PerClient {
    fn drop(&mut self) {
        let mut counts = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}
