//! One connection to Redis for the crates that keep state there (rate-limit
//! buckets, the webhook replay cache): a single server, or a Redis Cluster
//! given some of its nodes.
//!
//! Both connect in the background and reconnect by themselves, so a program
//! starts while Redis is down. On a cluster the client follows a killed
//! primary's promoted replica and moved slots by itself, but not a primary
//! that stalls without closing its connections (a frozen process, a network
//! partition): commands to its slots time out and nothing tells the client
//! the cluster has moved on. So after a timeout (at most once every
//! [`REBUILD_AFTER`]) a cluster connection is rebuilt from the seed nodes,
//! which asks the cluster for its current primaries.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, ScriptInvocation};

use crate::redact_url;

/// The least time between two rebuilds of a cluster connection.
pub const REBUILD_AFTER: Duration = Duration::from_secs(2);

/// A connection to one Redis or to a Redis Cluster. Cheap to clone.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    kind: Kind,
    shown: String,
}

enum Kind {
    Single(ConnectionManager),
    // Boxed: the cluster client's settings are large, and this sits in an Arc.
    Cluster(Box<Cluster>),
}

struct Cluster {
    client: ClusterClient,
    response_timeout: Duration,
    current: RwLock<ClusterConnection>,
    rebuilt_at: Mutex<Instant>,
}

/// A [`RedisConnection`] could not be made: the message says why, with the
/// URLs shown without their passwords.
#[derive(Debug, Clone)]
pub struct RedisSetupError(String);

/// A command that failed or was not answered in time.
#[derive(Debug, Clone)]
pub struct RedisCallError {
    message: String,
    timed_out: bool,
}

impl RedisCallError {
    /// Whether no answer came in time (rather than an error answer).
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
}

impl RedisConnection {
    /// A connection to the Redis at `url` (`redis://` or `rediss://`) that
    /// waits at most `response_timeout` for an answer.
    ///
    /// # Errors
    /// An invalid URL, or no Tokio runtime to run the connection on.
    pub fn single(url: &str, response_timeout: Duration) -> Result<Self, RedisSetupError> {
        let shown = redact_url(url);
        in_runtime()?;
        let client = redis::Client::open(url)
            .map_err(|e| RedisSetupError(format!("invalid Redis URL {shown}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisSetupError(format!("Redis {shown}: {e}")))?;
        Ok(Self::new(Kind::Single(manager), shown))
    }

    /// A connection to the Redis Cluster that `urls` are nodes of
    /// (primaries or replicas; the client discovers the rest).
    ///
    /// # Errors
    /// No URL, an invalid one, or no Tokio runtime.
    pub fn cluster(
        urls: impl IntoIterator<Item = impl AsRef<str>>,
        response_timeout: Duration,
    ) -> Result<Self, RedisSetupError> {
        let urls: Vec<String> = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        let shown = urls
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(",");
        in_runtime()?;
        let client = ClusterClient::builder(urls)
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(response_timeout)
            .build()
            .map_err(|e| RedisSetupError(format!("Redis Cluster {shown}: {e}")))?;
        let cluster = Cluster {
            current: RwLock::new(Cluster::connect(&client, response_timeout)),
            client,
            response_timeout,
            rebuilt_at: Mutex::new(Instant::now()),
        };
        Ok(Self::new(Kind::Cluster(Box::new(cluster)), shown))
    }

    fn new(kind: Kind, shown: String) -> Self {
        Self {
            inner: Arc::new(Inner { kind, shown }),
        }
    }

    /// The URLs, without their passwords: for messages and logs.
    pub fn shown(&self) -> &str {
        &self.inner.shown
    }

    /// Runs `command`, waiting at most `within`.
    ///
    /// # Errors
    /// An error answer, a broken connection, or no answer within `within`.
    pub async fn query<T: FromRedisValue>(
        &self,
        command: &Cmd,
        within: Duration,
    ) -> Result<T, RedisCallError> {
        let call = async {
            match &self.inner.kind {
                Kind::Single(manager) => command.query_async(&mut manager.clone()).await,
                Kind::Cluster(cluster) => command.query_async(&mut cluster.connection()).await,
            }
        };
        self.finish(tokio::time::timeout(within, call).await, within)
    }

    /// Runs `script` (by `EVALSHA`, loading it on `NOSCRIPT`), waiting at
    /// most `within`.
    ///
    /// # Errors
    /// An error answer, a broken connection, or no answer within `within`.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
        within: Duration,
    ) -> Result<T, RedisCallError> {
        let call = async {
            match &self.inner.kind {
                Kind::Single(manager) => script.invoke_async(&mut manager.clone()).await,
                Kind::Cluster(cluster) => script.invoke_async(&mut cluster.connection()).await,
            }
        };
        self.finish(tokio::time::timeout(within, call).await, within)
    }

    fn finish<T>(
        &self,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
        within: Duration,
    ) -> Result<T, RedisCallError> {
        let error = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) if !error.is_timeout() => {
                return Err(RedisCallError {
                    message: error.to_string(),
                    timed_out: false,
                });
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {within:?}"),
        };
        if let Kind::Cluster(cluster) = &self.inner.kind {
            cluster.rebuild_if_due(&self.inner.shown);
        }
        Err(RedisCallError {
            message: error,
            timed_out: true,
        })
    }
}

impl Cluster {
    fn connect(client: &ClusterClient, response_timeout: Duration) -> ClusterConnection {
        client.get_pending_async_connection_with_config(
            ClusterConfig::new()
                .set_connection_timeout(Duration::from_secs(1))
                .set_response_timeout(response_timeout),
        )
    }

    fn connection(&self) -> ClusterConnection {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A timeout may mean a stalled primary the client keeps routing to:
    /// at most once every [`REBUILD_AFTER`], start over from the seed nodes.
    fn rebuild_if_due(&self, shown: &str) {
        let Ok(mut rebuilt_at) = self.rebuilt_at.try_lock() else {
            return;
        };
        if rebuilt_at.elapsed() < REBUILD_AFTER {
            return;
        }
        *rebuilt_at = Instant::now();
        let fresh = Self::connect(&self.client, self.response_timeout);
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        tracing::info!(
            target: "tower_claude_core",
            redis = shown,
            "Redis Cluster command timed out: reconnecting from the seed nodes to learn the current primaries"
        );
    }
}

fn in_runtime() -> Result<(), RedisSetupError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(RedisSetupError(
            "a Redis connection must be made inside a Tokio runtime (it starts the connection task)"
                .into(),
        ));
    }
    Ok(())
}

impl fmt::Display for RedisSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisSetupError {}

impl fmt::Display for RedisCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RedisCallError {}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.kind {
            Kind::Single(_) => "single",
            Kind::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisConnection")
            .field("kind", &kind)
            .field("redis", &self.inner.shown)
            .finish()
    }
}
