//! Calls to the authorization server: through any Tower HTTP client, each
//! bounded in time and in the size of its answer.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceExt};

/// The largest answer read from the authorization server (metadata, key
/// sets and introspection answers are a few KiB).
const MAX_ANSWER: usize = 256 * 1024;

/// The client every call goes through, its answer's body already read.
pub(crate) type Client = BoxCloneSyncService<Request<Full<Bytes>>, Response<Bytes>, BoxError>;

/// A Tower HTTP client the resource server can call the authorization server
/// with: hyper-util's legacy client, a `tower-http` stack, or any `Service`
/// of `http::Request<Full<Bytes>>` (every such service is one). It must not
/// follow redirects.
pub trait HttpClient:
    Service<
        Request<Full<Bytes>>,
        Response = Response<<Self as HttpClient>::Body>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
    /// The answers' body.
    type Body: Body<Data: Send, Error: Into<BoxError>> + Send + 'static;
}

impl<S, B> HttpClient for S
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Body = B;
}

/// Boxes a Tower HTTP client, reading at most [`MAX_ANSWER`] bytes of each
/// answer.
pub(crate) fn client<S: HttpClient>(inner: S) -> Client {
    BoxCloneSyncService::new(inner.map_err(Into::into).and_then(
        |response: Response<S::Body>| async move {
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_ANSWER).collect().await?.to_bytes();
            Ok(Response::from_parts(parts, bytes))
        },
    ))
}

/// Why a call to the authorization server gave no usable answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No answer within the timeout.
    TimedOut,
    /// The connection or the client failed.
    Transport(BoxError),
    /// An answer that is not a success.
    Status(StatusCode),
    /// A success whose body is not the JSON expected.
    Malformed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TimedOut => f.write_str("no answer in time"),
            Self::Transport(error) => write!(f, "{error}"),
            Self::Status(status) => write!(f, "answered {status}"),
            Self::Malformed(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

/// Sends `request` and parses a 2xx answer's body as `T`.
pub(crate) async fn json<T: serde::de::DeserializeOwned>(
    client: &Client,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<T, CallError> {
    let answer = tokio::time::timeout(timeout, client.clone().oneshot(request))
        .await
        .map_err(|_| CallError::TimedOut)?
        .map_err(CallError::Transport)?;
    if !answer.status().is_success() {
        return Err(CallError::Status(answer.status()));
    }
    serde_json::from_slice(answer.body()).map_err(|e| CallError::Malformed(e.to_string()))
}

/// `GET uri`, asking for JSON.
pub(crate) fn get(uri: &Uri) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = uri.clone();
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// Whether `uri` may be fetched: `https://`, or `http://` to a loopback
/// host (tests and sidecars), never anything else.
pub(crate) fn is_allowed(uri: &Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => uri.host().is_some(),
        Some("http") => uri.host().is_some_and(tower_claude_core::is_loopback_host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    #[test]
    fn plain_http_only_to_loopback() {
        for allowed in [
            "https://issuer.example",
            "https://issuer.example/tenant",
            "http://localhost:8080",
            "http://127.0.0.1:9000/x",
            "http://[::1]:9000",
        ] {
            assert!(is_allowed(&allowed.parse().unwrap()), "{allowed}");
        }
        for refused in [
            "http://issuer.example",
            "http://10.0.0.1",
            "http://localhost.attacker.example",
            "ftp://localhost",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(!is_allowed(&refused.parse().unwrap()), "{refused}");
        }
    }
}
