//! The error returned by fallible configuration.

use std::fmt;

/// A configuration value was refused when a layer or rule set was built.
///
/// Configuration errors surface at start-up, never as a runtime 500: a layer that
/// builds is a layer whose settings were all understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A CIDR block such as `10.0.0.0/8` could not be parsed.
    InvalidCidr {
        /// The text that was refused.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A path in an allowlist is not a clean absolute path.
    InvalidPath {
        /// The path that was refused.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An IPv6 grouping prefix is shorter than `/16` or longer than `/128`.
    InvalidPrefixLength(u8),
    /// Any other setting that was refused.
    InvalidValue {
        /// The setting.
        setting: &'static str,
        /// The value that was refused.
        value: String,
        /// What the setting accepts.
        reason: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCidr { input, reason } => {
                write!(f, "invalid CIDR block {input:?}: {reason}")
            }
            Self::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            Self::InvalidPrefixLength(len) => {
                write!(f, "invalid IPv6 prefix length /{len}: between /16 and /128")
            }
            Self::InvalidValue {
                setting,
                value,
                reason,
            } => write!(f, "invalid {setting} {value:?}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}
