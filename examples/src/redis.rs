//! `--redis-url`: one URL is a single Redis, two or more are the seed nodes
//! of a Redis Cluster. Each connects in the background, so a server starts
//! while Redis is down; [`check`] asks at start-up and refuses a URL count
//! that does not match what the servers are.

use std::time::Duration;

use tower_claude_core::redact_url;
use tower_claude_ratelimit::{OnRedisFailure, RedisStore};
use tower_claude_webhook::replay::RedisReplayCache;

/// What `--redis-url` names.
#[derive(Debug, Clone, Copy)]
pub enum RedisTarget<'a> {
    /// One Redis.
    Single(&'a str),
    /// A Redis Cluster, by some of its nodes.
    Cluster(&'a [String]),
}

impl<'a> RedisTarget<'a> {
    /// The target of the URLs given, if any.
    pub fn of(urls: &'a [String]) -> Option<Self> {
        match urls {
            [] => None,
            [url] => Some(Self::Single(url)),
            urls => Some(Self::Cluster(urls)),
        }
    }

    /// The rate limiter's store.
    ///
    /// # Errors
    /// An invalid URL.
    pub fn store(self, on_failure: OnRedisFailure) -> Result<RedisStore, String> {
        match self {
            Self::Single(url) => RedisStore::builder(url).on_failure(on_failure).build(),
            Self::Cluster(urls) => RedisStore::cluster_builder(urls)
                .on_failure(on_failure)
                .build(),
        }
        .map_err(|e| format!("--redis-url: {e}"))
    }

    /// The webhook replay cache (refusing while it cannot check).
    ///
    /// # Errors
    /// An invalid URL.
    pub fn replay_cache(self) -> Result<RedisReplayCache, String> {
        match self {
            Self::Single(url) => RedisReplayCache::builder(url).build(),
            Self::Cluster(urls) => RedisReplayCache::cluster_builder(urls).build(),
        }
        .map_err(|e| format!("--redis-url: {e}"))
    }
}

/// Whether a Redis is a cluster node, from `INFO cluster`; `None` when it
/// does not answer within a second or two.
async fn is_cluster_node(url: &str) -> Option<bool> {
    let client = redis::Client::open(url).ok()?;
    let ask = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut connection)
            .await
            .ok()?;
        info.lines()
            .find_map(|line| line.trim().strip_prefix("cluster_enabled:"))
            .map(|flag| flag == "1")
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// Refuses a single URL that names a cluster node (the single-node client
/// would reach only that node's slots) and several URLs that name a node
/// outside a cluster. Nodes that do not answer are not judged: the server
/// starts on its failure policy and says so.
///
/// # Errors
/// The mismatch, and the fix.
pub async fn check(target: RedisTarget<'_>) -> Result<(), String> {
    match target {
        RedisTarget::Single(url) => {
            if is_cluster_node(url).await == Some(true) {
                return Err(format!(
                    "--redis-url {} is a Redis Cluster node: give --redis-url once per \
                     seed node (two or more; comma-separated in TOWER_CLAUDE_REDIS_URL) \
                     to use the cluster",
                    redact_url(url)
                ));
            }
        }
        RedisTarget::Cluster(urls) => {
            for url in urls {
                if is_cluster_node(url).await == Some(false) {
                    return Err(format!(
                        "--redis-url given {} times means a Redis Cluster, but {} is a \
                         single Redis (cluster_enabled:0): give one --redis-url for a \
                         single Redis",
                        urls.len(),
                        redact_url(url)
                    ));
                }
            }
        }
    }
    Ok(())
}
