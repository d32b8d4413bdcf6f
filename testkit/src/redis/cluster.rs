//! A Redis Cluster on loopback, made with `redis-cli --cluster create`:
//! three primaries, with or without a replica each, and what a failover test
//! needs to read its topology.

use std::time::{Duration, Instant};

use super::RedisServer;

/// A Redis Cluster on loopback.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

/// One line of `CLUSTER NODES`, as a live node sees the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// The node's port on 127.0.0.1.
    pub port: u16,
    /// Whether it serves slots as a primary.
    pub primary: bool,
    /// Whether the cluster has marked it failed (`fail`, not just `fail?`).
    pub failed: bool,
    /// The slot ranges it serves, inclusive.
    pub slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Three primaries, no replicas.
    pub fn start() -> Self {
        Self::create(3, 0)
    }

    /// Three primaries with a replica each, and a node timeout of 1 s, so a
    /// failed primary's replica is promoted within a few seconds.
    pub fn start_with_replicas() -> Self {
        Self::create(6, 1)
    }

    fn create(count: usize, replicas: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                // The bus port is named: by default it is the port + 10,000,
                // which for a port above 55,535 does not exist (Redis refuses
                // to start) and below may be taken.
                let bus = super::free_port().to_string();
                RedisServer::start_with(&[
                    "--cluster-port",
                    &bus,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    if replicas > 0 { "1000" } else { "2000" },
                    // Replicas sync at once rather than after Redis's default
                    // five seconds of waiting for more replicas.
                    "--repl-diskless-sync-delay",
                    "0",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let replicas_arg = replicas.to_string();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", &replicas_arg, "--cluster-yes"]);
        let created = nodes[0].cli(&args);
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until(
            Duration::from_secs(30),
            "every node sees the whole cluster",
            |c| {
                c.nodes.iter().all(|n| {
                    n.cli_text(&["CLUSTER", "INFO"])
                        .contains("cluster_state:ok")
                }) && c.topology().len() == c.nodes.len()
            },
        );
        // A replica that has not synced with its primary yet cannot take its
        // place: wait for every replica's link.
        cluster.wait_until(Duration::from_secs(30), "every replica has synced", |c| {
            c.nodes.iter().all(|n| {
                let info = n.cli_text(&["INFO", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            })
        });
        // Roles spread by gossip: wait until every node's view shows each
        // replica as one, or a test that asks one node for a primary's
        // replica could find none.
        let primaries = count / (replicas + 1);
        cluster.wait_until(
            Duration::from_secs(30),
            "every node sees the replicas",
            |c| {
                c.nodes.iter().all(|n| {
                    let view: Vec<ClusterNode> = n
                        .cli_text(&["CLUSTER", "NODES"])
                        .lines()
                        .filter_map(parse_node)
                        .collect();
                    view.len() == count
                        && view.iter().filter(|node| node.primary).count() == primaries
                })
            },
        );
        cluster
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// One node, to stop, pause or restart it.
    pub fn node_mut(&mut self, index: usize) -> &mut RedisServer {
        &mut self.nodes[index]
    }

    /// `redis://` URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The index of the node on `port`.
    pub fn index_of(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == port)
    }

    /// The cluster as the first node that answers sees it (empty if none).
    pub fn topology(&self) -> Vec<ClusterNode> {
        self.nodes
            .iter()
            .map(|n| n.cli_text(&["CLUSTER", "NODES"]))
            .find(|text| text.lines().any(|l| l.contains("myself")))
            .map(|text| text.lines().filter_map(parse_node).collect())
            .unwrap_or_default()
    }

    /// The index of the primary serving `key` now.
    pub fn primary_for(&self, key: &str) -> Option<usize> {
        let topology = self.topology();
        self.primary_in(&topology, key)
    }

    /// The index of the primary serving `key` in `topology` (read once for
    /// many keys).
    pub fn primary_in(&self, topology: &[ClusterNode], key: &str) -> Option<usize> {
        let slot = key_slot(key);
        topology
            .iter()
            .find(|n| {
                n.primary && !n.failed && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
            })
            .and_then(|n| self.index_of(n.port))
    }

    /// The index of a replica of the primary at `primary`.
    pub fn replica_of(&self, primary: usize) -> Option<usize> {
        let port = self.nodes[primary].port();
        let text = self
            .nodes
            .iter()
            .map(|n| n.cli_text(&["CLUSTER", "NODES"]))
            .find(|text| text.lines().any(|l| l.contains("myself")))?;
        let primary_id = text
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|a| a.starts_with(&format!("127.0.0.1:{port}@")))
            })?
            .split_whitespace()
            .next()?
            .to_owned();
        text.lines()
            .find(|l| l.split_whitespace().nth(3) == Some(primary_id.as_str()))
            .and_then(parse_node)
            .and_then(|n| self.index_of(n.port))
    }

    /// Waits until the node at `index` serves slots as a primary and the
    /// cluster is whole again (`cluster_state:ok` on it); how long that took.
    pub fn wait_for_primary(&self, index: usize, within: Duration) -> Duration {
        let port = self.nodes[index].port();
        self.wait_until(within, "the replica is promoted", |c| {
            c.nodes[index]
                .cli_text(&["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
                && c.topology()
                    .iter()
                    .any(|n| n.port == port && n.primary && !n.slots.is_empty())
        })
    }

    /// Waits until the node at `index` is a replica again (a primary that
    /// came back after its replica took over); how long that took.
    pub fn wait_for_replica(&self, index: usize, within: Duration) -> Duration {
        let port = self.nodes[index].port();
        self.wait_until(within, "the old primary rejoins as a replica", |c| {
            c.topology()
                .iter()
                .any(|n| n.port == port && !n.primary && !n.failed)
        })
    }

    fn wait_until(&self, within: Duration, what: &str, done: impl Fn(&Self) -> bool) -> Duration {
        let started = Instant::now();
        while started.elapsed() < within {
            if done(self) {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the cluster did not reach this within {within:?}: {what}");
    }
}

/// `<id> <ip:port@cport> <flags> <primary> <ping> <pong> <epoch> <link> <slots>...`
fn parse_node(line: &str) -> Option<ClusterNode> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = fields
        .get(1)?
        .split('@')
        .next()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()?;
    let flags: Vec<&str> = fields.get(2)?.split(',').collect();
    let slots = fields
        .iter()
        .skip(8)
        .filter(|s| !s.starts_with('['))
        .filter_map(|range| match range.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => range.parse().ok().map(|s| (s, s)),
        })
        .collect();
    Some(ClusterNode {
        port,
        primary: flags.contains(&"master"),
        failed: flags.contains(&"fail"),
        slots,
    })
}

/// The slot of `key` (Redis Cluster specification, "Keys distribution
/// model"): CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
pub fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16_xmodem(hashed) % 16384
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's check value: CRC16 of "123456789" is 0x31C3.
    #[test]
    fn crc16_matches_the_specification() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), crc16_xmodem(b"foo{}{bar}") % 16384);
    }
}
