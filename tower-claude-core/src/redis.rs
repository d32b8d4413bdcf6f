//! One connection to Redis for the crates that keep state there (rate-limit
//! buckets, the webhook replay cache): a single server, or a Redis Cluster
//! given some of its nodes.
//!
//! Both connect in the background and reconnect by themselves, so a program
//! starts while Redis is down. On a cluster the client follows a killed
//! primary's promoted replica and moved slots by itself, but not a primary
//! that stalls without closing its connections (a frozen process, a network
//! partition): commands to its slots time out and nothing tells the client
//! the cluster has moved on. So after repeated timeouts a new cluster
//! connection is built from the seed nodes in the background, and takes the
//! old one's place only once it is connected and holds the cluster's current
//! slot map; until then, and if it cannot be built (every seed down), the old
//! one goes on serving. Rebuilds back off from [`REBUILD_AFTER`] to a minute
//! while timeouts go on.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue};

use crate::{redact_url, redact_urls};

/// The least time between two rebuilds of a cluster connection; each rebuild
/// that timeouts follow doubles it, up to [`REBUILD_AT_MOST`].
pub const REBUILD_AFTER: Duration = Duration::from_secs(2);
/// The longest time between two rebuilds while timeouts go on.
pub const REBUILD_AT_MOST: Duration = Duration::from_secs(60);
/// Timeouts since the last rebuild that call for the next: one slow command
/// is not a stalled primary.
const TIMEOUTS_BEFORE_REBUILD: u32 = 3;
/// Timeouts further apart than this start the backoff over.
const CALM_AFTER: Duration = Duration::from_secs(60);

/// A Lua script, run by `EVALSHA` and sent whole (`EVAL`) only to a node that
/// does not have it yet. (The client library's own fallback loads the script
/// on every node of a cluster at once, which fails while any node is down.)
#[derive(Debug, Clone)]
pub struct LuaScript {
    body: &'static str,
    sha: String,
}

impl LuaScript {
    /// The script `body`.
    pub fn new(body: &'static str) -> Self {
        Self {
            body,
            sha: redis::Script::new(body).get_hash().to_owned(),
        }
    }
}

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
    current: Arc<RwLock<ClusterConnection>>,
    rebuild: Arc<Mutex<Rebuild>>,
    /// The runtime the connection was made on, where rebuilds run.
    runtime: tokio::runtime::Handle,
}

/// When the next rebuild may start.
struct Rebuild {
    /// Timeouts since the last rebuild.
    timeouts: u32,
    last_timeout: Instant,
    started_at: Instant,
    interval: Duration,
    running: bool,
}

/// A [`RedisConnection`] could not be made: the message says why, with the
/// URLs shown without their passwords.
#[derive(Debug, Clone)]
pub struct RedisSetupError(String);

