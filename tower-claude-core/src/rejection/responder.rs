//! Turning a [`Rejection`] into a response: JSON for HTTP, trailers-only for gRPC.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, Uri, Version};

use super::grpc::{GrpcFlavour, grpc_flavour, percent_encode_grpc_message};
use super::json::error_body;
use super::refusal::Rejection;
use crate::body::{RejectionBody, ResponseBody};

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// What a responder may look at of the refused request.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    version: Version,
}

impl<'a> RequestHead<'a> {
    /// The head of `request`.
    pub fn of<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            version: request.version(),
        }
    }

    /// A head from its parts, taken to have come over HTTP/2 (set another
    /// version with [`with_version`](Self::with_version)).
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
            version: Version::HTTP_2,
        }
    }

    /// The same head, received over `version`.
    #[must_use]
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The HTTP version the request came over.
    pub fn version(&self) -> Version {
        self.version
    }

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

    /// Whether the request is a gRPC call (see [`is_grpc`](crate::is_grpc)) that
    /// can take a gRPC answer: gRPC-Web over any version, plain gRPC only over
    /// HTTP/2, as its trailers need it. A client that sends `application/grpc`
    /// over HTTP/1.1 is no gRPC client, and gets the HTTP status it would
    /// otherwise hide behind a `200`.
    pub fn is_grpc(&self) -> bool {
        self.grpc_flavour().is_some()
    }

    pub(crate) fn grpc_flavour(&self) -> Option<GrpcFlavour> {
        match grpc_flavour(self.headers)? {
            GrpcFlavour::Grpc if self.version < Version::HTTP_2 => None,
            flavour => Some(flavour),
        }
    }
}

/// Shapes refusals into responses.
///
/// Implement it, or pass a closure
/// `Fn(&RequestHead<'_>, &Rejection) -> Response<Bytes>`, to change the body of
/// every refusal a layer sends. Layers add the [`RejectionReason`](crate::RejectionReason)
/// to the response's extensions themselves.
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_claude_core::{Rejection, RequestHead, SharedResponder};
///
/// let plain = SharedResponder::new(|_: &RequestHead<'_>, rejection: &Rejection| {
///     let mut response = Response::new(Bytes::from(rejection.message().to_owned()));
///     *response.status_mut() = rejection.status();
///     response
/// });
/// # let _ = plain;
/// ```
pub trait Responder: Send + Sync + 'static {
    /// The response for `rejection` of the request whose head is `request`.
    fn respond(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<Bytes>;
}

impl<F> Responder for F
where
    F: Fn(&RequestHead<'_>, &Rejection) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<Bytes> {
        self(request, rejection)
    }
}

/// The responder every layer uses unless told otherwise.
///
/// - gRPC requests get a trailers-only response: HTTP 200, the request's gRPC
///   `content-type`, `grpc-status` and a percent-encoded `grpc-message`, no body.
///   A tonic client then reports the intended code (`Unauthenticated`, ...) rather
///   than `Internal`.
/// - Everyone else gets `{"error":{"message":...,"type":...,"code":...}}` with
///   `content-type: application/json` and the refusal's status.
///
/// Both carry the refusal's own headers and `cache-control: no-store, max-age=0`
/// (the OWASP Secure Headers Project's value), so that no cache keeps a refusal
/// for someone else.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResponder;

impl Responder for DefaultResponder {
    fn respond(&self, request: &RequestHead<'_>, rejection: &Rejection) -> Response<Bytes> {
        let mut response = match request.grpc_flavour() {
            Some(flavour) => {
                let mut response = Response::new(Bytes::new());
                let headers = response.headers_mut();
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(flavour.content_type()),
                );
                headers.insert(
                    GRPC_STATUS,
                    HeaderValue::from(u16::from(rejection.grpc_status().code())),
                );
                // Percent-encoding leaves only visible ASCII, always a valid value.
                if let Ok(message) =
                    HeaderValue::from_str(&percent_encode_grpc_message(rejection.message()))
                {
                    headers.insert(GRPC_MESSAGE, message);
                }
                response
            }
            None => {
                let body = error_body(rejection.message(), rejection.kind(), rejection.code());
                let mut response = Response::new(Bytes::from(body));
                *response.status_mut() = rejection.status();
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
        };
        let headers = response.headers_mut();
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, max-age=0"),
        );
        // The refusal's own headers replace the defaults above (a custom
        // content-type, say) rather than adding a second value.
        for (name, value) in rejection.headers() {
            headers.insert(name, value.clone());
        }
        response
    }
}

