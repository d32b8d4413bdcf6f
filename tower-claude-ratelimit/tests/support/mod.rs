//! An in-process harness: the layer around a handler, requests from chosen peers.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_claude_core::PeerAddr;
use tower_claude_ratelimit::{RateLimitLayer, RateLimitStore};

pub type Reply = Response<bytes::Bytes>;

type Handler = fn(Request<String>) -> std::future::Ready<Result<Response<String>, Infallible>>;

/// Sends requests through `layer` around a handler that answers 200 "ok".
pub struct Harness<St: RateLimitStore> {
    service: tower_claude_ratelimit::RateLimit<tower::util::ServiceFn<Handler>, St>,
}

fn ok(_request: Request<String>) -> std::future::Ready<Result<Response<String>, Infallible>> {
    std::future::ready(Ok(Response::new("ok".to_owned())))
}

impl<St: RateLimitStore> Harness<St> {
    pub fn new(layer: &RateLimitLayer<St>) -> Self {
        let handler: Handler = ok;
        Self {
            service: layer.layer(service_fn(handler)),
        }
    }

    /// `GET path` from `peer` with `headers`.
    pub async fn get(&self, peer: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", peer, path, headers).await
    }

    pub async fn send(
        &self,
        method: &str,
        peer: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let peer = (!peer.is_empty()).then(|| peer.parse().expect("peer socket address"));
        self.send_from(method, peer, path, headers).await
    }

    /// `GET /` from `peer`, status only.
    pub async fn status_from(&self, peer: SocketAddr) -> StatusCode {
        self.send_from("GET", Some(peer), "/", &[]).await.status()
    }

    pub async fn send_from(
        &self,
        method: &str,
        peer: Option<SocketAddr>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(addr) = peer {
            builder = builder.extension(PeerAddr(addr));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(String::new()).unwrap();
        let mut service = self.service.clone();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Response::from_parts(parts, body)
    }

    /// Sends `GET path` from `peer` until the first refusal; returns how many passed.
    pub async fn admitted_before_refusal(&self, peer: &str, path: &str, cap: usize) -> usize {
        for n in 0..cap {
            if self.get(peer, path, &[]).await.status() == StatusCode::TOO_MANY_REQUESTS {
                return n;
            }
        }
        cap
    }
}

pub fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", reply.headers()))
        .to_str()
        .unwrap()
}
