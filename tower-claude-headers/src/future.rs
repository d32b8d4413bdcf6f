//! The response future of [`SecurityHeaders`](crate::security::SecurityHeaders).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::policy::{Policy, RequestFacts};

pin_project! {
    /// Waits for the inner service and adds the headers to its response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        policy: Arc<Policy>,
        facts: RequestFacts,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, policy: Arc<Policy>, facts: RequestFacts) -> Self {
        Self {
            inner,
            policy,
            facts,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(Ok(mut response)) => {
                this.policy.apply(response.headers_mut(), this.facts);
                Poll::Ready(Ok(response))
            }
            other => other,
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
