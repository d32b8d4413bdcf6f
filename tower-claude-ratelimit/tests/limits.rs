//! Exact counts on an injected clock: bursts, refills, routes, exemptions,
//! IPv6 grouping, spoofing and the sweep.

mod support;

use std::time::Duration;

use http::{Method, StatusCode};
use tower_claude_core::Clock;
use tower_claude_core::{ClientIpResolver, IpCidr, PathRules};
use tower_claude_ratelimit::{
    ClientKey, HeaderKey, KeyInput, MemoryStore, Quota, RateLimitHeaders, RateLimitLayer,
};

use support::{Harness, header};

const PEER: &str = "203.0.113.7:40000";

fn layer_on(clock: &Clock, quota: Quota) -> RateLimitLayer {
    let store = MemoryStore::builder().clock(clock.clone()).build();
    RateLimitLayer::with_store(store, quota)
}

#[tokio::test]
async fn burst_then_refusal_then_one_per_interval_with_exact_headers() {
    let clock = Clock::manual(Duration::ZERO);
    // Three at once, then one every 20 s.
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(3)));

    for (remaining, reset) in [(2, 20), (1, 40), (0, 60)] {
        let reply = harness.get(PEER, "/", &[]).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(header(&reply, "ratelimit-policy"), r#""default";q=3;w=60"#);
        assert_eq!(
            header(&reply, "ratelimit"),
            format!(r#""default";r={remaining};t={reset}"#)
        );
        assert_eq!(header(&reply, "x-ratelimit-limit"), "3");
        assert_eq!(
            header(&reply, "x-ratelimit-remaining"),
            remaining.to_string()
        );
        assert_eq!(header(&reply, "x-ratelimit-reset"), reset.to_string());
        assert!(reply.headers().get("retry-after").is_none());
    }

    let refused = harness.get(PEER, "/", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "20");
    assert_eq!(header(&refused, "ratelimit"), r#""default";r=0;t=60"#);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&refused, "content-type"), "application/json");
    assert_eq!(
        refused.body().as_ref(),
        br#"{"error":{"message":"rate limit exceeded; retry in 20 s","type":"rate_limit_error","code":"rate_limited"}}"#
    );

    // Half a second short of a token: still refused, and Retry-After rounds up.
    clock.advance(Duration::from_millis(19_500));
    let early = harness.get(PEER, "/", &[]).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&early, "retry-after"), "1");

    clock.advance(Duration::from_millis(500));
    let one_more = harness.get(PEER, "/", &[]).await;
    assert_eq!(one_more.status(), StatusCode::OK);
    assert_eq!(header(&one_more, "ratelimit"), r#""default";r=0;t=60"#);
    let again = harness.get(PEER, "/", &[]).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&again, "retry-after"), "20");

    // A minute of quiet refills the whole bucket.
    clock.advance(Duration::from_secs(60));
    assert_eq!(harness.admitted_before_refusal(PEER, "/", 10).await, 3);
}

#[tokio::test]
async fn the_ready_default_is_100_per_minute() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::default()));
    assert_eq!(harness.admitted_before_refusal(PEER, "/", 200).await, 100);
    let refused = harness.get(PEER, "/", &[]).await;
    assert_eq!(header(&refused, "retry-after"), "1", "600 ms, rounded up");
}

