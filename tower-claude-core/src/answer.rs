//! A layer's own answer to a request, in place of the inner service's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use crate::ResponseBody;

/// A boxed future of a layer's response.
pub type BoxResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

/// The answer a layer gives itself rather than the inner service's: one ready
/// now (a refusal, a redirect), kept boxed so that the common path's future
/// stays small, or one still being worked out (a bcrypt run, a network store),
/// boxed. Layers keep it as one state of their response future.
pub struct LayerAnswer<B, E> {
    state: State<B, E>,
}

enum State<B, E> {
    Ready(Option<Box<Response<ResponseBody<B>>>>),
    Pending(BoxResponseFuture<B, E>),
}

impl<B, E> LayerAnswer<B, E> {
    /// `response`, ready now.
    pub fn ready(response: Response<ResponseBody<B>>) -> Self {
        Self {
            state: State::Ready(Some(Box::new(response))),
        }
    }

    /// The response `future` will give.
    pub fn pending(future: BoxResponseFuture<B, E>) -> Self {
        Self {
            state: State::Pending(future),
        }
    }
}

impl<B, E> Future for LayerAnswer<B, E> {
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            // Polled again after completion: the contract allows never finishing.
            State::Ready(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(*response)),
                None => Poll::Pending,
            },
            State::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<B, E> fmt::Debug for LayerAnswer<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.state {
            State::Ready(_) => "LayerAnswer(ready)",
            State::Pending(_) => "LayerAnswer(pending)",
        })
    }
}