/// A command that failed or was not answered in time.
#[derive(Debug, Clone)]
pub struct RedisCallError(String);

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
        let shown = redact_urls(&urls);
        in_runtime()?;
        // No overall timeout: each command is bounded by the caller's own,
        // which may be longer than one node's answer (a start-up PING).
        let client = ClusterClient::builder(urls)
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(response_timeout)
            .overall_response_timeout(None)
            .build()
            .map_err(|e| RedisSetupError(format!("Redis Cluster {shown}: {e}")))?;
        let now = Instant::now();
        let cluster = Cluster {
            current: Arc::new(RwLock::new(
                client.get_pending_async_connection_with_config(Cluster::config(response_timeout)),
            )),
            client,
            response_timeout,
            rebuild: Arc::new(Mutex::new(Rebuild {
                timeouts: 0,
                last_timeout: now,
                started_at: now,
                interval: REBUILD_AFTER,
                running: false,
            })),
            runtime: tokio::runtime::Handle::current(),
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

    /// Whether Redis answers a `PING` within `within`.
    ///
    /// # Errors
    /// An error answer, a broken connection, or no answer within `within`.
    pub async fn ping(&self, within: Duration) -> Result<(), RedisCallError> {
        self.query::<String>(&redis::cmd("PING"), within)
            .await
            .map(drop)
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
        self.finish(
            tokio::time::timeout(within, self.run(command)).await,
            within,
        )
    }

    /// Runs `script` on `keys` and `args` by `EVALSHA`, and by `EVAL` on a
    /// node that answers `NOSCRIPT` (which also caches it there), waiting at
    /// most `within` in all.
    ///
    /// # Errors
    /// An error answer, a broken connection, or no answer within `within`.
    pub async fn eval<T: FromRedisValue>(
        &self,
        script: &LuaScript,
        keys: &[&str],
        args: &[&str],
        within: Duration,
    ) -> Result<T, RedisCallError> {
        let command = |name: &str, script: &str| {
            let mut command = redis::cmd(name);
            command.arg(script).arg(keys.len()).arg(keys).arg(args);
            command
        };
        let call = async {
            match self.run(&command("EVALSHA", &script.sha)).await {
                Err(error) if error.code() == Some("NOSCRIPT") => {
                    self.run(&command("EVAL", script.body)).await
                }
                answer => answer,
            }
        };
        self.finish(tokio::time::timeout(within, call).await, within)
    }

    async fn run<T: FromRedisValue>(&self, command: &Cmd) -> redis::RedisResult<T> {
        match &self.inner.kind {
            Kind::Single(manager) => command.query_async(&mut manager.clone()).await,
            Kind::Cluster(cluster) => command.query_async(&mut cluster.connection()).await,
        }
    }

    fn finish<T>(
        &self,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
        within: Duration,
    ) -> Result<T, RedisCallError> {
        let error = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) if !error.is_timeout() => return Err(RedisCallError(error.to_string())),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {within:?}"),
        };
        if let Kind::Cluster(cluster) = &self.inner.kind {
            cluster.timed_out(&self.inner.shown);
        }
        Err(RedisCallError(error))
    }
}

impl Cluster {
    fn config(response_timeout: Duration) -> ClusterConfig {
        ClusterConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(response_timeout)
    }

    fn connection(&self) -> ClusterConnection {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A timeout may mean a stalled primary the client keeps routing to:
    /// after a few, when the backoff allows, build a connection from the
    /// seed nodes in the background and swap it in once it is connected.
    fn timed_out(&self, shown: &str) {
        let mut state = lock(&self.rebuild);
        let now = Instant::now();
        if now.duration_since(state.last_timeout) > CALM_AFTER {
            state.interval = REBUILD_AFTER;
            state.timeouts = 0;
        }
        state.last_timeout = now;
        state.timeouts += 1;
        let due = state.timeouts >= TIMEOUTS_BEFORE_REBUILD
            && now.duration_since(state.started_at) >= state.interval;
        if !due || state.running {
            return;
        }
        state.running = true;
        state.timeouts = 0;
        state.started_at = now;
        state.interval = (state.interval * 2).min(REBUILD_AT_MOST);
        drop(state);
        tracing::info!(
            target: "tower_claude_core",
            redis = shown,
            "Redis Cluster commands time out: reconnecting from the seed nodes to learn the current primaries"
        );
        let client = self.client.clone();
        let config = Self::config(self.response_timeout);
        let current = Arc::clone(&self.current);
        let rebuild = Arc::clone(&self.rebuild);
        let shown = shown.to_owned();
        self.runtime.spawn(async move {
            match client.get_async_connection_with_config(config).await {
                Ok(fresh) => match current.write() {
                    Ok(mut slot) => *slot = fresh,
                    Err(poisoned) => *poisoned.into_inner() = fresh,
                },
                Err(error) => tracing::warn!(
                    target: "tower_claude_core",
                    redis = %shown,
                    %error,
                    "Redis Cluster reconnect failed; the old connection goes on serving"
                ),
            }
            lock(&rebuild).running = false;
        });
    }
}

/// A lock a panic elsewhere left poisoned is still this state, and still usable.
fn lock(rebuild: &Mutex<Rebuild>) -> MutexGuard<'_, Rebuild> {
    rebuild
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        f.write_str(&self.0)
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