/// A cheaply cloned handle to a [`Responder`], held by every layer.
#[derive(Clone)]
pub struct SharedResponder(Arc<dyn Responder>);

impl SharedResponder {
    /// Shares `responder`.
    pub fn new(responder: impl Responder) -> Self {
        Self(Arc::new(responder))
    }

    /// The response for `rejection`, with a body that can stand in for the
    /// inner service's and the [`RejectionReason`](crate::RejectionReason) in its extensions.
    pub fn respond<B>(
        &self,
        request: &RequestHead<'_>,
        rejection: &Rejection,
    ) -> Response<ResponseBody<B>> {
        let response = self.0.respond(request, rejection);
        let (mut parts, body) = response.into_parts();
        parts.extensions.insert(rejection.reason());
        Response::from_parts(parts, ResponseBody::rejection(RejectionBody::new(body)))
    }

    /// Shorthand for [`respond`](Self::respond) given the request.
    pub fn respond_to<B, ReqBody>(
        &self,
        request: &Request<ReqBody>,
        rejection: &Rejection,
    ) -> Response<ResponseBody<B>> {
        self.respond(&RequestHead::of(request), rejection)
    }
}

impl Default for SharedResponder {
    fn default() -> Self {
        Self::new(DefaultResponder)
    }
}

impl fmt::Debug for SharedResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedResponder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GrpcStatus;
    use http::StatusCode;

    fn head_with(content_type: Option<&'static str>) -> (Method, Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        (Method::POST, Uri::from_static("/x"), headers)
    }

    #[test]
    fn http_refusal_is_json_with_headers() {
        let (m, u, h) = head_with(None);
        let rejection = Rejection::unauthenticated("missing_token", "no \"token\"").with_header(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="api""#),
        );
        let response = DefaultResponder.respond(&RequestHead::new(&m, &u, &h), &rejection);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            response.headers()[http::header::WWW_AUTHENTICATE],
            r#"Bearer realm="api""#
        );
        assert_eq!(
            response.body(),
            &Bytes::from_static(
                br#"{"error":{"message":"no \"token\"","type":"authentication_error","code":"missing_token"}}"#
            )
        );
    }

    #[test]
    fn grpc_refusal_is_trailers_only() {
        let (m, u, h) = head_with(Some("application/grpc+proto"));
        let rejection = Rejection::new(
            StatusCode::FORBIDDEN,
            GrpcStatus::PermissionDenied,
            "permission_error",
            "insufficient_scope",
            "needs scope: admin 100%",
        );
        let response = DefaultResponder.respond(&RequestHead::new(&m, &u, &h), &rejection);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc");
        assert_eq!(response.headers()["grpc-status"], "7");
        assert_eq!(
            response.headers()["grpc-message"],
            "needs scope: admin 100%25"
        );
        assert!(response.body().is_empty());
    }

    #[test]
    fn grpc_content_type_over_http1_gets_the_http_status() {
        let (m, u, h) = head_with(Some("application/grpc"));
        let rejection = Rejection::unauthenticated("missing_token", "no token");
        let head = RequestHead::new(&m, &u, &h).with_version(http::Version::HTTP_11);
        assert!(!head.is_grpc());
        let response = DefaultResponder.respond(&head, &rejection);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(!response.headers().contains_key("grpc-status"));

        let (m, u, h) = head_with(Some("application/grpc-web+proto"));
        let head = RequestHead::new(&m, &u, &h).with_version(http::Version::HTTP_11);
        assert!(head.is_grpc(), "gRPC-Web runs over HTTP/1.1");
    }
}
