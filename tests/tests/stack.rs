//! All the layers together on axum, tonic and plain hyper, over real sockets.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower_claude_examples::config::{Rate, RedisOnFailure, ServerArgs};
use tower_claude_examples::echo::{EchoClient, SayRequest};
use tower_claude_examples::grpc::PUBLIC_RPCS;
use tower_claude_examples::stack::Stack;
use tower_claude_examples::web::reference_app;
use tower_claude_testkit::{get, listener, serve_axum};

fn args(per_minute: u32) -> ServerArgs {
    ServerArgs {
        bind: None,
        password_hash: None,
        password: Some("the-token".into()),
        rate_limit: Rate {
            count: per_minute,
            per: Duration::from_secs(60),
        },
        burst: None,
        max_clients: 1_000_000,
        trusted_proxies: Vec::new(),
        webhook_secret: None,
        webhook_url: None,
        allow_insecure_webhooks: false,
        notify_budget: Duration::from_secs(5),
        redis_urls: Vec::new(),
        redis_on_failure: RedisOnFailure::Fallback,
    }
}

const SECURITY_HEADERS: [&str; 4] = [
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
];

#[tokio::test]
async fn axum_refusals_from_auth_and_ratelimit_carry_the_security_headers() {
    let app = reference_app(&args(3)).unwrap();
    let addr = serve_axum(app.router).await;
    let missing = get(addr, "/api/whoami", &[]).await;
    let wrong = get(addr, "/api/whoami", &[("authorization", "Bearer wrong")]).await;
    let ok = get(
        addr,
        "/api/whoami",
        &[("authorization", "Bearer the-token")],
    )
    .await;
    let limited = get(
        addr,
        "/api/whoami",
        &[("authorization", "Bearer the-token")],
    )
    .await;
    for (reply, status) in [
        (&missing, StatusCode::UNAUTHORIZED),
        (&wrong, StatusCode::FORBIDDEN),
        (&ok, StatusCode::OK),
        (&limited, StatusCode::TOO_MANY_REQUESTS),
    ] {
        assert_eq!(reply.status, status, "{}", reply.body);
        for header in SECURITY_HEADERS {
            assert!(reply.headers.contains_key(header), "{status}: no {header}");
        }
        assert!(
            reply.headers.contains_key("ratelimit"),
            "{status}: no RateLimit field"
        );
    }
    assert_eq!(limited.headers["retry-after"], "20");
}

