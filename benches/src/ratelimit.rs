//! Rate-limit scenarios: ours against tower_governor 0.8 and axum-governor 2,
//! with the same quota, one client and a million.
//!
//! The quota (a billion per second, bursts of 100) admits every request of a
//! run, so each scenario measures the admitted path, the one almost all traffic
//! takes, with the small `remaining` counts real quotas show.

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::extract::ConnectInfo;
use http::Request;
use tower::{Layer, ServiceExt, service_fn};
use tower_claude_ratelimit::{Quota, RateLimitHeaders, RateLimitLayer};

use crate::{BenchService, Body, bare, drive, finish};

/// The scenarios, by name. The governor crates wrap a service answering with
/// axum's body: compare them with `baseline-axum-body`, ours with `baseline`.
pub const SCENARIOS: [&str; 10] = [
    "baseline",
    "baseline-axum-body",
    "tower-governor",
    "tower-governor-headers",
    "axum-governor",
    "ours-no-headers",
    "ours-ietf",
    "ours",
    "tower-governor-1m-keys",
    "ours-1m-keys",
];

const RATE: u32 = 1_000_000_000;
const BURST: u32 = 100;
const MILLION: u32 = 1_000_000;
const ONE_CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

/// The next of a million client addresses, round and round.
fn many_clients() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % MILLION;
    Ipv4Addr::from(0x0a00_0000 + n)
}

/// A request carrying axum's connect info, which every layer here reads.
pub fn scenario_request(scenario: &str) -> Request<Body> {
    let ip = if scenario.ends_with("-1m-keys") {
        many_clients()
    } else {
        ONE_CLIENT
    };
    request_from(ip)
}

/// A request from `ip`, carrying axum's connect info.
pub fn request_from(ip: Ipv4Addr) -> Request<Body> {
    let mut request = Request::get("/items").body(Body::default()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    request
}

pub(crate) fn ours(headers: RateLimitHeaders) -> RateLimitLayer {
    RateLimitLayer::per_ip(Quota::per_second(RATE).burst(BURST)).headers(headers)
}

pub(crate) fn tower_governor_config<M>(
    builder: &mut tower_governor::governor::GovernorConfigBuilder<
        tower_governor::key_extractor::PeerIpKeyExtractor,
        M,
    >,
) -> tower_governor::governor::GovernorConfig<tower_governor::key_extractor::PeerIpKeyExtractor, M>
where
    M: governor::middleware::RateLimitingMiddleware<governor::clock::QuantaInstant>,
{
    builder
        .per_nanosecond(1)
        .burst_size(BURST)
        .finish()
        .expect("a valid tower_governor quota")
}

/// The bare service answering with axum's body, which both governor crates
/// require of the service they wrap; `baseline-axum-body` is their baseline.
pub(crate) fn axum_body<S>(
    inner: S,
) -> impl tower::Service<
    Request<Body>,
    Response = http::Response<axum::body::Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static
where
    S: tower::Service<
            Request<Body>,
            Response = http::Response<Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
{
    inner.map_response(|r| r.map(axum::body::Body::new))
}

/// A service for `scenario`, its buckets filled first for the `-1m-keys` ones.
pub async fn service(scenario: &str) -> BenchService {
    let inner = service_fn(bare);
    let mut service = match scenario {
        "baseline" => finish(inner),
        "baseline-axum-body" => finish(axum_body(inner)),
        "tower-governor" | "tower-governor-1m-keys" => {
            let config = tower_governor_config(
                &mut tower_governor::governor::GovernorConfigBuilder::default(),
            );
            finish(tower_governor::GovernorLayer::new(config).layer(axum_body(inner)))
        }
        "tower-governor-headers" => {
            let config = tower_governor_config(
                &mut tower_governor::governor::GovernorConfigBuilder::default().use_headers(),
            );
            finish(tower_governor::GovernorLayer::new(config).layer(axum_body(inner)))
        }
        "axum-governor" => {
            let rate = NonZeroU32::new(RATE).expect("non-zero");
            let burst = NonZeroU32::new(BURST).expect("non-zero");
            let config = axum_governor::GovernorConfigBuilder::default()
                .with_extractor(axum_governor::PeerIp::default())
                .expect_connect_info()
                .quota_default(axum_governor::Quota::requests_per_second(rate).burst(burst))
                .finish()
                .expect("a valid axum-governor config");
            finish(axum_governor::GovernorLayer::new(config).layer(axum_body(inner)))
        }
        "ours-no-headers" => finish(ours(RateLimitHeaders::None).layer(inner)),
        "ours-ietf" => finish(ours(RateLimitHeaders::Ietf).layer(inner)),
        "ours" | "ours-1m-keys" => finish(ours(RateLimitHeaders::Both).layer(inner)),
        other => panic!("unknown scenario {other}; known: {SCENARIOS:?}"),
    };
    if scenario.ends_with("-1m-keys") {
        for n in 0..MILLION {
            let ip = Ipv4Addr::from(0x0a00_0000 + n);
            drive(&mut service, request_from(ip)).await;
        }
    }
    service
}
