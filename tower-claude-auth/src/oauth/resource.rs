//! Protected Resource Metadata (RFC 9728): the document that tells a client
//! which authorization servers issue tokens for this resource, and the
//! service that answers it.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use tower_service::Service;

use super::urls;
use crate::scopes::is_scope_token;

/// This resource's metadata (RFC 9728 section 2), served at
/// `/.well-known/oauth-protected-resource` (plus the resource's path, if it
/// has one: section 3.1), and named in every 401's `WWW-Authenticate` once
/// the auth layer knows it
/// ([`BearerAuthLayer::resource_metadata`](crate::BearerAuthLayer::resource_metadata)).
///
/// ```
/// use tower_claude_auth::oauth::ProtectedResource;
///
/// let resource = ProtectedResource::new("https://mcp.example.com/mcp")
///     .unwrap()
///     .authorization_server("https://auth.example.com")
///     .scopes_supported(["read", "admin"]);
/// assert_eq!(resource.path(), "/.well-known/oauth-protected-resource/mcp");
/// assert_eq!(
///     resource.metadata_url(),
///     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    resource: String,
    metadata_url: String,
    path: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
}

/// A resource identifier that cannot be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError(String);

impl std::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResourceError {}

impl ProtectedResource {
    /// The metadata of the resource `resource`: its identifier, the audience
    /// its tokens name (RFC 8707), an `https://` URL without query or fragment
    /// (`http://` on loopback hosts, for tests).
    ///
    /// # Errors
    /// `resource` is not such a URL.
    pub fn new(resource: &str) -> Result<Self, ResourceError> {
        let refuse = |why: &str| Err(ResourceError(format!("resource {resource:?}: {why}")));
        let Ok(uri) = resource.parse::<Uri>() else {
            return refuse("not a URL");
        };
        if !super::http::is_allowed(&uri) {
            return refuse("not https:// (http:// only on loopback)");
        }
        if uri.query().is_some() || resource.contains('#') {
            return refuse("a resource identifier has no query or fragment (RFC 9728 section 1.2)");
        }
        let (Some(metadata_url), Some(scheme), Some(authority)) = (
            urls::inserted(&uri, "oauth-protected-resource"),
            uri.scheme_str(),
            uri.authority(),
        ) else {
            return refuse("no host");
        };
        let path = metadata_url
            .strip_prefix(&format!("{scheme}://{authority}"))
            .unwrap_or("/.well-known/oauth-protected-resource")
            .to_owned();
        Ok(Self {
            resource: resource.to_owned(),
            metadata_url,
            path,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
        })
    }

    /// Names an authorization server (its issuer identifier) that issues
    /// tokens for this resource.
    #[must_use]
    pub fn authorization_server(mut self, issuer: &str) -> Self {
        self.authorization_servers.push(issuer.to_owned());
        self
    }

    /// The scopes clients may ask for (entries that are not RFC 6749 scopes
    /// are left out).
    #[must_use]
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.scopes_supported.extend(
            scopes
                .into_iter()
                .map(|scope| scope.as_ref().to_owned())
                .filter(|scope| is_scope_token(scope)),
        );
        self
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the metadata is served: the URL for `resource_metadata`.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The path the metadata is served at, for routing.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The document (RFC 9728 section 2): `resource`,
    /// `authorization_servers`, `scopes_supported`, and
    /// `bearer_methods_supported` (`header`: tokens in the query or the body
    /// are not read).
    pub fn document(&self) -> serde_json::Value {
        let mut document = serde_json::json!({
            "resource": self.resource,
            "bearer_methods_supported": ["header"],
        });
        if !self.authorization_servers.is_empty() {
            document["authorization_servers"] = self.authorization_servers.clone().into();
        }
        if !self.scopes_supported.is_empty() {
            document["scopes_supported"] = self.scopes_supported.clone().into();
        }
        document
    }

    /// A service that answers `GET` (and `HEAD`) with the document, for
    /// axum's `route_service` or any Tower stack.
    pub fn service(&self) -> MetadataService {
        MetadataService {
            body: Bytes::from(self.document().to_string()),
        }
    }
}

/// The service of [`ProtectedResource::service`].
#[derive(Debug, Clone)]
pub struct MetadataService {
    body: Bytes,
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = if matches!(*request.method(), Method::GET | Method::HEAD) {
            let mut response = Response::new(Full::new(self.body.clone()));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        if request.method() == Method::HEAD {
            *response.body_mut() = Full::new(Bytes::new());
        }
        ready(Ok(response))
    }
}
