//! gRPC status codes and the header encodings a trailers-only response needs.

use std::fmt;

use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// A gRPC status code, as sent in the `grpc-status` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcStatus {
    /// 0: not an error.
    Ok,
    /// 1: the operation was cancelled.
    Cancelled,
    /// 2: an unknown error.
    Unknown,
    /// 3: the client sent an invalid argument.
    InvalidArgument,
    /// 4: the deadline passed.
    DeadlineExceeded,
    /// 5: not found.
    NotFound,
    /// 6: already exists.
    AlreadyExists,
    /// 7: the caller is known but not allowed.
    PermissionDenied,
    /// 8: a quota or rate limit is exhausted.
    ResourceExhausted,
    /// 9: the system is not in a state to run the operation.
    FailedPrecondition,
    /// 10: aborted.
    Aborted,
    /// 11: out of range.
    OutOfRange,
    /// 12: not implemented.
    Unimplemented,
    /// 13: an internal error.
    Internal,
    /// 14: the service is unavailable; retrying may help.
    Unavailable,
    /// 15: data loss.
    DataLoss,
    /// 16: the caller has no valid credentials.
    Unauthenticated,
}

impl GrpcStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Cancelled => 1,
            Self::Unknown => 2,
            Self::InvalidArgument => 3,
            Self::DeadlineExceeded => 4,
            Self::NotFound => 5,
            Self::AlreadyExists => 6,
            Self::PermissionDenied => 7,
            Self::ResourceExhausted => 8,
            Self::FailedPrecondition => 9,
            Self::Aborted => 10,
            Self::OutOfRange => 11,
            Self::Unimplemented => 12,
            Self::Internal => 13,
            Self::Unavailable => 14,
            Self::DataLoss => 15,
            Self::Unauthenticated => 16,
        }
    }
}

impl fmt::Display for GrpcStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The gRPC flavour of a request, from its `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrpcFlavour {
    Grpc,
    GrpcWeb,
    GrpcWebText,
}

impl GrpcFlavour {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Grpc => "application/grpc",
            Self::GrpcWeb => "application/grpc-web",
            Self::GrpcWebText => "application/grpc-web-text",
        }
    }
}

/// Whether a request with these headers is a gRPC call: its `content-type` is
/// `application/grpc` or a subtype (`application/grpc+proto`, `application/grpc-web`...).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    grpc_flavour(headers).is_some()
}

pub(crate) fn grpc_flavour(headers: &HeaderMap) -> Option<GrpcFlavour> {
    let value = headers.get(CONTENT_TYPE)?.as_bytes();
    const BASE: &[u8] = b"application/grpc";
    if value.len() < BASE.len() || !value[..BASE.len()].eq_ignore_ascii_case(BASE) {
        return None;
    }
    let rest = &value[BASE.len()..];
    let starts = |word: &[u8]| {
        rest.len() >= word.len()
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && matches!(rest.get(word.len()), None | Some(b'+' | b';' | b' '))
    };
    if starts(b"-web-text") {
        Some(GrpcFlavour::GrpcWebText)
    } else if starts(b"-web") {
        Some(GrpcFlavour::GrpcWeb)
    } else if starts(b"") {
        Some(GrpcFlavour::Grpc)
    } else {
        None
    }
}

/// Percent-encodes a `grpc-message` as the gRPC HTTP/2 protocol requires: the
/// UTF-8 bytes outside `0x20..=0x7E`, and `%` itself, become `%XX`.
pub fn percent_encode_grpc_message(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn flavour(content_type: &'static str) -> Option<GrpcFlavour> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        grpc_flavour(&headers)
    }

    #[test]
    fn recognises_grpc_content_types() {
        assert_eq!(flavour("application/grpc"), Some(GrpcFlavour::Grpc));
        assert_eq!(flavour("application/grpc+proto"), Some(GrpcFlavour::Grpc));
        assert_eq!(flavour("Application/GRPC"), Some(GrpcFlavour::Grpc));
        assert_eq!(
            flavour("application/grpc-web+proto"),
            Some(GrpcFlavour::GrpcWeb)
        );
        assert_eq!(
            flavour("application/grpc-web-text"),
            Some(GrpcFlavour::GrpcWebText)
        );
        assert_eq!(flavour("application/grpcx"), None);
        assert_eq!(flavour("application/json"), None);
        assert_eq!(flavour("text/application/grpc"), None);
        assert_eq!(grpc_flavour(&HeaderMap::new()), None);
    }

    #[test]
    fn percent_encodes_per_the_grpc_spec() {
        assert_eq!(percent_encode_grpc_message("plain text"), "plain text");
        assert_eq!(percent_encode_grpc_message("100% sure"), "100%25 sure");
        assert_eq!(percent_encode_grpc_message("a\nb"), "a%0Ab");
        assert_eq!(percent_encode_grpc_message("é"), "%C3%A9");
    }
}
