//! The response future of [`RateLimit`](crate::RateLimit).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tower_claude_core::{BoxResponseFuture, LayerAnswer, ResponseBody};

use crate::decision::Decision;
use crate::headers::{PolicyHeaders, RateLimitHeaders};

/// The rate-limit fields to write on the inner service's response.
pub(crate) struct Stamp {
    pub(crate) policy: Arc<PolicyHeaders>,
    pub(crate) decision: Decision,
    pub(crate) style: RateLimitHeaders,
}

impl Stamp {
    pub(crate) fn apply<B>(&self, response: &mut Response<B>) {
        self.policy
            .stamp(response.headers_mut(), self.style, &self.decision);
    }
}

pin_project! {
    /// The future of a request through [`RateLimit`](crate::RateLimit). No
    /// allocation when the store answers at once (the in-memory store); one
    /// box when it must wait (a network store).
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F, stamp: Option<Stamp> },
        // A refusal, or the wait for a network store.
        Answer { answer: LayerAnswer<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F, stamp: Option<Stamp>) -> Self {
        Self {
            kind: Kind::Inner { future, stamp },
        }
    }

    pub(crate) fn refused(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Answer {
                answer: LayerAnswer::ready(response),
            },
        }
    }

    pub(crate) fn deciding(future: BoxResponseFuture<B, E>) -> Self {
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
            KindProj::Inner { future, stamp } => {
                let mut response = match future.poll(cx) {
                    Poll::Ready(Ok(response)) => response,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Pending,
                };
                if let Some(stamp) = stamp.take() {
                    stamp.apply(&mut response);
                }
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            KindProj::Answer { answer } => Pin::new(answer).poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ResponseFuture(inner)"),
            Kind::Answer { answer } => f.debug_tuple("ResponseFuture").field(answer).finish(),
        }
    }
}
