//! A deadline per request, answered in the request's own protocol.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{Service, ServiceExt};
use tower_claude_core::{GrpcStatus, Rejection, RequestHead, ResponseBody, SharedResponder};

/// `service` with a deadline per request: past it the client gets 503 (gRPC:
/// `DEADLINE_EXCEEDED`) and the handler's work is dropped.
pub(super) fn deadline<S, ReqB, B>(
    service: S,
    timeout: Duration,
) -> impl Service<
    Request<ReqB>,
    Response = Response<ResponseBody<B>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<ResponseBody<B>>, Infallible>> + Send,
> + Clone
+ Send
+ 'static
where
    S: Service<Request<ReqB>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    B: Send + 'static,
{
    let responder = SharedResponder::default();
    tower::service_fn(move |request: Request<ReqB>| {
        let head = (
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
            request.version(),
        );
        let call = service.clone().oneshot(request);
        let responder = responder.clone();
        async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(response)) => Ok(response.map(ResponseBody::inner)),
                Ok(Err(never)) => match never {},
                Err(_) => {
                    let (method, uri, headers, version) = &head;
                    let rejection = Rejection::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        GrpcStatus::DeadlineExceeded,
                        "timeout_error",
                        "request_timeout",
                        format!(
                            "the request was not answered within {} s",
                            timeout.as_secs()
                        ),
                    );
                    let head = RequestHead::new(method, uri, headers).with_version(*version);
                    Ok(responder.respond(&head, &rejection))
                }
            }
        }
    })
}
