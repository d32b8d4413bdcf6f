//! Building a header policy: presets, typed setters, overrides.

use std::sync::Arc;

use http::header::{self, HeaderName, HeaderValue};
use tower_claude_core::ClientIpResolver;

use crate::HeaderConfigError;
use crate::csp::{Csp, NonceTemplate};
use crate::hsts::{Hsts, ONE_YEAR};
use crate::layer::SecurityHeadersLayer;
use crate::policy::{Entry, Policy};
use crate::values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions,
    PermissionsPolicy, ReferrerPolicy,
};

const X_FRAME_OPTIONS: HeaderName = header::X_FRAME_OPTIONS;
const X_XSS_PROTECTION: HeaderName = header::X_XSS_PROTECTION;
const X_DNS_PREFETCH_CONTROL: HeaderName = header::X_DNS_PREFETCH_CONTROL;
const ORIGIN_AGENT_CLUSTER: HeaderName = HeaderName::from_static("origin-agent-cluster");
const X_DOWNLOAD_OPTIONS: HeaderName = HeaderName::from_static("x-download-options");
const X_PERMITTED_CROSS_DOMAIN_POLICIES: HeaderName =
    HeaderName::from_static("x-permitted-cross-domain-policies");
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const COEP: HeaderName = HeaderName::from_static("cross-origin-embedder-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// Headers a browser acts on and a gRPC client ignores.
fn is_browser_only(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "strict-transport-security" | "x-content-type-options" | "cache-control"
    )
}

/// Builds a [`SecurityHeadersLayer`]: start from a preset or from nothing, set
/// or remove single headers, then [`build`](Self::build). Every value is checked
/// and turned into a `HeaderValue` once, here.
///
/// ```
/// use tower_claude_headers::security::{Csp, FrameOptions, SecurityHeadersBuilder};
///
/// let layer = SecurityHeadersBuilder::web()
///     .frame_options(FrameOptions::Deny)
///     .csp(Csp::new().directive("default-src", ["'self'"]).directive("img-src", ["*"]))
///     .csp_nonces(true)
///     .remove("x-download-options")
///     .build();
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct SecurityHeadersBuilder {
    headers: Vec<(HeaderName, HeaderValue)>,
    hsts: Option<Hsts>,
    csp: Option<(Csp, bool)>,
    nonces: bool,
    overwrite: bool,
    remove_server_headers: bool,
    hsts_always: bool,
    grpc_browser_headers: bool,
    resolver: ClientIpResolver,
    error: Option<HeaderConfigError>,
}

impl Default for SecurityHeadersBuilder {
    fn default() -> Self {
        Self {
            headers: Vec::new(),
            hsts: None,
            csp: None,
            nonces: false,
            overwrite: false,
            remove_server_headers: true,
            hsts_always: false,
            grpc_browser_headers: false,
            resolver: ClientIpResolver::new(),
            error: None,
        }
    }
}

impl SecurityHeadersBuilder {
    /// No headers at all; add what you want.
    pub fn new() -> Self {
        Self::default()
    }

    /// For HTML apps: the set helmet 8 sends by default, value for value.
    ///
    /// helmet and the OWASP Secure Headers Project differ where OWASP is
    /// stricter (`X-Frame-Options: deny`, two years of HSTS, a
    /// `Permissions-Policy`). This preset follows helmet, whose values a browser
    /// app is known to survive; [`strict_api`](Self::strict_api) follows OWASP.
    pub fn web() -> Self {
        Self::new()
            .csp(
                Csp::new()
                    .directive("default-src", ["'self'"])
                    .directive("base-uri", ["'self'"])
                    .directive("font-src", ["'self'", "https:", "data:"])
                    .directive("form-action", ["'self'"])
                    .directive("frame-ancestors", ["'self'"])
                    .directive("img-src", ["'self'", "data:"])
                    .directive("object-src", ["'none'"])
                    .directive("script-src", ["'self'"])
                    .directive("script-src-attr", ["'none'"])
                    .directive("style-src", ["'self'", "https:", "'unsafe-inline'"])
                    .flag("upgrade-insecure-requests"),
            )
            .coop(CrossOriginOpenerPolicy::SameOrigin)
            .corp(CrossOriginResourcePolicy::SameOrigin)
            .header(ORIGIN_AGENT_CLUSTER, HeaderValue::from_static("?1"))
            .referrer_policy(ReferrerPolicy::NoReferrer)
            .hsts(Hsts::new(ONE_YEAR).include_subdomains(true))
            .nosniff(true)
            .header(X_DNS_PREFETCH_CONTROL, HeaderValue::from_static("off"))
            .header(X_DOWNLOAD_OPTIONS, HeaderValue::from_static("noopen"))
            .frame_options(FrameOptions::SameOrigin)
            .header(
                X_PERMITTED_CROSS_DOMAIN_POLICIES,
                HeaderValue::from_static("none"),
            )
            .header(X_XSS_PROTECTION, HeaderValue::from_static("0"))
    }

