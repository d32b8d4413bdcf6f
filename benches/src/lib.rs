//! Benchmark scenarios shared by the criterion benches (`benches/`) and the
//! instruction counter (`src/bin/instructions.rs`), so that both measure exactly
//! the same services.
//!
//! Each scenario is a layer around a bare `service_fn`, driven as a server drives
//! it: `ready()` then `call()` with a fresh request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;

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
