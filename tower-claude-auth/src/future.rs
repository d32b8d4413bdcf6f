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
        // `private`: the response of an authenticated request, which no
        // shared cache may keep unless the handler said otherwise.
        Inner { #[pin] future: F, private: bool },
        // Boxed: a refusal is the rare path, and a small future is cheaper to
        // move on the common one.
        Refused { response: Option<Box<Response<ResponseBody<B>>>> },
        Verifying { future: BoxResponseFuture<B, E> },
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
            kind: Kind::Refused {
                response: Some(Box::new(response)),
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
            // Polled again after completion: the contract allows never finishing.
            KindProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                None => Poll::Pending,
            },
            KindProj::Verifying { future } => future.as_mut().poll(cx),
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
        let state = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Refused { .. } => "refused",
            Kind::Verifying { .. } => "verifying",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
