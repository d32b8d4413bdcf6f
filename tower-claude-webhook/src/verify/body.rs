//! Reading a webhook body within its limits: size, time, and the memory all
//! unfinished bodies may hold.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::StatusCode;
use http::header::{CONTENT_LENGTH, HeaderValue, RETRY_AFTER};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;
use tower_claude_core::{GrpcStatus, Rejection};

use super::layer::ReceiveConfig;

impl ReceiveConfig {
    /// The body, read within the deadline. Each chunk is charged to the
    /// in-flight budget as it arrives (a connection that announces a large body
    /// and sends nothing holds nothing) and the charge is returned when the
    /// read ends, however it ends.
    pub(super) async fn read_body<B>(
        &self,
        parts: &http::request::Parts,
        body: B,
    ) -> Result<Bytes, Box<Rejection>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match parts
            .headers
            .get(CONTENT_LENGTH)
            .map(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()))
        {
            None => {}
            Some(Some(length)) if length > self.limit as u64 => return Err(self.too_large()),
            Some(Some(_)) => {}
            Some(None) => {
                return Err(Box::new(Rejection::bad_request(
                    "webhook_body_unreadable",
                    "Content-Length is not a number",
                )));
            }
        }
        match tokio::time::timeout(self.body_timeout, self.collect_charged(body)).await {
            Ok(result) => result,
            Err(_) => Err(Box::new(Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                GrpcStatus::DeadlineExceeded,
                "invalid_request_error",
                "webhook_body_timeout",
                format!(
                    "the webhook body did not arrive within {} s",
                    self.body_timeout.as_secs_f64()
                ),
            ))),
        }
    }

    async fn collect_charged<B>(&self, body: B) -> Result<Bytes, Box<Rejection>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut body = std::pin::pin!(body);
        // Grown as bytes arrive, never allocated for what a client only
        // announced; the budget is charged for the buffer's real capacity.
        let mut bytes = BytesMut::new();
        let mut charge: Option<OwnedSemaphorePermit> = None;
        let mut charged = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| {
                Box::new(Rejection::bad_request(
                    "webhook_body_unreadable",
                    "the webhook body could not be read",
                ))
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry nothing signed
            };
            let total = bytes.len() + data.remaining();
            if total > self.limit {
                return Err(self.too_large());
            }
            bytes.reserve(data.remaining());
            let needed = bytes.capacity().saturating_sub(charged);
            if needed > 0 {
                let permits = u32::try_from(needed).map_err(|_| self.too_large())?;
                let Ok(more) = Arc::clone(&self.in_flight).try_acquire_many_owned(permits) else {
                    return Err(self.busy());
                };
                charged += needed;
                match charge.as_mut() {
                    Some(held) => held.merge(more),
                    None => charge = Some(more),
                }
            }
            bytes.put(data);
        }
        Ok(bytes.freeze())
    }

    fn too_large(&self) -> Box<Rejection> {
        Box::new(Rejection::payload_too_large(
            "webhook_too_large",
            format!("webhook body is larger than {} bytes", self.limit),
        ))
    }

    fn busy(&self) -> Box<Rejection> {
        Box::new(
            Rejection::unavailable(
                "webhook_receiver_busy",
                format!(
                    "more than {} bytes of webhook bodies are in flight; retry later",
                    self.max_in_flight
                ),
            )
            .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
        )
    }
}
