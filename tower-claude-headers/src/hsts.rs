//! `Strict-Transport-Security` (RFC 6797).

use std::time::Duration;

use http::HeaderValue;

use crate::HeaderConfigError;

/// One year, the least the HSTS preload list accepts.
pub const ONE_YEAR: Duration = Duration::from_secs(31_536_000);

/// A `Strict-Transport-Security` policy.
///
/// ```
/// use tower_claude_headers::security::{Hsts, ONE_YEAR};
///
/// let hsts = Hsts::new(ONE_YEAR).include_subdomains(true);
/// assert_eq!(hsts.value().unwrap(), "max-age=31536000; includeSubDomains");
/// assert!(Hsts::new(ONE_YEAR).preload(true).value().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    max_age: Duration,
    include_subdomains: bool,
    preload: bool,
}

impl Hsts {
    /// `max-age` rounded down to whole seconds.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            include_subdomains: false,
            preload: false,
        }
    }

    /// Whether to send `includeSubDomains` (default off).
    #[must_use]
    pub fn include_subdomains(mut self, on: bool) -> Self {
        self.include_subdomains = on;
        self
    }

    /// Whether to send `preload` (default off).
    #[must_use]
    pub fn preload(mut self, on: bool) -> Self {
        self.preload = on;
        self
    }

    /// The header value.
    ///
    /// # Errors
    /// [`HeaderConfigError::PreloadRequirements`] when `preload` is set without a
    /// year's `max-age` and `includeSubDomains`: the preload list would refuse the
    /// domain, and the header would promise what it cannot keep.
    pub fn value(&self) -> Result<HeaderValue, HeaderConfigError> {
        if self.preload && (self.max_age < ONE_YEAR || !self.include_subdomains) {
            return Err(HeaderConfigError::PreloadRequirements);
        }
        let mut text = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            text.push_str("; includeSubDomains");
        }
        if self.preload {
            text.push_str("; preload");
        }
        HeaderValue::from_str(&text).map_err(|_| HeaderConfigError::InvalidValue(text))
    }
}
