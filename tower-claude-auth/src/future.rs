//! The response future of [`BearerAuth`](crate::BearerAuth).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tower_claude_core::{BoxResponseFuture, LayerAnswer, ResponseBody};

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
        // `private`: the response of an authenticated request, which no
        // shared cache may keep unless the handler said otherwise.
        Inner { #[pin] future: F, private: bool },
        // A refusal, or the wait for bcrypt or a custom verifier.
        Answer { answer: LayerAnswer<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    /// A public request's response, untouched.
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner {
                future,
                private: false,
            },
        }
    }

    /// An authenticated request's response: `Cache-Control: no-store,
    /// max-age=0` unless the handler set its own.
    pub(crate) fn authenticated(future: F) -> Self {
        Self {
            kind: Kind::Inner {
                future,
                private: true,
            },
        }
    }

    pub(crate) fn refused(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Answer {
                answer: LayerAnswer::ready(response),
            },
        }
    }

    pub(crate) fn verifying(future: BoxResponseFuture<B, E>) -> Self {
        Self {
            kind: Kind::Answer {
                answer: LayerAnswer::pending(future),
            },
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
            KindProj::Inner { future, private } => match future.poll(cx) {
                Poll::Ready(Ok(mut response)) => {
                    if *private {
                        mark_private(&mut response);
                    }
                    Poll::Ready(Ok(response.map(ResponseBody::inner)))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            KindProj::Answer { answer } => Pin::new(answer).poll(cx),
        }
    }
}

/// `Cache-Control: no-store, max-age=0` (the OWASP Secure Headers Project's
/// value) on an authenticated response that has none: a shared cache must not
/// hand one user's answer to another.
pub(crate) fn mark_private<B>(response: &mut Response<B>) {
    response
        .headers_mut()
        .entry(http::header::CACHE_CONTROL)
        .or_insert(http::HeaderValue::from_static("no-store, max-age=0"));
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ResponseFuture(inner)"),
            Kind::Answer { answer } => f.debug_tuple("ResponseFuture").field(answer).finish(),
        }
    }
}
