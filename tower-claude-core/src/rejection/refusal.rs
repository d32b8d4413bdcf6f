//! The refusal every layer sends, before it is shaped into a response.

use std::borrow::Cow;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use super::grpc::GrpcStatus;

/// Why a layer refused a request: the HTTP status, the gRPC status, a
/// machine-readable type and code, a human message and any headers the refusal
/// must carry (`WWW-Authenticate`, `Retry-After`...).
///
/// A [`Responder`](crate::Responder) turns it into a response; the default one
/// writes `{"error":{"message":...,"type":...,"code":...}}` for HTTP clients and a
/// trailers-only response for gRPC clients.
///
/// ```
/// use http::StatusCode;
/// use tower_claude_core::{GrpcStatus, Rejection};
///
/// let rejection = Rejection::too_many_requests("rate_limited", "slow down")
///     .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("7"));
/// assert_eq!(rejection.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(rejection.grpc_status(), GrpcStatus::ResourceExhausted);
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    status: StatusCode,
    grpc_status: GrpcStatus,
    kind: &'static str,
    code: &'static str,
    message: Cow<'static, str>,
    headers: HeaderMap,
}

impl Rejection {
    /// A refusal with every field given.
    pub fn new(
        status: StatusCode,
        grpc_status: GrpcStatus,
        kind: &'static str,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            grpc_status,
            kind,
            code,
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// 401, gRPC `UNAUTHENTICATED`, type `authentication_error`.
    pub fn unauthenticated(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            GrpcStatus::Unauthenticated,
            "authentication_error",
            code,
            message,
        )
    }

    /// 403, gRPC `PERMISSION_DENIED`, type `permission_error`.
    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            GrpcStatus::PermissionDenied,
            "permission_error",
            code,
            message,
        )
    }

    /// 400, gRPC `INVALID_ARGUMENT`, type `invalid_request_error`.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            GrpcStatus::InvalidArgument,
            "invalid_request_error",
            code,
            message,
        )
    }

    /// 413, gRPC `RESOURCE_EXHAUSTED`, type `invalid_request_error`.
    pub fn payload_too_large(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            GrpcStatus::ResourceExhausted,
            "invalid_request_error",
            code,
            message,
        )
    }

    /// 429, gRPC `RESOURCE_EXHAUSTED`, type `rate_limit_error`.
    pub fn too_many_requests(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            GrpcStatus::ResourceExhausted,
            "rate_limit_error",
            code,
            message,
        )
    }

    /// 503, gRPC `UNAVAILABLE`, type `unavailable_error`.
    pub fn unavailable(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            GrpcStatus::Unavailable,
            "unavailable_error",
            code,
            message,
        )
    }

    /// 500, gRPC `INTERNAL`, type `server_error`.
    pub fn internal(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            GrpcStatus::Internal,
            "server_error",
            code,
            message,
        )
    }

    /// Adds a header to the refusal, replacing one of the same name.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Replaces the HTTP status (the gRPC status stays).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The gRPC status.
    pub fn grpc_status(&self) -> GrpcStatus {
        self.grpc_status
    }

    /// The error type, such as `authentication_error`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The machine-readable code, such as `invalid_token`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The headers the refusal carries.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The summary put in the response's extensions.
    pub fn reason(&self) -> RejectionReason {
        RejectionReason {
            status: self.status,
            kind: self.kind,
            code: self.code,
        }
    }
}

/// Why a response is a refusal, found in the response's extensions so that outer
/// layers and access logs can tell a 401 from auth apart from the handler's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectionReason {
    /// The HTTP status of the refusal.
    pub status: StatusCode,
    /// The error type, such as `rate_limit_error`.
    pub kind: &'static str,
    /// The machine-readable code, such as `rate_limited`.
    pub code: &'static str,
}
