//! Rate limits and the webhook replay cache on a replicated Redis Cluster,
//! through failures: two reference servers share a six-node cluster (three
//! primaries, a replica each, node timeout 1 s) with traffic running.
//!
//! The recovery times these tests print are the numbers in the rate
//! limiter's README and SECURITY.md.

mod cluster_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_support::{ONE_AT_A_TIME, Servers, Traffic, args, clients_on, recovery};
use http::{Method, StatusCode};
use tower_claude_testkit::redis::RedisCluster;

/// How long the cluster may take to promote a replica and the servers to
/// find it: the node timeout (1 s), the election, a slot refresh, and a
/// busy machine's margin.
const RECOVERY_WITHIN: Duration = Duration::from_secs(30);

/// A primary killed (SIGKILL) mid-flood: every request is answered 200 or
/// 429 within the timeout's margin (the fallback answers for the dead
/// primary's slots), and once its replica is promoted the limits are shared
/// and exact again, without restarting the servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_costs_no_error_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = RedisCluster::start_with_replicas();
    let servers = Arc::new(Servers::start(&cluster).await);
    let victim = cluster.primary_for("tcrl:victim").expect("a primary");
    let replica = cluster.replica_of(victim).expect("a replica");
    let mut clients = clients_on(&cluster, &servers, victim, 200)
        .await
        .into_iter();
    servers.assert_exact(&mut clients, 1).await;

    let traffic = Traffic::start(&servers, 6);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fallbacks_before = servers.fallbacks();
    cluster.node_mut(victim).stop();
    let killed = Instant::now();
    let recovered = recovery(&servers, &mut clients, killed, RECOVERY_WITHIN).await;
    tokio::task::block_in_place(|| cluster.wait_for_primary(replica, RECOVERY_WITHIN));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = traffic.stop_and_check().await;
    let fallbacks = servers.fallbacks() - fallbacks_before;
    servers.assert_exact(&mut clients, 10).await;
    eprintln!(
        "kill: shared limits exact again {:.1} s after the kill; \
         {answered} traffic requests answered, {fallbacks} of all decisions by the fallback",
        recovered.as_secs_f64()
    );
}

/// A planned switch (`CLUSTER FAILOVER` on the replica, which waits until it
/// has every write): a client that spent part of its burst before keeps
/// exactly the rest after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_loses_no_decision() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = RedisCluster::start_with_replicas();
    let servers = Arc::new(Servers::start(&cluster).await);
    let victim = cluster.primary_for("tcrl:planned").expect("a primary");
    let replica = cluster.replica_of(victim).expect("a replica");
    let mut clients = clients_on(&cluster, &servers, victim, 200)
        .await
        .into_iter();
    // Clients that spend three of their five before the switch, each on
    // Redis throughout (a decision by the fallback would prove nothing).
    let mut spenders = Vec::new();
    while spenders.len() < 5 {
        let spender = clients.next().unwrap();
        let before = servers.fallbacks();
        let mut admitted = 0;
        for n in 0..3 {
            if servers.docs(n, spender).await == Some(StatusCode::OK) {
                admitted += 1;
            }
        }
        if servers.fallbacks() == before {
            assert_eq!(admitted, 3);
            spenders.push(spender);
        }
    }

    let traffic = Traffic::start(&servers, 6);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let switched = Instant::now();
    assert_eq!(
        cluster.nodes()[replica].cli_text(&["CLUSTER", "FAILOVER"]),
        "OK"
    );
    tokio::task::block_in_place(|| cluster.wait_for_primary(replica, RECOVERY_WITHIN));
    let recovered = recovery(&servers, &mut clients, switched, RECOVERY_WITHIN).await;
    let mut proven = 0;
    for spender in spenders {
        let before = servers.fallbacks();
        let mut admitted = 0;
        for n in 0..4 {
            if servers.docs(n, spender).await == Some(StatusCode::OK) {
                admitted += 1;
            }
        }
        if servers.fallbacks() == before {
            assert_eq!(admitted, 2, "{spender}: the two left of its five");
            proven += 1;
        }
    }
    assert!(
        proven > 0,
        "no spender was decided on Redis after the switch"
    );
    let answered = traffic.stop_and_check().await;
    eprintln!(
        "planned failover: shared limits exact {:.1} s after CLUSTER FAILOVER was sent; \
         {answered} traffic requests answered",
        recovered.as_secs_f64()
    );
}

