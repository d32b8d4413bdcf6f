//! A minimal layer built only from the core's parts, standing in for the real
//! layers: it resolves the client address, lets a request through when it carries
//! `x-let-me-in: yes` (reporting the address it saw in `x-client-ip`), and refuses
//! it otherwise with the core's rejection.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tower_claude_core::{ClientIpResolver, Rejection, ResponseBody, SharedResponder};

#[derive(Clone, Debug, Default)]
pub struct GateLayer {
    pub resolver: ClientIpResolver,
    pub responder: SharedResponder,
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;
    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Gate<S> {
    inner: S,
    layer: GateLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Gate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let client = match self.layer.resolver.resolve(req.headers(), req.extensions()) {
            Ok(ip) => ip,
            Err(missing) => {
                let response = self
                    .layer
                    .responder
                    .respond_to(&req, &missing.report("gate"));
                return Box::pin(async move { Ok(response) });
            }
        };
        if req.headers().get("x-let-me-in").map(HeaderValue::as_bytes) != Some(b"yes") {
            let rejection = Rejection::unauthenticated("missing_token", "you shall not pass")
                .with_header(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="test""#),
                );
            let response = self.layer.responder.respond_to(&req, &rejection);
            return Box::pin(async move { Ok(response) });
        }
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut response = future.await?.map(ResponseBody::inner);
            if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
                response.headers_mut().insert("x-client-ip", value);
            }
            Ok(response)
        })
    }
}

/// Binds a free loopback port.
pub async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A plain HTTP/1 client over a real socket.
pub fn http_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// Sends a GET with the given headers and returns status, headers and body text.
pub async fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap, String) {
    use http_body_util::BodyExt;
    let mut builder = Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(http_body_util::Full::default()).unwrap();
    let response = http_client().request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}