    /// For JSON APIs: nothing may frame, embed or run the responses (CSP
    /// `default-src 'none'; frame-ancestors 'none'`, `X-Frame-Options: DENY`,
    /// CORP `same-origin`), nosniff, no referrer, no powerful features, two years
    /// of HSTS (OWASP), and `Cache-Control: no-store` so no cache keeps an API
    /// answer meant for one client.
    pub fn strict_api() -> Self {
        Self::new()
            .csp(
                Csp::new()
                    .directive("default-src", ["'none'"])
                    .directive("frame-ancestors", ["'none'"]),
            )
            .frame_options(FrameOptions::Deny)
            .nosniff(true)
            .referrer_policy(ReferrerPolicy::NoReferrer)
            .hsts(Hsts::new(2 * ONE_YEAR).include_subdomains(true))
            .coop(CrossOriginOpenerPolicy::SameOrigin)
            .corp(CrossOriginResourcePolicy::SameOrigin)
            .permissions_policy(PermissionsPolicy::deny_powerful_features())
            .header(
                X_PERMITTED_CROSS_DOMAIN_POLICIES,
                HeaderValue::from_static("none"),
            )
            .header(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, max-age=0"),
            )
    }

    /// Five headers, the short set older deployments send:
    /// `X-Frame-Options: DENY`, nosniff,
    /// `Referrer-Policy: strict-origin-when-cross-origin`, a year of HSTS with
    /// subdomains and `default-src 'self'`. Such sets often add
    /// `X-XSS-Protection: 1; mode=block`, which this preset leaves out: the XSS
    /// auditor it switched on is gone from every current browser, and where it
    /// remained it could be abused to blank out parts of a page. Add it back with
    /// `.header(X_XSS_PROTECTION, "1; mode=block")` if a contract demands it.
    pub fn basic() -> Self {
        Self::new()
            .frame_options(FrameOptions::Deny)
            .nosniff(true)
            .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
            .hsts(Hsts::new(ONE_YEAR).include_subdomains(true))
            .csp(Csp::new().directive("default-src", ["'self'"]))
    }

    fn fail(mut self, error: HeaderConfigError) -> Self {
        self.error.get_or_insert(error);
        self
    }