/// A primary that stops answering (SIGSTOP: a network stall) is a kill for
/// as long as it lasts: requests are answered by the fallback within the
/// timeout's margin, its replica takes over, and when it runs again it
/// rejoins as a replica while the limits stay shared and exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_primary_is_a_kill_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = RedisCluster::start_with_replicas();
    let servers = Arc::new(Servers::start(&cluster).await);
    let victim = cluster.primary_for("tcrl:stall").expect("a primary");
    let replica = cluster.replica_of(victim).expect("a replica");
    let mut clients = clients_on(&cluster, &servers, victim, 300)
        .await
        .into_iter();

    let traffic = Traffic::start(&servers, 6);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.node_mut(victim).pause();
    let stalled = Instant::now();
    let recovered = recovery(&servers, &mut clients, stalled, RECOVERY_WITHIN).await;
    tokio::task::block_in_place(|| cluster.wait_for_primary(replica, RECOVERY_WITHIN));
    cluster.node_mut(victim).resume();
    tokio::task::block_in_place(|| cluster.wait_for_replica(victim, RECOVERY_WITHIN));
    servers.assert_exact(&mut clients, 10).await;
    let answered = traffic.stop_and_check().await;
    eprintln!(
        "stall: shared limits exact again {:.1} s after SIGSTOP; {answered} traffic requests answered",
        recovered.as_secs_f64()
    );
}

/// Delivers a signed webhook to the reference server at `addr`, from an
/// address of its own (the rate limit is not what this test is about).
async fn deliver(addr: std::net::SocketAddr, signed: &http::HeaderMap) -> StatusCode {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut headers = signed.clone();
    let from = std::net::Ipv4Addr::from(0xcb00_7100 + n).to_string();
    headers.insert("x-forwarded-for", from.parse().expect("an address"));
    let ask =
        tower_claude_testkit::send_map(addr, Method::POST, "/webhooks/incoming", &headers, b"{}");
    match tokio::time::timeout(Duration::from_secs(6), ask).await {
        Ok(reply) if reply.status == StatusCode::UNAUTHORIZED => {
            // A refusal here must be the replay check's, not another.
            assert!(reply.body.contains("replayed_delivery"), "{}", reply.body);
            reply.status
        }
        Ok(reply) => reply.status,
        Err(_) => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// The replay cache on the cluster: a delivery accepted by one server well
/// before its key's primary dies is still refused as a replay by the other
/// after the failover. One accepted in the instant before the kill can be
/// lost with the primary's unreplicated writes: counted and printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_cache_refuses_replays_after_a_failover() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = RedisCluster::start_with_replicas();
    let servers = Servers::start(&cluster).await;
    let victim = cluster.primary_for("tcwh:replay").expect("a primary");
    let replica = cluster.replica_of(victim).expect("a replica");
    let signer = tower_claude_webhook::sign::Signer::x_webhook(
        tower_claude_webhook::WebhookSecret::new("shared-secret").unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Distinct timestamps make distinct messages under the X-Webhook scheme.
    let batch = |from: u64| -> Vec<http::HeaderMap> {
        (from..from + 30)
            .map(|n| signer.sign(&format!("msg_{n}"), now - n, b"{}"))
            .collect()
    };
    let (early, late) = (batch(0), batch(100));
    for signed in &early {
        assert_eq!(deliver(servers.addrs[0], signed).await, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for signed in &late {
        assert_eq!(deliver(servers.addrs[0], signed).await, StatusCode::OK);
    }
    cluster.node_mut(victim).stop();
    let killed = Instant::now();
    tokio::task::block_in_place(|| cluster.wait_for_primary(replica, RECOVERY_WITHIN));
    // The cache refuses (503) until it reaches the new primary.
    let fresh = batch(200);
    let mut fresh = fresh.iter();
    loop {
        let signed = fresh.next().expect("recovery within 30 messages");
        if deliver(servers.addrs[1], signed).await == StatusCode::OK {
            break;
        }
        assert!(
            killed.elapsed() < RECOVERY_WITHIN,
            "the replay cache did not recover"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let recovered = killed.elapsed();
    for signed in &early {
        assert_eq!(
            deliver(servers.addrs[1], signed).await,
            StatusCode::UNAUTHORIZED,
            "a replay of a delivery accepted a second before the kill"
        );
    }
    let mut lost = 0;
    for signed in &late {
        match deliver(servers.addrs[1], signed).await {
            StatusCode::OK => lost += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("a replay after recovery was answered {other}"),
        }
    }
    eprintln!(
        "replay cache: a fresh delivery accepted again {:.1} s after the kill; of 30 deliveries accepted in the \
         instant before it (a third on the dead primary), {lost} were lost and their replay accepted",
        recovered.as_secs_f64()
    );
}

/// The seed nodes may be replicas only: the client finds the primaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_alone_are_enough_as_seed_nodes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = RedisCluster::start_with_replicas();
    let replicas: Vec<String> = cluster
        .topology()
        .iter()
        .filter(|node| !node.primary)
        .map(|node| format!("redis://127.0.0.1:{}/", node.port))
        .collect();
    assert_eq!(replicas.len(), 3);
    let mut seeded = args(&cluster);
    seeded.redis_urls = replicas;
    let servers = Servers::start_with(seeded).await;
    let mut clients = (0..60u32).map(|n| std::net::Ipv4Addr::from(0xc633_6400 + n));
    servers.assert_exact(&mut clients, 12).await;
}