/// `--max-clients` caps the clients the rate limiter tracks: with room for
/// two, a third address is refused (429) while the two tracked ones keep
/// their own quota, so a spray of new addresses cannot evict a limited client.
#[tokio::test]
async fn max_clients_caps_tracked_clients_without_evicting_them() {
    let mut args = args(2);
    args.max_clients = 2;
    args.trusted_proxies = tower_claude_core::IpCidr::loopback().to_vec();
    let addr = serve_axum(reference_app(&args).unwrap().router).await;
    let from = |ip: &'static str| {
        [
            ("x-forwarded-for", ip),
            ("authorization", "Bearer the-token"),
        ]
    };
    let whoami = async |ip| get(addr, "/api/whoami", &from(ip)).await.status;
    assert_eq!(whoami("192.0.2.1").await, StatusCode::OK);
    assert_eq!(whoami("192.0.2.1").await, StatusCode::OK);
    assert_eq!(whoami("192.0.2.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(whoami("192.0.2.2").await, StatusCode::OK);
    // The store is full: a newcomer waits, and the limited client stays limited.
    assert_eq!(whoami("192.0.2.3").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(whoami("192.0.2.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(whoami("192.0.2.2").await, StatusCode::OK);
}

/// `--redis-on-failure`: with Redis unreachable, `refuse` answers 503 with
/// `Retry-After` and `allow` admits past the quota; `fallback` (the default)
/// keeps limiting in memory.
#[tokio::test]
async fn redis_on_failure_picks_what_happens_while_redis_is_down() {
    let down = format!(
        "redis://127.0.0.1:{}/",
        tower_claude_testkit::redis::free_port()
    );
    let mut answers = Vec::new();
    for policy in [
        RedisOnFailure::Refuse,
        RedisOnFailure::Allow,
        RedisOnFailure::Fallback,
    ] {
        let mut args = args(2);
        args.redis_urls = vec![down.clone()];
        args.redis_on_failure = policy;
        let addr = serve_axum(reference_app(&args).unwrap().router).await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(get(addr, "/docs", &[]).await);
        }
        answers.push(statuses);
    }
    let status = |policy: usize, n: usize| answers[policy][n].status;
    assert_eq!(status(0, 0), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answers[0][0].headers.contains_key("retry-after"));
    assert_eq!(
        (status(1, 0), status(1, 1), status(1, 2)),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        (status(2, 0), status(2, 1), status(2, 2)),
        (
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        )
    );
}

/// Issue 13, item 15: an authenticated answer and every refusal carry
/// `Cache-Control: no-store, max-age=0`; a public route is left to its handler.
#[tokio::test]
async fn authenticated_answers_and_refusals_are_not_cacheable() {
    let app = reference_app(&args(3)).unwrap();
    let addr = serve_axum(app.router).await;
    let token = [("authorization", "Bearer the-token")];
    let replies = [
        (
            get(addr, "/api/whoami", &[]).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            get(addr, "/api/whoami", &[("authorization", "Bearer wrong")]).await,
            StatusCode::FORBIDDEN,
        ),
        (get(addr, "/api/whoami", &token).await, StatusCode::OK),
        (
            get(addr, "/api/whoami", &token).await,
            StatusCode::TOO_MANY_REQUESTS,
        ),
    ];
    for (reply, status) in &replies {
        assert_eq!(reply.status, *status, "{}", reply.body);
        assert_eq!(
            reply
                .headers
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store, max-age=0"),
            "{status}"
        );
    }
    let public = get(addr, "/health", &[]).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.headers.get("cache-control"), None);
}

#[tokio::test]
async fn a_flood_of_wrong_tokens_reaches_429_and_stops_costing_bcrypt() {
    let mut config = args(10);
    config.password = None;
    config.password_hash = Some(bcrypt::hash("right-token", 4).unwrap());
    let app = reference_app(&config).unwrap();
    let keys = app.stack.keys.clone();
    let addr = serve_axum(app.router).await;
    let mut statuses = Vec::new();
    for n in 0..40 {
        let token = format!("Bearer wrong-{n}");
        statuses.push(
            get(addr, "/api/whoami", &[("authorization", &token)])
                .await
                .status,
        );
    }
    let forbidden = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((forbidden, limited), (10, 30), "{statuses:?}");
    assert_eq!(
        keys.stats().runs,
        10,
        "no bcrypt run once the bucket is empty"
    );
    // The health checks still answer.
    assert_eq!(get(addr, "/health", &[]).await.status, StatusCode::OK);
}

async fn grpc_server(per_minute: u32) -> String {
    let stack = Stack::new(&args(per_minute), &PUBLIC_RPCS).unwrap();
    let (listener, addr): (_, SocketAddr) = listener().await;
    tokio::spawn(tower_claude_examples::grpc::serve(
        stack,
        listener,
        None,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn tonic_clients_get_grpc_statuses() {
    let endpoint = grpc_server(100).await;
    let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let serving = health.check(HealthCheckRequest::default()).await.unwrap();
    assert_eq!(
        serving.into_inner().status,
        1,
        "health check needs no token"
    );

    let mut echo = EchoClient::connect(endpoint).await.unwrap();
    let say = || SayRequest {
        message: "hello".into(),
    };
    let missing = echo.say(say()).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    let wrong = echo.say(with_token(say(), "wrong")).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
    let reply = echo
        .say(with_token(say(), "the-token"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.message.as_str(), reply.key.as_str()),
        ("hello", "default")
    );
}

#[tokio::test]
async fn tonic_clients_see_resource_exhausted() {
    let endpoint = grpc_server(3).await;
    let mut echo = EchoClient::connect(endpoint).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..5 {
        let request = with_token(
            SayRequest {
                message: "x".into(),
            },
            "the-token",
        );
        codes.push(echo.say(request).await.err().map(|status| status.code()));
    }
    assert_eq!(
        codes,
        [
            None,
            None,
            None,
            Some(Code::ResourceExhausted),
            Some(Code::ResourceExhausted)
        ]
    );
}

#[tokio::test]
async fn the_same_stack_on_plain_hyper() {
    let stack = Stack::new(&args(3), &[]).unwrap();
    let (listener, addr) = listener().await;
    tokio::spawn(tower_claude_examples::hyper_app::serve(stack, listener));
    assert_eq!(get(addr, "/health", &[]).await.status, StatusCode::OK);
    let missing = get(addr, "/api/whoami", &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.headers.contains_key("x-frame-options"));
    let ok = get(
        addr,
        "/api/whoami",
        &[("authorization", "Bearer the-token")],
    )
    .await;
    assert_eq!(
        (ok.status, ok.body.as_str()),
        (StatusCode::OK, r#"{"key":"default"}"#)
    );
    let _ = get(
        addr,
        "/api/whoami",
        &[("authorization", "Bearer the-token")],
    )
    .await;
    let limited = get(
        addr,
        "/api/whoami",
        &[("authorization", "Bearer the-token")],
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "20");
}
