//! The refusals of the layer (RFC 6750 section 3) and their log events.

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use tower_claude_core::{GrpcStatus, Rejection};

use crate::layer::Config;

/// The `WWW-Authenticate` values, built once per layer.
#[derive(Debug, Clone)]
pub(crate) struct Challenges {
    missing: HeaderValue,
    invalid_request: HeaderValue,
    invalid_token: HeaderValue,
    insufficient_scope: HeaderValue,
}

impl Challenges {
    /// `resource_metadata`: the RFC 9728 URL every 401 names.
    pub(crate) fn new(realm: &str, scopes: &[Box<str>], resource_metadata: Option<&str>) -> Self {
        let metadata = resource_metadata
            .filter(|url| {
                url.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            })
            .map(|url| format!(", resource_metadata=\"{url}\""))
            .unwrap_or_default();
        let value = |extra: &str| {
            HeaderValue::from_str(&format!("Bearer realm=\"{realm}\"{extra}"))
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
        };
        let unauthorized = |extra: &str| value(&format!("{metadata}{extra}"));
        let scope = if scopes.is_empty() {
            String::new()
        } else {
            format!(", scope=\"{}\"", scopes.join(" "))
        };
        Self {
            missing: unauthorized(""),
            invalid_request: unauthorized(", error=\"invalid_request\""),
            invalid_token: unauthorized(", error=\"invalid_token\""),
            insufficient_scope: value(&format!(", error=\"insufficient_scope\"{scope}")),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Missing,
    Malformed(&'static str),
    InvalidToken,
    /// An OAuth access token refused: 401 whatever the layer's setting.
    #[cfg(feature = "oauth")]
    InvalidOAuthToken,
    InsufficientScope,
    Unavailable(std::time::Duration),
}

impl Refusal {
    /// The refusal in words, for the audit event.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing credentials",
            Self::Malformed(why) => why,
            Self::InvalidToken => "invalid token",
            #[cfg(feature = "oauth")]
            Self::InvalidOAuthToken => "invalid OAuth access token",
            Self::InsufficientScope => "insufficient scope",
            Self::Unavailable(_) => "verifier unavailable",
        }
    }

    /// The code of the refusal's answer (its metrics label).
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing_credentials",
            Self::Malformed(_) => "invalid_request",
            Self::InvalidToken => "invalid_token",
            #[cfg(feature = "oauth")]
            Self::InvalidOAuthToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Unavailable(_) => "verifier_unavailable",
        }
    }

    pub(crate) fn rejection(self, config: &Config) -> Rejection {
        let challenges = &config.challenges;
        match self {
            Self::Missing => Rejection::unauthenticated(
                self.code(),
                "this resource needs an `Authorization: Bearer <token>` header",
            )
            .with_header(WWW_AUTHENTICATE, challenges.missing.clone()),
            Self::Malformed(why) => Rejection::unauthenticated(self.code(), why)
                .with_header(WWW_AUTHENTICATE, challenges.invalid_request.clone()),
            Self::InvalidToken => {
                // The default answers a wrong token with 403; RFC 6750
                // says 401. gRPC clients get UNAUTHENTICATED either way.
                let status = if config.strict_rfc6750 {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                Rejection::new(
                    status,
                    GrpcStatus::Unauthenticated,
                    "authentication_error",
                    self.code(),
                    "the bearer token is not valid",
                )
                .with_header(WWW_AUTHENTICATE, challenges.invalid_token.clone())
            }
            #[cfg(feature = "oauth")]
            Self::InvalidOAuthToken => Rejection::unauthenticated(
                self.code(),
                "the access token is not valid for this resource",
            )
            .with_header(WWW_AUTHENTICATE, challenges.invalid_token.clone()),
            Self::InsufficientScope => Rejection::forbidden(
                self.code(),
                "the key is valid but lacks a scope this resource needs",
            )
            .with_header(WWW_AUTHENTICATE, challenges.insufficient_scope.clone()),
            Self::Unavailable(retry_after) => {
                let seconds = retry_after
                    .as_secs()
                    .saturating_add(u64::from(retry_after.subsec_nanos() > 0));
                Rejection::unavailable(
                    self.code(),
                    "the credentials cannot be checked right now; retry later",
                )
                .with_header(RETRY_AFTER, HeaderValue::from(seconds.max(1)))
            }
        }
    }
}
