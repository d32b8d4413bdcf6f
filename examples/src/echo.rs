//! `echo.v1.Echo`, written by hand (prost messages, a tonic server and client)
//! so that nothing needs a system `protoc`:
//!
//! ```proto
//! syntax = "proto3";
//! package echo.v1;
//! service Echo { rpc Say(SayRequest) returns (SayReply); }
//! message SayRequest { string message = 1; }
//! message SayReply { string message = 1; string key = 2; }   // key = authenticated key name
//! ```

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tower::Service;
use tower_claude_auth::Authenticated;

/// `echo.v1.SayRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SayRequest {
    /// What to echo.
    #[prost(string, tag = "1")]
    pub message: String,
}

/// `echo.v1.SayReply`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SayReply {
    /// The message, echoed.
    #[prost(string, tag = "1")]
    pub message: String,
    /// The name of the key that authenticated the call.
    #[prost(string, tag = "2")]
    pub key: String,
}

/// The full name of the service.
pub const SERVICE_NAME: &str = "echo.v1.Echo";
/// The path of `Say`.
pub const SAY_PATH: &str = "/echo.v1.Echo/Say";

/// The `echo.v1.Echo` server.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = SERVICE_NAME;
}

#[derive(Debug, Clone, Copy)]
struct Say;

impl UnaryService<SayRequest> for Say {
    type Response = SayReply;
    type Future = BoxFuture<tonic::Response<SayReply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<SayRequest>) -> Self::Future {
        Box::pin(async move {
            let key = request
                .extensions()
                .get::<Authenticated>()
                .map(|who| who.key.to_string())
                .unwrap_or_default();
            let message = request.into_inner().message;
            Ok(tonic::Response::new(SayReply { message, key }))
        })
    }
}

impl<B> Service<http::Request<B>> for EchoServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() == SAY_PATH {
            return Box::pin(async move {
                let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(Say, request).await)
            });
        }
        Box::pin(async move { Ok(tonic::Status::unimplemented("no such method").into_http()) })
    }
}

/// A client of `echo.v1.Echo`.
#[derive(Debug, Clone)]
pub struct EchoClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl EchoClient<tonic::transport::Channel> {
    /// Connects to `endpoint` (`http://host:port`).
    ///
    /// # Errors
    /// When the endpoint is invalid or refuses the connection.
    pub async fn connect(endpoint: String) -> Result<Self, tonic::transport::Error> {
        let channel = tonic::transport::Endpoint::from_shared(endpoint)?
            .connect()
            .await?;
        Ok(Self::new(channel))
    }
}

impl<T> EchoClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// A client over `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    /// Calls `Say`.
    ///
    /// # Errors
    /// The status the server answered.
    pub async fn say(
        &mut self,
        request: impl tonic::IntoRequest<SayRequest>,
    ) -> Result<tonic::Response<SayReply>, tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("not ready: {}", e.into())))?;
        let path = http::uri::PathAndQuery::from_static(SAY_PATH);
        self.inner
            .unary(
                request.into_request(),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
    }
}
