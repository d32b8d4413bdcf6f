//! `--redis-url`: one URL is a single Redis, two or more are the seed nodes
//! of a Redis Cluster. Each connects in the background, so a server starts
//! while Redis is down; [`check`] asks at start-up and refuses a URL count
//! that does not match what the servers are.

use std::time::Duration;

use tower_claude_core::redact_url;
use tower_claude_ratelimit::{OnRedisFailure, RedisStore};
use tower_claude_webhook::replay::RedisReplayCache;

/// What `--redis-url` names.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// One Redis.
    Single(String),
    /// A Redis Cluster, by some of its nodes.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The target of the URLs given, if any. A value may hold several URLs
    /// separated by commas (the environment variable's form); only a comma
    /// followed by a scheme separates, so a password may hold one.
    ///
    /// # Errors
    /// A piece that is not a `redis://` or `rediss://` URL.
    pub fn of(values: &[String]) -> Result<Option<Self>, String> {
        let mut urls = Vec::new();
        for value in values {
            let mut rest = value.as_str();
            while let Some(at) = next_url(rest) {
                urls.push(rest[..at].to_owned());
                rest = &rest[at + 1..];
            }
            urls.push(rest.to_owned());
        }
        for url in &urls {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(format!(
                    "--redis-url: {} is not a redis:// or rediss:// URL",
                    redact_url(url)
                ));
            }
        }
        Ok(match urls.len() {
            0 => None,
            1 => urls.pop().map(Self::Single),
            _ => Some(Self::Cluster(urls)),
        })
    }

    /// The rate limiter's store.
    ///
    /// # Errors
    /// An invalid URL.
    pub fn store(&self, on_failure: OnRedisFailure) -> Result<RedisStore, String> {
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
    pub fn replay_cache(&self) -> Result<RedisReplayCache, String> {
        match self {
            Self::Single(url) => RedisReplayCache::builder(url).build(),
            Self::Cluster(urls) => RedisReplayCache::cluster_builder(urls).build(),
        }
        .map_err(|e| format!("--redis-url: {e}"))
    }
}

/// Where the next URL starts in `text` (the index of the comma before it).
fn next_url(text: &str) -> Option<usize> {
    [",redis://", ",rediss://"]
        .iter()
        .filter_map(|separator| text.find(separator))
        .min()
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
pub async fn check(target: &RedisTarget) -> Result<(), String> {
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
            // Asked all at once: unreachable nodes cost their timeout once.
            let mut asked = tokio::task::JoinSet::new();
            for url in urls.clone() {
                asked.spawn(async move { (is_cluster_node(&url).await, url) });
            }
            while let Some(Ok((answer, url))) = asked.join_next().await {
                if answer == Some(false) {
                    return Err(format!(
                        "--redis-url given {} times means a Redis Cluster, but {} is a \
                         single Redis (cluster_enabled:0): give one --redis-url for a \
                         single Redis",
                        urls.len(),
                        redact_url(&url)
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_only_before_a_scheme() {
        let given = [
            "redis://:pa,ss@a:1/,rediss://b:2/".to_owned(),
            "redis://c:3/".to_owned(),
        ];
        let Ok(Some(RedisTarget::Cluster(urls))) = RedisTarget::of(&given) else {
            panic!("a cluster");
        };
        assert_eq!(
            urls,
            ["redis://:pa,ss@a:1/", "rediss://b:2/", "redis://c:3/"]
        );
        let one = ["redis://:a,b@host:6379/0".to_owned()];
        assert!(matches!(
            RedisTarget::of(&one),
            Ok(Some(RedisTarget::Single(url))) if url == one[0]
        ));
        assert!(matches!(RedisTarget::of(&[]), Ok(None)));
        let error = RedisTarget::of(&["redis://a/,host:1".to_owned()]);
        assert!(
            error.is_ok(),
            "a comma not before a scheme stays in the URL"
        );
        let error = RedisTarget::of(&["localhost:6379".to_owned()]).unwrap_err();
        assert!(error.contains("not a redis://"), "{error}");
    }
}
