//! What a connection is doing: requests in flight (until their response
//! bodies end) and when the last one ended, for the idle timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body::Body;

/// The requests in flight on one connection, and when the last one ended.
pub(super) struct Activity {
    started: Instant,
    open: AtomicUsize,
    /// Milliseconds after `started` at which the last request ended.
    last_end_ms: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            started: Instant::now(),
            open: AtomicUsize::new(0),
            last_end_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long no request has been in flight; zero while one is.
    pub(super) fn idle_for(&self) -> Duration {
        if self.open.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = self
            .now_ms()
            .saturating_sub(self.last_end_ms.load(Ordering::Acquire));
        Duration::from_millis(since)
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as open until the body
    /// ends (or is dropped with the connection).
    pub(super) struct OpenBody<B> {
        #[pin]
        body: B,
        open: Option<Open>,
    }
}

impl<B> OpenBody<B> {
    pub(super) fn new(body: B, open: Open) -> Self {
        Self {
            body,
            open: Some(open),
        }
    }
}

impl<B: Body> Body for OpenBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        if let std::task::Poll::Ready(None | Some(Err(_))) = &polled {
            this.open.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// One request in flight; its end (answered or dropped) is recorded on drop.
pub(super) struct Open(Arc<Activity>);

impl Open {
    pub(super) fn new(activity: Arc<Activity>) -> Self {
        activity.open.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.last_end_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}
