//! Benchmark scenarios shared by the criterion benches (`benches/`) and the
//! instruction counter (`src/bin/instructions.rs`), so that both measure exactly
//! the same services.
//!
//! Each scenario is a layer around a bare `service_fn`, driven as a server drives
//! it: `ready()` then `call()` with a fresh request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod headers;
pub mod oauth;
pub mod ratelimit;
pub mod redis_store;
pub mod stack;
pub mod webhook;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

/// The request body every scenario uses.
pub type Body = Full<Bytes>;

/// The innermost service: answers 200 with an empty body.
pub async fn bare(_request: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::default()))
}

/// A scenario's service, boxed so every scenario has one type. Boxing costs
/// every scenario the same, baseline included.
pub type BenchService = tower::util::BoxService<Request<Body>, Response<()>, Infallible>;

/// Boxes `service`, dropping the response body (its headers are already set).
pub fn finish<S, B>(service: S) -> BenchService
where
    S: tower::Service<Request<Body>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    use tower::ServiceExt;
    service.map_response(|r| r.map(|_| ())).boxed()
}

/// One request through a boxed scenario.
pub async fn run(service: &mut BenchService, request: Request<Body>) -> Response<()> {
    use tower::{Service, ServiceExt};
    service.ready().await.unwrap().call(request).await.unwrap()
}

/// Drives one request through `service`.
pub async fn drive<S, B>(service: &mut S, request: Request<Body>) -> http::StatusCode
where
    S: tower::Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    response.status()
}
