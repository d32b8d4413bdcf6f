//! A built header policy and the one pass that applies it to a response.

use http::header::{self, HeaderName, HeaderValue};
use http::uri::Scheme;
use http::{HeaderMap, Request};
use tower_claude_core::{ClientIpResolver, is_grpc, peer_addr};

use crate::csp::NonceTemplate;
use crate::nonce::CspNonce;

const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: HeaderName,
    pub(crate) value: HeaderValue,
    pub(crate) browser_only: bool,
}

impl Entry {
    pub(crate) fn new(name: HeaderName, value: HeaderValue, browser_only: bool) -> Self {
        Self {
            name,
            value,
            browser_only,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) entries: Vec<Entry>,
    pub(crate) hsts: Option<HeaderValue>,
    pub(crate) nonce_csp: Option<(HeaderName, NonceTemplate)>,
    pub(crate) nonces: bool,
    pub(crate) overwrite: bool,
    pub(crate) remove_server_headers: bool,
    pub(crate) hsts_always: bool,
    pub(crate) grpc_browser_headers: bool,
    pub(crate) resolver: ClientIpResolver,
}

/// What the policy needs to remember about the request until the response.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestFacts {
    pub(crate) https: bool,
    pub(crate) grpc: bool,
    pub(crate) nonce: Option<CspNonce>,
}

impl Policy {
    /// Looks at the request: is it HTTPS, is it gRPC, and its nonce (which goes
    /// into its extensions).
    pub(crate) fn observe<B>(&self, request: &mut Request<B>) -> RequestFacts {
        let https = self.hsts.is_some() && (self.hsts_always || self.is_https(request));
        let grpc = is_grpc(request.headers());
        let nonce = if self.nonces {
            let nonce = CspNonce::generate();
            if let Some(nonce) = &nonce {
                request.extensions_mut().insert(nonce.clone());
            }
            nonce
        } else {
            None
        };
        RequestFacts { https, grpc, nonce }
    }

    /// HTTPS when the request URI says so (HTTP/2 `:scheme`, absolute-form), or
    /// when a trusted proxy says `X-Forwarded-Proto: https`.
    pub(crate) fn is_https<B>(&self, request: &Request<B>) -> bool {
        is_https(&self.resolver, request)
    }

    /// One pass over the response headers.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, facts: &RequestFacts) {
        let browser = self.grpc_browser_headers || !(facts.grpc || is_grpc(headers));
        for entry in &self.entries {
            if entry.browser_only && !browser {
                continue;
            }
            self.set(headers, &entry.name, &entry.value);
        }
        if facts.https
            && let Some(hsts) = &self.hsts
        {
            self.set(headers, &header::STRICT_TRANSPORT_SECURITY, hsts);
        }
        if browser && let Some((name, template)) = &self.nonce_csp {
            // Without a nonce (the OS refused randomness) the policy still goes
            // out, with an empty nonce that matches no script: fail closed.
            let nonce = facts.nonce.as_ref().map_or("", CspNonce::as_str);
            if let Some(value) = template.render(nonce) {
                self.set(headers, name, &value);
            }
        }
        if self.remove_server_headers {
            headers.remove(header::SERVER);
            headers.remove(X_POWERED_BY);
        }
    }

    fn set(&self, headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
        if self.overwrite {
            headers.insert(name.clone(), value.clone());
        } else if let header::Entry::Vacant(slot) = headers.entry(name) {
            slot.insert(value.clone());
        }
    }
}

pub(crate) fn is_https<B>(resolver: &ClientIpResolver, request: &Request<B>) -> bool {
    if request.uri().scheme() == Some(&Scheme::HTTPS) {
        return true;
    }
    let trusted =
        peer_addr(request.extensions()).is_some_and(|peer| resolver.is_trusted(peer.ip()));
    if !trusted {
        return false;
    }
    // The proxy nearest to us wrote the last value.
    request
        .headers()
        .get_all(X_FORWARDED_PROTO)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}
