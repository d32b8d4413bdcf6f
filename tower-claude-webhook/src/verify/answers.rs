//! What the receiver answers besides the handler: a duplicate's
//! acknowledgement, and the refusal for each verification error.

use bytes::Bytes;
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use tower_claude_core::{Rejection, RejectionBody, ResponseBody};

use crate::verify::{VerifiedWebhook, VerifyError};

/// The answer to a new attempt of a delivery already processed: success, so
/// the sender stops, and a body that says the handler did not run again.
pub(super) fn duplicate<RB>(webhook: &VerifiedWebhook) -> Response<ResponseBody<RB>> {
    let body = format!(
        r#"{{"duplicate":true,"delivery_id":{}}}"#,
        json_string(webhook.delivery_id.as_deref().unwrap_or_default())
    );
    let mut response = Response::new(ResponseBody::rejection(RejectionBody::new(Bytes::from(
        body,
    ))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `text` as a JSON string. Delivery ids are visible ASCII (checked when
/// read), so only `"` and `\` need escaping.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub(super) fn rejection_for(error: &VerifyError) -> Rejection {
    match error {
        VerifyError::ReplayCacheUnavailable(_) => Rejection::unavailable(
            error.code(),
            "webhook replay protection is unavailable; retry later",
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("5")),
        _ => Rejection::unauthenticated(error.code(), error.to_string()),
    }
}
