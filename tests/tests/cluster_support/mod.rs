//! Two reference servers on one six-node Redis Cluster (three primaries, a
//! replica each), with traffic running, through what production Redis does:
//! a primary killed, a planned switch, a stalled primary.
#![allow(unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use tower_claude_examples::config::{Rate, RedisOnFailure, ServerArgs};
use tower_claude_examples::stack::Stack;
use tower_claude_examples::web::reference_app;
use tower_claude_testkit::redis::RedisCluster;
use tower_claude_testkit::{get, serve_axum};

/// Requests a client may make (per hour: nothing refills during a test).
pub const BURST: u32 = 5;
/// The most any request may take, whatever Redis is doing: the store's 50 ms
/// timeout, and a margin for a busy machine.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// The failover tests take most of the machine: one at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn args(cluster: &RedisCluster) -> ServerArgs {
    ServerArgs {
        bind: None,
        password_hash: None,
        password: Some("t".into()),
        rate_limit: Rate {
            count: BURST,
            per: Duration::from_secs(3600),
        },
        burst: None,
        max_clients: 1_000_000,
        trusted_proxies: tower_claude_core::IpCidr::loopback().to_vec(),
        webhook_secret: Some("shared-secret".into()),
        webhook_url: None,
        allow_insecure_webhooks: false,
        notify_budget: Duration::from_secs(5),
        redis_urls: cluster.urls(),
        redis_on_failure: RedisOnFailure::Fallback,
    }
}

/// Two reference servers on the cluster, connected (each pinged it).
pub struct Servers {
    pub addrs: [SocketAddr; 2],
    pub stacks: [Stack; 2],
}

impl Servers {
    pub async fn start(cluster: &RedisCluster) -> Self {
        Self::start_with(args(cluster)).await
    }

    pub async fn start_with(args: ServerArgs) -> Self {
        let mut addrs = Vec::new();
        let mut stacks = Vec::new();
        for _ in 0..2 {
            let app = reference_app(&args).expect("a reference app");
            app.stack.check_redis(&args).await.expect("a cluster");
            addrs.push(serve_axum(app.router).await);
            stacks.push(app.stack);
        }
        let (Ok(addrs), Ok(stacks)) = (addrs.try_into(), stacks.try_into()) else {
            unreachable!("two of each");
        };
        Self { addrs, stacks }
    }

    /// Requests the rate limits answered from memory because Redis did not.
    pub fn fallbacks(&self) -> u64 {
        self.stacks
            .iter()
            .filter_map(|s| s.redis.as_ref())
            .map(|r| r.stats().fallbacks)
            .sum()
    }

    /// `GET /docs` (public, rate limited) from `client`, on server `which`.
    pub async fn docs(&self, which: usize, client: Ipv4Addr) -> Option<StatusCode> {
        let from = client.to_string();
        let headers = [("x-forwarded-for", from.as_str())];
        let ask = get(self.addrs[which % 2], "/docs", &headers);
        tokio::time::timeout(ANSWER_WITHIN * 2, ask)
            .await
            .ok()
            .map(|reply| reply.status)
    }

    /// Whether `client` gets exactly its burst across both servers, then
    /// 429: one shared bucket in Redis. Each server's fallback bucket would
    /// admit the burst again.
    pub async fn limited_exactly(&self, client: Ipv4Addr) -> bool {
        let mut admitted = 0;
        for n in 0..=BURST as usize {
            match self.docs(n, client).await {
                Some(StatusCode::OK) => admitted += 1,
                Some(StatusCode::TOO_MANY_REQUESTS) => {}
                _ => return false,
            }
        }
        admitted == BURST
    }

    /// [`limited_exactly`](Self::limited_exactly), or `None` when a decision
    /// on the way came from the fallback (a command slower than the store's
    /// 50 ms timeout on a busy machine): that client proves nothing.
    pub async fn exact_unless_fallen_back(&self, client: Ipv4Addr) -> Option<bool> {
        let before = self.fallbacks();
        let exact = self.limited_exactly(client).await;
        (self.fallbacks() == before).then_some(exact)
    }