#[tokio::test]
async fn a_route_quota_is_its_own_bucket_and_ambiguous_paths_get_the_strictest() {
    let clock = Clock::manual(Duration::ZERO);
    let layer = layer_on(&clock, Quota::per_minute(100))
        .route(
            "login",
            PathRules::new().exact_for(Method::POST, "/login"),
            Quota::per_minute(2),
        )
        .route(
            "search",
            PathRules::new().prefix("/search"),
            Quota::per_second(5),
        );
    let harness = Harness::new(&layer);

    for _ in 0..2 {
        let reply = harness.send("POST", PEER, "/login", &[]).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(header(&reply, "ratelimit-policy"), r#""login";q=2;w=60"#);
    }
    let refused = harness.send("POST", PEER, "/login", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "30");

    // The default bucket is untouched by the login attempts.
    let other = harness.get(PEER, "/items", &[]).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "ratelimit"), r#""default";r=99;t=1"#);
    // GET /login is not the POST route.
    assert_eq!(
        harness.get(PEER, "/login", &[]).await.status(),
        StatusCode::OK
    );
    let search = harness.get(PEER, "/search/books", &[]).await;
    assert_eq!(header(&search, "ratelimit-policy"), r#""search";q=5;w=1"#);

    // A percent-encoded name under /search is still a search.
    let encoded = harness.get(PEER, "/search/caf%C3%A9", &[]).await;
    assert_eq!(header(&encoded, "ratelimit-policy"), r#""search";q=5;w=1"#);

    // Shapes a router or proxy might read as /login do not escape to the default.
    for shape in [
        "/log%69n",
        "/log%2569n",
        "//login",
        "/login/",
        "/login;x",
        "/./login",
        "/a/../login",
    ] {
        let reply = harness.send("POST", PEER, shape, &[]).await;
        assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS, "{shape}");
        assert_eq!(
            header(&reply, "ratelimit-policy"),
            r#""login";q=2;w=60"#,
            "{shape}"
        );
    }
}

#[tokio::test]
async fn exempt_paths_and_addresses_are_never_limited() {
    let clock = Clock::manual(Duration::ZERO);
    let layer = layer_on(&clock, Quota::per_minute(1))
        .exempt_paths(["/health"])
        .exempt_ips(["10.0.0.0/8".parse::<IpCidr>().unwrap()]);
    let harness = Harness::new(&layer);
    for _ in 0..5 {
        let reply = harness.get(PEER, "/health", &[]).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(reply.headers().get("ratelimit").is_none());
        assert_eq!(
            harness.get("10.9.8.7:1", "/", &[]).await.status(),
            StatusCode::OK
        );
    }
    // The exemption is exact: these are limited.
    assert_eq!(
        harness.get(PEER, "/health/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness.get(PEER, "/%68ealth", &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        harness.admitted_before_refusal("11.0.0.1:1", "/", 5).await,
        1
    );
}

#[tokio::test]
async fn ipv6_clients_share_a_bucket_per_64() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(2)));
    assert_eq!(
        harness.get("[2001:db8:1:2::1]:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness
            .get("[2001:db8:1:2:ffff:ffff:ffff:fffe]:2", "/", &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        harness
            .get("[2001:db8:1:2:abcd::9]:3", "/", &[])
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "same /64"
    );
    assert_eq!(
        harness.get("[2001:db8:1:3::1]:1", "/", &[]).await.status(),
        StatusCode::OK,
        "the next /64 has its own bucket"
    );
    // An IPv4-mapped peer is the IPv4 client.
    assert_eq!(
        harness.get("198.51.100.1:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness
            .get("[::ffff:198.51.100.1]:1", "/", &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        harness.get("198.51.100.1:2", "/", &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let per_address = Harness::new(&layer_on(&clock, Quota::per_minute(1)).ipv6_prefix(128));
    assert_eq!(
        per_address.get("[2001:db8::1]:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        per_address.get("[2001:db8::2]:1", "/", &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_forged_forwarded_header_buys_no_fresh_bucket() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(3)));
    let mut admitted = 0;
    for n in 0..50u32 {
        let forged = format!("198.18.{}.{}", n / 256, n % 256);
        let headers = [
            ("x-forwarded-for", forged.as_str()),
            ("x-real-ip", forged.as_str()),
            ("forwarded", &*format!("for={forged}")),
        ];
        if harness.get(PEER, "/", &headers).await.status() == StatusCode::OK {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 3, "the untrusted peer is one client");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_a_bucket() {
    let clock = Clock::manual(Duration::ZERO);
    let layer = layer_on(&clock, Quota::per_minute(1)).client_ip(
        ClientIpResolver::new().trusted_proxies(["10.0.0.0/8".parse::<IpCidr>().unwrap()]),
    );
    let harness = Harness::new(&layer);
    let proxy = "10.0.0.2:5000";
    for n in 1..=20 {
        let client = format!("192.0.2.{n}");
        let reply = harness
            .get(proxy, "/", &[("x-forwarded-for", &client)])
            .await;
        assert_eq!(reply.status(), StatusCode::OK, "{client}");
    }
    let again = harness
        .get(proxy, "/", &[("x-forwarded-for", "192.0.2.5")])
        .await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    // A client prepending a forged hop is still the address the proxy saw.
    let forged = harness
        .get(proxy, "/", &[("x-forwarded-for", "198.18.0.1, 192.0.2.5")])
        .await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn no_peer_address_is_a_500_never_a_shared_bucket() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(100)));
    for _ in 0..3 {
        let reply = harness
            .get("", "/", &[("x-forwarded-for", "192.0.2.1")])
            .await;
        assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.body().as_ref(),
            br#"{"error":{"message":"the server could not determine the client address","type":"server_error","code":"missing_client_address"}}"#
        );
    }
}

#[tokio::test]
async fn a_custom_key_limits_per_key_and_falls_back_to_the_address() {
    let clock = Clock::manual(Duration::ZERO);
    let layer = layer_on(&clock, Quota::per_minute(2)).key(HeaderKey::new(
        http::header::HeaderName::from_static("x-consumer"),
    ));
    let harness = Harness::new(&layer);
    // Two consumers behind one address each get their own bucket.
    for consumer in ["alice", "bob"] {
        let headers = [("x-consumer", consumer)];
        for _ in 0..2 {
            assert_eq!(
                harness.get(PEER, "/", &headers).await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            harness.get(PEER, "/", &headers).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // Without the header: the address, still untouched.
    assert_eq!(harness.admitted_before_refusal(PEER, "/", 5).await, 2);

    // A closure extractor; without a peer address its key still works.
    let by_tenant = layer_on(&clock, Quota::per_minute(1)).key(|input: &KeyInput<'_>| {
        let tenant = input.headers().get("x-tenant")?;
        Some(ClientKey::name(tenant.as_bytes().to_vec()))
    });
    let harness = Harness::new(&by_tenant);
    assert_eq!(
        harness.get("", "/", &[("x-tenant", "t1")]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness.get("", "/", &[("x-tenant", "t1")]).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        harness.get("", "/", &[]).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "no key and no address"
    );
}

#[tokio::test]
async fn header_sets_can_be_switched() {
    let clock = Clock::manual(Duration::ZERO);
    let harness =
        Harness::new(&layer_on(&clock, Quota::per_minute(1)).headers(RateLimitHeaders::None));
    let first = harness.get(PEER, "/", &[]).await;
    assert!(first.headers().get("ratelimit").is_none());
    assert!(first.headers().get("x-ratelimit-limit").is_none());
    let refused = harness.get(PEER, "/", &[]).await;
    assert_eq!(header(&refused, "retry-after"), "60");
    assert!(refused.headers().get("ratelimit").is_none());

    let legacy =
        Harness::new(&layer_on(&clock, Quota::per_minute(1)).headers(RateLimitHeaders::Legacy));
    let reply = legacy.get(PEER, "/", &[]).await;
    assert!(reply.headers().get("ratelimit").is_none());
    assert_eq!(header(&reply, "x-ratelimit-remaining"), "0");
}

#[tokio::test]
async fn idle_clients_are_swept_and_the_count_falls_back() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .sweep_interval(Duration::from_secs(10))
        .build();
    let layer = RateLimitLayer::with_store(store, Quota::per_second(10));
    let harness = Harness::new(&layer);
    for n in 0..5_000u32 {
        let peer = format!("{}:1", std::net::Ipv4Addr::from(0x0a00_0000 + n));
        assert_eq!(harness.get(&peer, "/", &[]).await.status(), StatusCode::OK);
    }
    assert_eq!(layer.store().tracked_keys(), 5_000);
    // Past both the refill time (1 s) and the sweep interval: the next request
    // sweeps, and only its own client stays tracked.
    clock.advance(Duration::from_secs(11));
    assert_eq!(harness.get(PEER, "/", &[]).await.status(), StatusCode::OK);
    assert_eq!(layer.store().tracked_keys(), 1);
}

#[tokio::test]
async fn configuration_mistakes_are_refused() {
    let base = RateLimitLayer::new(Quota::per_minute(10));
    assert!(
        base.clone()
            .try_route("default", PathRules::new(), Quota::per_minute(1))
            .is_err()
    );
    assert!(
        base.clone()
            .try_route("bad name", PathRules::new(), Quota::per_minute(1))
            .is_err()
    );
    let once = base
        .try_route("login", PathRules::new(), Quota::per_minute(1))
        .unwrap();
    assert!(
        once.try_route("login", PathRules::new(), Quota::per_minute(1))
            .is_err()
    );
}

#[tokio::test]
async fn a_quiet_policy_is_swept_too_and_frees_room_for_everyone() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(2)
        .build();
    let layer = RateLimitLayer::with_store(store, Quota::per_minute(100)).route(
        "slow",
        PathRules::new().exact("/slow"),
        Quota::per_hour(1),
    );
    let harness = Harness::new(&layer);
    assert_eq!(
        harness.get("192.0.2.1:1", "/slow", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness.get("192.0.2.2:1", "/slow", &[]).await.status(),
        StatusCode::OK
    );
    let full = harness.get("192.0.2.3:1", "/", &[]).await;
    assert_eq!(
        full.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the store is full"
    );
    // Nobody asks for /slow again; its buckets refill within the hour.
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(
        harness.get("192.0.2.3:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(layer.store().tracked_keys(), 1);
}

/// Issue 13, item 10: at the client cap, `Retry-After` and the `RateLimit`
/// field say when a newcomer can in fact be admitted (when the earliest
/// tracked bucket is full again), not a second that is refused again.
#[tokio::test]
async fn a_refusal_at_the_client_cap_tells_the_true_wait() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(3)
        .build();
    let layer = RateLimitLayer::with_store(store, Quota::per_hour(2));
    let harness = Harness::new(&layer);
    // Sprayed clients, each one request: their buckets are full again 1800 s later.
    for (n, at) in [(1, 0), (2, 100), (3, 200)] {
        clock.advance(Duration::from_secs(at) - clock_secs(&clock));
        let peer = format!("192.0.2.{n}:1");
        assert_eq!(harness.get(&peer, "/", &[]).await.status(), StatusCode::OK);
    }
    let refused = harness.get("198.51.100.1:1", "/", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // 1800 s after the first spray request, 200 s later now.
    assert_eq!(header(&refused, "retry-after"), "1600");
    assert_eq!(header(&refused, "ratelimit"), r#""default";r=0;t=1600"#);
    // Asking again a second before that time is refused, and told the rest.
    clock.advance(Duration::from_secs(1599));
    let early = harness.get("198.51.100.1:1", "/", &[]).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&early, "retry-after"), "1");
    // At the time it was told, it is admitted.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        harness.get("198.51.100.1:1", "/", &[]).await.status(),
        StatusCode::OK
    );
}

fn clock_secs(clock: &Clock) -> Duration {
    clock.elapsed()
}

#[tokio::test]
async fn layers_on_one_store_share_a_policy_and_a_dropped_one_frees_its_keys() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(3)
        .build();
    let first = RateLimitLayer::with_store(store.clone(), Quota::per_minute(1));
    let second = RateLimitLayer::with_store(store.clone(), Quota::per_minute(1));
    assert_eq!(
        Harness::new(&first).get(PEER, "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        Harness::new(&second).get(PEER, "/", &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one policy name and quota, one bucket"
    );
    // A layer with its own policy, dropped: its clients stop counting.
    let other = RateLimitLayer::with_store(store.clone(), Quota::per_minute(1))
        .default_policy_name("other");
    let harness = Harness::new(&other);
    assert_eq!(
        harness.get("192.0.2.7:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        harness.get("192.0.2.8:1", "/", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(store.tracked_keys(), 3);
    drop(harness);
    drop(other);
    assert_eq!(store.tracked_keys(), 1);
}

#[tokio::test]
async fn a_6to4_host_is_one_client() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(1)));
    assert_eq!(
        harness
            .get("[2002:c000:0201:1::1]:1", "/", &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        harness
            .get("[2002:c000:0201:2::1]:1", "/", &[])
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "another /64 of the same 6to4 host"
    );
    assert_eq!(
        harness.get("192.0.2.1:1", "/", &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the IPv4 host itself"
    );
}

/// Issue 13, item 9: NAT64, IPv4-compatible and Teredo addresses put every
/// IPv4 client behind one IPv6 prefix; each is keyed by its own IPv4 address.
#[tokio::test]
async fn ipv6_forms_that_embed_ipv4_are_keyed_by_their_ipv4_client() {
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(1)));
    // Two NAT64 clients in one /64: two buckets.
    for peer in ["[64:ff9b::c000:201]:1", "[64:ff9b::c000:202]:1"] {
        assert_eq!(
            harness.get(peer, "/", &[]).await.status(),
            StatusCode::OK,
            "{peer}"
        );
    }
    // The same IPv4 client in its other forms shares its bucket.
    for peer in [
        "[64:ff9b::c000:201]:2",
        "[::192.0.2.1]:1",
        "192.0.2.1:1",
        // Teredo: the client address is the low 32 bits inverted.
        "[2001:0:4136:e378:8000:63bf:3fff:fdfe]:1",
    ] {
        assert_eq!(
            harness.get(peer, "/", &[]).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{peer} is 192.0.2.1"
        );
    }
    // Another Teredo client (192.0.2.3) behind the same relay has its own bucket.
    assert_eq!(
        harness
            .get("[2001:0:4136:e378:8000:63bf:3fff:fdfc]:1", "/", &[])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_limit_fields_describe_the_bucket() {
    // per_minute(5).burst(2): two at once, then one every 12 s; the bucket
    // refills in 24 s.
    let clock = Clock::manual(Duration::ZERO);
    let harness = Harness::new(&layer_on(&clock, Quota::per_minute(5).burst(2)));
    let reply = harness.get(PEER, "/", &[]).await;
    assert_eq!(header(&reply, "ratelimit-policy"), r#""default";q=2;w=24"#);
    assert_eq!(header(&reply, "x-ratelimit-limit"), "2");
    assert_eq!(header(&reply, "x-ratelimit-remaining"), "1");
    assert_eq!(header(&reply, "ratelimit"), r#""default";r=1;t=12"#);
}

/// The attacker's review of the fix above: under churn some tracked bucket is
/// always about to be full again; a stream of newcomers to a full store must
/// not make every request a walk of the whole store.
#[tokio::test]
async fn newcomers_to_a_full_store_do_not_each_trigger_a_sweep() {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(50)
        .sweep_interval(Duration::from_secs(3600))
        .build();
    let layer = RateLimitLayer::with_store(store, Quota::per_second(1000).burst(1));
    let harness = Harness::new(&layer);
    // Fill the store; every bucket is full again 1 ms after its request.
    for n in 0..50u32 {
        let peer = format!("10.0.{}.{}:1", n / 200, n % 200 + 1);
        assert_eq!(harness.get(&peer, "/", &[]).await.status(), StatusCode::OK);
    }
    clock.advance(Duration::from_millis(10));
    // A stream of newcomers within one second: the first sweep makes room for
    // 50 of them (every bucket is full again); after that the store is full of
    // fresh buckets, and the next sweep for room waits for the next second.
    let mut admitted = 0;
    for n in 0..200u32 {
        clock.advance(Duration::from_micros(100));
        let peer = format!("10.1.{}.{}:1", n / 200, n % 200 + 1);
        if harness.get(&peer, "/", &[]).await.status() == StatusCode::OK {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 50, "one sweep for room within the second");
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        harness.get("10.2.0.1:1", "/", &[]).await.status(),
        StatusCode::OK,
        "the next second sweeps again"
    );
}
