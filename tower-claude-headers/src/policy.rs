//! A built header policy and the one pass that applies it to a response.

use http::header::{self, HeaderName, HeaderValue};

use http::{HeaderMap, Request};
use tower_claude_core::{ClientIpResolver, TlsConnection, is_grpc, peer_addr};

use crate::csp::NonceTemplate;
use crate::nonce::CspNonce;

const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Response headers a prebuilt set takes in without growing: a handler's
/// content type and length, caching and rate-limit fields fit.
const MERGE_ROOM: usize = 16;

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
    /// The finished header sets, built once: indexed by [`Policy::set_index`]
    /// (browser headers or not, HSTS or not).
    pub(crate) prebuilt: [HeaderMap; 4],
    pub(crate) nonce_csp: Option<(HeaderName, NonceTemplate)>,
    pub(crate) nonces: bool,
    pub(crate) has_hsts: bool,
    pub(crate) overwrite: bool,
    pub(crate) remove_server_headers: bool,
    pub(crate) hsts_always: bool,
    pub(crate) grpc_browser_headers: bool,
    pub(crate) resolver: ClientIpResolver,
}

impl Policy {
    /// The four header sets a response can get, from the entries and HSTS.
    pub(crate) fn prebuild(entries: &[Entry], hsts: Option<&HeaderValue>) -> [HeaderMap; 4] {
        std::array::from_fn(|index| {
            let (browser, https) = (index & 2 != 0, index & 1 != 0);
            // Room for the response's own headers too: the clone made per
            // response keeps the index's size, so merging a handler's and the
            // inner layers' headers into it does not rehash the map (measured
            // under callgrind: inserting ours into theirs instead, through the
            // entry API, costs more).
            let mut map = HeaderMap::with_capacity(entries.len() + 1 + MERGE_ROOM);
            for entry in entries.iter().filter(|e| browser || !e.browser_only) {
                map.insert(entry.name.clone(), entry.value.clone());
            }
            if https && let Some(hsts) = hsts {
                map.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
            map
        })
    }

    fn set_index(browser: bool, https: bool) -> usize {
        usize::from(browser) << 1 | usize::from(https)
    }
}

/// What the policy needs to remember about the request until the response.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestFacts {
    pub(crate) https: bool,
    pub(crate) nonce: Option<CspNonce>,
}

impl Policy {
    /// Looks at the request: is it HTTPS, and its nonce (which goes into its
    /// extensions).
    pub(crate) fn observe<B>(&self, request: &mut Request<B>) -> RequestFacts {
        let https = self.has_hsts && (self.hsts_always || self.is_https(request));
        let nonce = if self.nonces {
            let nonce = CspNonce::generate();
            if let Some(nonce) = &nonce {
                request.extensions_mut().insert(nonce.clone());
            }
            nonce
        } else {
            None
        };
        RequestFacts { https, nonce }
    }

    /// HTTPS when the connection's own TLS says so (a [`TlsConnection`] in the
    /// extensions, put there by the server that terminated TLS), or when a
    /// trusted proxy says `X-Forwarded-Proto: https`. A scheme the client
    /// wrote, HTTP/2 `:scheme https` over cleartext or an HTTP/1 absolute-form
    /// `https://` target alike, says nothing about the connection.
    pub(crate) fn is_https<B>(&self, request: &Request<B>) -> bool {
        is_https(&self.resolver, request)
    }

    /// One pass: a clone of the prebuilt set, with the response's own headers
    /// merged into it. Merging the response's few headers into our many costs
    /// one insert per response header, where inserting ours one by one would
    /// cost a lookup and an insert per security header.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, facts: &RequestFacts) {
        // Whether the *response* is gRPC: the request's content type is the
        // client's to choose, and a page served to a request claiming gRPC must
        // not lose its CSP (a shared cache would hand it to everyone).
        let browser = self.grpc_browser_headers || !is_grpc(headers);
        let mut merged = self.prebuilt[Self::set_index(browser, facts.https)].clone();
        let theirs = std::mem::take(headers);
        // `into_iter` yields a name with the first value of each header and
        // `None` with the rest of its values.
        let mut current: Option<HeaderName> = None;
        for (name, value) in theirs {
            if let Some(name) = name {
                let dropped =
                    self.remove_server_headers && (name == header::SERVER || name == X_POWERED_BY);
                // The handler's header wins unless the policy overwrites.
                let ours = self.overwrite && merged.contains_key(&name);
                if dropped || ours {
                    current = None;
                    continue;
                }
                merged.insert(name.clone(), value);
                current = Some(name);
            } else if let Some(name) = &current {
                merged.append(name.clone(), value);
            }
        }
        if browser && let Some((name, template)) = &self.nonce_csp {
            // Without a nonce (the OS refused randomness) the policy still goes
            // out, with a source that matches no script: fail closed.
            let nonce = facts.nonce.as_ref().map(CspNonce::as_str);
            if let Some(value) = template.render(nonce) {
                match merged.entry(name) {
                    header::Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    header::Entry::Occupied(mut slot) if self.overwrite => {
                        slot.insert(value);
                    }
                    header::Entry::Occupied(_) => {}
                }
            }
        }
        *headers = merged;
    }
}

pub(crate) fn is_https<B>(resolver: &ClientIpResolver, request: &Request<B>) -> bool {
    if request.extensions().get::<TlsConnection>().is_some() {
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
