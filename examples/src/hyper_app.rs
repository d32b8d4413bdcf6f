//! The same stack on a plain hyper 1 server (no axum), with the core's
//! peer-address helper.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::ServiceBuilder;
use tower_claude_auth::Authenticated;

use crate::stack::{HEALTH_PATHS, Stack};

/// The application without a framework: health routes and `GET /api/whoami`.
pub async fn app(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let (status, body) = if HEALTH_PATHS.contains(&path) {
        (StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
    } else if path == "/api/whoami" {
        let key = request
            .extensions()
            .get::<Authenticated>()
            .map(|who| who.key.to_string())
            .unwrap_or_default();
        (
            StatusCode::OK,
            serde_json::json!({ "key": key }).to_string(),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            r#"{"error":{"message":"no such route","type":"not_found","code":"not_found"}}"#
                .to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Serves the stack on plain hyper until the process stops, with the limits
/// of [`crate::serve`]: the loop inserts each connection's peer address.
pub async fn serve(stack: Stack, listener: tokio::net::TcpListener) {
    let service = ServiceBuilder::new()
        .layer(stack.headers.clone())
        .layer(stack.ratelimit.clone())
        .layer(stack.auth.clone())
        .service_fn(app);
    crate::serve::serve(
        listener,
        service,
        crate::serve::Limits::default(),
        std::future::pending(),
    )
    .await;
}
