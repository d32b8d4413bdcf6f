//! Who a bucket belongs to: the client address, or a key of the caller's choosing.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use http::header::HeaderName;
use http::{Extensions, HeaderMap, Method, Uri};

/// The identity a bucket is kept for.
///
/// By default the client address (IPv4 per address, IPv6 per prefix); a
/// [`KeyExtractor`] may name any other key, such as an API key's name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Ip(IpAddr),
    Name(Bytes),
}

impl ClientKey {
    /// The key of a client address, as given: group it first if it should be
    /// (the layer passes extractors the grouped address).
    pub fn ip(ip: IpAddr) -> Self {
        Self(Repr::Ip(ip))
    }

    /// A key of the caller's choosing, compared byte for byte.
    pub fn name(name: impl Into<Bytes>) -> Self {
        Self(Repr::Name(name.into()))
    }

    /// The address, for an address key.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match &self.0 {
            Repr::Ip(ip) => Some(*ip),
            Repr::Name(_) => None,
        }
    }

    /// The bytes, for a named key.
    pub fn as_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Ip(_) => None,
            Repr::Name(name) => Some(name),
        }
    }

    /// A stable text form for stores that keep buckets by string, the same on
    /// every instance: `ip:192.0.2.1`, `ip:2001:db8::`, or `k:` and the name in
    /// lowercase hex.
    pub fn to_store_key(&self) -> String {
        match &self.0 {
            Repr::Ip(ip) => format!("ip:{ip}"),
            Repr::Name(name) => {
                let mut key = String::with_capacity(2 + name.len() * 2);
                key.push_str("k:");
                tower_claude_core::encoding::push_hex(&mut key, name);
                key
            }
        }
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Ip(ip) => write!(f, "ClientKey({ip})"),
            // A key may be a credential's name or a header a client sent: its
            // length says enough for debugging.
            Repr::Name(name) => write!(f, "ClientKey(<{} bytes>)", name.len()),
        }
    }
}

/// What a [`KeyExtractor`] may look at.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a Extensions,
    pub(crate) client_ip: Option<IpAddr>,
}

impl<'a> KeyInput<'a> {
    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The request extensions (where an inner authentication layer's verdict
    /// would be, if the rate limiter runs after it).
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }

    /// The client address as the layer resolved and grouped it, when the server
    /// recorded a peer address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }
}

/// Chooses the bucket of a request.
///
/// Returning `None` falls back to the client address, so an extractor can
/// limit authenticated callers per key and everyone else per address. A
/// closure `Fn(&KeyInput<'_>) -> Option<ClientKey>` is an extractor.
///
/// Only key by what the client cannot choose freely: a client that can change
/// its key on every request gets a fresh bucket every time.
///
/// ```
/// use tower_claude_ratelimit::{ClientKey, KeyInput, Quota, RateLimitLayer};
///
/// #[derive(Clone)]
/// struct Tenant(String);
///
/// let limit = RateLimitLayer::new(Quota::per_second(50)).key(|input: &KeyInput<'_>| {
///     let tenant = input.extensions().get::<Tenant>()?;
///     Some(ClientKey::name(tenant.0.clone()))
/// });
/// # let _ = limit;
/// ```
pub trait KeyExtractor: Send + Sync + 'static {
    /// The key of the request, or `None` for its client address.
    fn extract(&self, input: &KeyInput<'_>) -> Option<ClientKey>;
}

impl<F> KeyExtractor for F
where
    F: Fn(&KeyInput<'_>) -> Option<ClientKey> + Send + Sync + 'static,
{
    fn extract(&self, input: &KeyInput<'_>) -> Option<ClientKey> {
        self(input)
    }
}

/// Keys requests by the value of one header, such as an API gateway's
/// consumer id, and falls back to the client address without it.
///
/// Use it only for a header a trusted component in front sets and overwrites:
/// a client that sets it itself picks its own bucket.
#[derive(Debug, Clone)]
pub struct HeaderKey(HeaderName);

impl HeaderKey {
    /// Keys by `header`.
    pub fn new(header: HeaderName) -> Self {
        Self(header)
    }
}

impl KeyExtractor for HeaderKey {
    fn extract(&self, input: &KeyInput<'_>) -> Option<ClientKey> {
        let value = input.headers.get(&self.0)?;
        Some(ClientKey::name(Bytes::copy_from_slice(value.as_bytes())))
    }
}