    /// Asserts that `count` clients from `clients` on which Redis decided
    /// every request were limited exactly (at most three tries a client).
    pub async fn assert_exact(&self, clients: &mut impl Iterator<Item = Ipv4Addr>, count: usize) {
        let mut proven = 0;
        for _ in 0..count * 3 {
            let client = clients.next().expect("enough clients");
            match self.exact_unless_fallen_back(client).await {
                Some(true) => proven += 1,
                Some(false) => panic!("{client} was not limited exactly, all on Redis"),
                None => {}
            }
            if proven == count {
                return;
            }
        }
        panic!("only {proven} of {count} clients were decided on Redis throughout");
    }
}

/// The client addresses whose rate-limit keys live on the primary at
/// `primary`, learned from the key one request writes.
pub async fn clients_on(
    cluster: &RedisCluster,
    servers: &Servers,
    primary: usize,
    count: usize,
) -> Vec<Ipv4Addr> {
    // A probe's key, to learn the key format; a probe decided by the
    // fallback wrote none, so a few are tried.
    let mut found = None;
    for n in 0..5u8 {
        let probe = Ipv4Addr::new(192, 0, 2, 240 + n);
        servers.docs(0, probe).await;
        found = cluster
            .nodes()
            .iter()
            .flat_map(|node| {
                node.cli_text(&["KEYS", "tcrl:*"])
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .find(|k| k.ends_with(&probe.to_string()))
            .map(|k| (k, probe));
        if found.is_some() {
            break;
        }
    }
    let (key, probe) = found.expect("a probe's rate-limit key in Redis");
    let prefix = key.trim_end_matches(&probe.to_string()).to_owned();
    let topology = cluster.topology();
    let clients: Vec<Ipv4Addr> = (0u32..200_000)
        .map(|n| Ipv4Addr::from(0xc612_0000 + n))
        .filter(|ip| cluster.primary_in(&topology, &format!("{prefix}{ip}")) == Some(primary))
        .take(count)
        .collect();
    assert_eq!(clients.len(), count, "clients on the primary");
    clients
}

/// How long a request took, and its status (`None`: no answer).
type Answer = (Duration, Option<StatusCode>);

/// Requests from fresh addresses, alternating between the servers, until
/// stopped: every answer's status and time.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Answer>>>,
}

static NEXT_CLIENT: AtomicU32 = AtomicU32::new(0);

impl Traffic {
    pub fn start(servers: &Arc<Servers>, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|_| {
                let (servers, stop) = (servers.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) && seen.len() < 100_000 {
                        let client = Ipv4Addr::from(
                            0x0a00_0000 + NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
                        );
                        let started = Instant::now();
                        let status = servers.docs(n, client).await;
                        seen.push((started.elapsed(), status));
                        n += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    seen
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops it; every request must have been answered 200 or 429 (the
    /// fallback policy never refuses) within [`ANSWER_WITHIN`].
    pub async fn stop_and_check(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let mut answered = 0;
        for task in self.tasks {
            for (took, status) in task.await.expect("a traffic task") {
                assert!(
                    matches!(status, Some(StatusCode::OK | StatusCode::TOO_MANY_REQUESTS)),
                    "a request was answered {status:?}"
                );
                assert!(took <= ANSWER_WITHIN, "a request took {took:?}");
                answered += 1;
            }
        }
        answered
    }
}

/// Polls until a fresh client from `clients` is limited exactly across both
/// servers again (at most `within`): how long after `since` that was.
pub async fn recovery(
    servers: &Servers,
    clients: &mut impl Iterator<Item = Ipv4Addr>,
    since: Instant,
    within: Duration,
) -> Duration {
    while since.elapsed() < within {
        let client = clients.next().expect("enough clients on the primary");
        if servers.limited_exactly(client).await {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("limits were not shared and exact again within {within:?}");
}