    /// Sets any header, replacing a value set before.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// Stops sending a header (by name, case-insensitive): any preset header,
    /// HSTS or CSP included.
    #[must_use]
    pub fn remove(mut self, name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| n.as_str() != name);
        match name.as_str() {
            "strict-transport-security" => self.hsts = None,
            "content-security-policy" | "content-security-policy-report-only" => self.csp = None,
            _ => {}
        }
        self
    }

    /// `Strict-Transport-Security`. Sent only over HTTPS unless
    /// [`hsts_always`](Self::hsts_always).
    #[must_use]
    pub fn hsts(mut self, hsts: Hsts) -> Self {
        self.hsts = Some(hsts);
        self
    }

    /// `Content-Security-Policy`.
    #[must_use]
    pub fn csp(mut self, csp: Csp) -> Self {
        self.csp = Some((csp, false));
        self
    }

    /// `Content-Security-Policy-Report-Only`: browsers report violations and
    /// block nothing. Replaces an enforcing policy.
    #[must_use]
    pub fn csp_report_only(mut self, csp: Csp) -> Self {
        self.csp = Some((csp, true));
        self
    }

    /// A fresh nonce per request in `script-src` and `style-src`, and as
    /// [`CspNonce`](crate::security::CspNonce) in the request extensions.
    #[must_use]
    pub fn csp_nonces(mut self, on: bool) -> Self {
        self.nonces = on;
        self
    }

    /// `X-Frame-Options`.
    #[must_use]
    pub fn frame_options(self, value: FrameOptions) -> Self {
        self.header(X_FRAME_OPTIONS, value.value())
    }

    /// `Referrer-Policy`.
    #[must_use]
    pub fn referrer_policy(self, value: ReferrerPolicy) -> Self {
        self.header(header::REFERRER_POLICY, value.value())
    }

    /// Whether to send `X-Content-Type-Options: nosniff`.
    #[must_use]
    pub fn nosniff(self, on: bool) -> Self {
        if on {
            self.header(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            )
        } else {
            self.remove("x-content-type-options")
        }
    }

    /// `Cross-Origin-Opener-Policy`.
    #[must_use]
    pub fn coop(self, value: CrossOriginOpenerPolicy) -> Self {
        self.header(COOP, value.value())
    }

    /// `Cross-Origin-Embedder-Policy`.
    #[must_use]
    pub fn coep(self, value: CrossOriginEmbedderPolicy) -> Self {
        self.header(COEP, value.value())
    }

    /// `Cross-Origin-Resource-Policy`.
    #[must_use]
    pub fn corp(self, value: CrossOriginResourcePolicy) -> Self {
        self.header(CORP, value.value())
    }

    /// `Permissions-Policy`.
    #[must_use]
    pub fn permissions_policy(self, policy: PermissionsPolicy) -> Self {
        match policy.value() {
            Ok(value) => self.header(PERMISSIONS_POLICY, value),
            Err(error) => self.fail(error),
        }
    }

    /// Replace headers the handler already set. Off by default: a handler that
    /// sets its own CSP for one page keeps it.
    #[must_use]
    pub fn overwrite(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }

    /// Remove `Server` and `X-Powered-By` from responses. On by default.
    #[must_use]
    pub fn remove_server_headers(mut self, on: bool) -> Self {
        self.remove_server_headers = on;
        self
    }

    /// Send HSTS on every response, not only those to HTTPS requests: for a
    /// server that terminates TLS itself and does not mark its requests with
    /// [`TlsConnection`](tower_claude_core::TlsConnection).
    /// Browsers ignore HSTS received over plain HTTP (RFC 6797 section 8.1).
    #[must_use]
    pub fn hsts_always(mut self, on: bool) -> Self {
        self.hsts_always = on;
        self
    }

    /// Believe `X-Forwarded-Proto: https` from peers these proxies cover.
    #[must_use]
    pub fn client_ip(mut self, resolver: ClientIpResolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Send the browser-only headers on gRPC responses too. Off by default: a
    /// gRPC client reads none of them.
    #[must_use]
    pub fn grpc_browser_headers(mut self, on: bool) -> Self {
        self.grpc_browser_headers = on;
        self
    }

    /// The layer.
    ///
    /// # Panics
    /// On the first invalid value given to the builder; see
    /// [`try_build`](Self::try_build).
    pub fn build(self) -> SecurityHeadersLayer {
        self.try_build().unwrap_or_else(|error| panic!("{error}"))
    }

    /// The layer, or the first invalid value given to the builder.
    ///
    /// # Errors
    /// HSTS `preload` without its requirements, a CSP source that would inject
    /// a directive, a malformed `Permissions-Policy`.
    pub fn try_build(self) -> Result<SecurityHeadersLayer, HeaderConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut entries: Vec<Entry> = self
            .headers
            .into_iter()
            .map(|(name, value)| Entry::new(name, value, false))
            .collect();
        let mut nonce_csp = None;
        if let Some((csp, report_only)) = &self.csp {
            let name = if *report_only {
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY
            } else {
                header::CONTENT_SECURITY_POLICY
            };
            if self.nonces {
                nonce_csp = Some((name, NonceTemplate::new(csp.template(true)?)));
            } else {
                entries.push(Entry::new(name, csp.value()?, false));
            }
        }
        let hsts = self.hsts.map(|h| h.value()).transpose()?;
        for entry in &mut entries {
            entry.browser_only = is_browser_only(&entry.name);
        }
        Ok(SecurityHeadersLayer::from_policy(Arc::new(Policy {
            prebuilt: Policy::prebuild(&entries, hsts.as_ref()),
            has_hsts: hsts.is_some(),
            nonce_csp,
            nonces: self.nonces,
            overwrite: self.overwrite,
            remove_server_headers: self.remove_server_headers,
            hsts_always: self.hsts_always,
            grpc_browser_headers: self.grpc_browser_headers,
            resolver: self.resolver,
        })))
    }
}
