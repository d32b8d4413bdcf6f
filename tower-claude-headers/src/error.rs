//! Errors in a header policy, caught when it is built.

use std::fmt;

use tower_claude_core::ConfigError;

/// A header policy was refused at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderConfigError {
    /// HSTS `preload` needs `max-age` of at least one year and `includeSubDomains`
    /// (the preload list's submission rules).
    PreloadRequirements,
    /// A CSP directive name is not lowercase letters and dashes.
    InvalidDirective(String),
    /// A CSP source or report target holds `;`, `,`, a quote where none belongs,
    /// or a byte outside visible ASCII.
    InvalidSource(String),
    /// A `Permissions-Policy` feature name or origin is not valid structured-field syntax.
    InvalidPermission(String),
    /// A header value holds bytes that cannot go into a header.
    InvalidValue(String),
    /// A host in the redirect allowlist is empty or holds a `/`, `@` or space.
    InvalidHost(String),
    /// A path rule or address block from the core crate.
    Core(ConfigError),
}

impl From<ConfigError> for HeaderConfigError {
    fn from(error: ConfigError) -> Self {
        Self::Core(error)
    }
}

impl fmt::Display for HeaderConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PreloadRequirements => f.write_str(
                "HSTS preload requires max-age of at least 31536000 seconds and includeSubDomains",
            ),
            Self::InvalidDirective(d) => write!(f, "invalid CSP directive name {d:?}"),
            Self::InvalidSource(s) => write!(f, "invalid CSP source {s:?}"),
            Self::InvalidPermission(p) => write!(f, "invalid Permissions-Policy entry {p:?}"),
            Self::InvalidValue(v) => write!(f, "invalid header value {v:?}"),
            Self::InvalidHost(h) => write!(f, "invalid host {h:?}"),
            Self::Core(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for HeaderConfigError {}
