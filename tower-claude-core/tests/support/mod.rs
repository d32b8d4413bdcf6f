//! A minimal layer built only from the core's parts, standing in for the real
//! layers: it resolves the client address, lets a request through when it carries
//! `x-let-me-in: yes` (reporting the address it saw in `x-client-ip`), and refuses
//! it otherwise with the core's rejection.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
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
