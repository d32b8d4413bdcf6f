//! The response future of [`BearerAuth`](crate::BearerAuth).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tower_claude_core::ResponseBody;

type BoxResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

pin_project! {
    /// The future of a request through [`BearerAuth`](crate::BearerAuth). No
    /// allocation when the verdict is known at once (public path, missing or
    /// malformed header, plaintext or SHA-256 key, cached bcrypt verdict); one box
    /// when it must wait for bcrypt or a custom verifier.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F },
        // Boxed: a refusal is the rare path, and a small future is cheaper to
        // move on the common one.
        Refused { response: Option<Box<Response<ResponseBody<B>>>> },
        Verifying { future: BoxResponseFuture<B, E> },
        // A CORS preflight passed on: only an answer from a CORS layer (one
        // carrying `Access-Control-Allow-Origin`) goes back; anything else the
        // service said is replaced by the refusal a tokenless request gets.
        Preflight { #[pin] future: F, refused: Option<Box<Response<ResponseBody<B>>>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn refused(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(crate) fn preflight(future: F, refused: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Preflight {
                future,
                refused: Some(Box::new(refused)),
            },
        }
    }

    pub(crate) fn verifying(future: BoxResponseFuture<B, E>) -> Self {
        Self {
            kind: Kind::Verifying { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => match future.poll(cx) {
                Poll::Ready(result) => Poll::Ready(result.map(|r| r.map(ResponseBody::inner))),
                Poll::Pending => Poll::Pending,
            },
            // Polled again after completion: the contract allows never finishing.
            KindProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                None => Poll::Pending,
            },
            KindProj::Verifying { future } => future.as_mut().poll(cx),
            KindProj::Preflight { future, refused } => {
                let response = match future.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Pending,
                };
                let answered_by_cors = response
                    .headers()
                    .contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN);
                match refused.take() {
                    Some(refusal) if !answered_by_cors => Poll::Ready(Ok(*refusal)),
                    _ => Poll::Ready(Ok(response.map(ResponseBody::inner))),
                }
            }
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Refused { .. } => "refused",
            Kind::Verifying { .. } => "verifying",
            Kind::Preflight { .. } => "preflight",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
