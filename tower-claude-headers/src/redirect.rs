//! Redirecting plain-HTTP requests to HTTPS, without becoming an open redirect.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HOST, HeaderValue, LOCATION};
use http::{Request, Response, StatusCode};
use tower_claude_core::{
    ClientIpResolver, LayerAnswer, LogThrottle, PathRules, Rejection, RejectionBody, RequestHead,
    Responder, ResponseBody, SharedResponder,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::HeaderConfigError;
use crate::policy::is_https;

/// Answers plain-HTTP requests with `308 Permanent Redirect` to
/// `https://host/path?query`.
///
/// The host comes from the request, so it must be on the allowlist: otherwise a
/// forged `Host: evil.example` would make this an open redirect. A request for
/// another host gets a 400. Exempt paths (health checks over plain HTTP from a
/// load balancer) and gRPC calls (gRPC clients do not follow redirects) pass
/// through. HTTPS is the connection's own TLS, marked by a
/// [`TlsConnection`](tower_claude_core::TlsConnection) extension that a server
/// terminating TLS inserts into each request (for example with
/// `axum::Extension(TlsConnection)` as a layer on a TLS-only listener), or
/// `X-Forwarded-Proto: https` from a trusted proxy; never a scheme the client
/// wrote. A TLS listener that inserts neither gets redirected to itself.
///
/// ```
/// use tower_claude_headers::redirect::HttpsRedirectLayer;
///
/// let redirect = HttpsRedirectLayer::new(["example.com", "*.example.com"])
///     .exempt_paths(["/health"]);
/// assert!(HttpsRedirectLayer::try_new(["example.com/evil"]).is_err());
/// # let _ = redirect;
/// ```
#[derive(Clone)]
pub struct HttpsRedirectLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    hosts: Vec<HostRule>,
    exempt: PathRules,
    https_port: Option<u16>,
    resolver: ClientIpResolver,
    responder: SharedResponder,
    refusal_log: Arc<LogThrottle>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Exact(String),
    /// `*.example.com`: any subdomain, not `example.com` itself.
    Subdomains(String),
}

impl HttpsRedirectLayer {
    /// Redirects requests for these hosts (`example.com`, or `*.example.com`
    /// for its subdomains), compared without port and case.
    ///
    /// # Panics
    /// When a host is empty or holds a character a host cannot (`/`, `@`,
    /// whitespace, `:`...); see [`try_new`](Self::try_new).
    pub fn new(hosts: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self::try_new(hosts).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`new`](Self::new), reporting an invalid host instead of panicking.
    ///
    /// # Errors
    /// When a host is empty or holds a character a host cannot (`/`, `@`,
    /// whitespace, `:`...).
    pub fn try_new(
        hosts: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, HeaderConfigError> {
        let mut rules = Vec::new();
        for host in hosts {
            let host = host.as_ref();
            let lower = host.to_ascii_lowercase();
            let (rule, name) = match lower.strip_prefix("*.") {
                Some(rest) => (HostRule::Subdomains(format!(".{rest}")), rest.to_owned()),
                None => (HostRule::Exact(lower.clone()), lower.clone()),
            };
            if !is_host_name(&name) {
                return Err(HeaderConfigError::InvalidHost(host.to_owned()));
            }
            rules.push(rule);
        }
        Ok(Self {
            config: Arc::new(Config {
                hosts: rules,
                exempt: PathRules::new(),
                https_port: None,
                resolver: ClientIpResolver::new(),
                responder: SharedResponder::default(),
                refusal_log: Arc::new(LogThrottle::standard()),
            }),
        })
    }

    /// Paths that stay reachable over plain HTTP, exact (see [`PathRules`]).
    ///
    /// # Panics
    /// When a path is not a clean absolute path; see
    /// [`try_exempt_paths`](Self::try_exempt_paths).
    #[must_use]
    pub fn exempt_paths(self, paths: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.try_exempt_paths(paths)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`exempt_paths`](Self::exempt_paths), reporting a path that is not
    /// clean instead of panicking.
    ///
    /// # Errors
    /// The first path that is not a clean absolute path.
    pub fn try_exempt_paths(
        mut self,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, HeaderConfigError> {
        let config = Arc::make_mut(&mut self.config);
        config.exempt = std::mem::take(&mut config.exempt).try_exact_all(paths)?;
        Ok(self)
    }

    /// Requests that stay reachable over plain HTTP, as a set of path rules.
    /// Replaces the paths given before.
    #[must_use]
    pub fn exempt(mut self, rules: PathRules) -> Self {
        Arc::make_mut(&mut self.config).exempt = rules;
        self
    }

    /// How refusals (a host outside the allowlist) are written (default: the
    /// JSON body, or a gRPC status for gRPC requests).
    #[must_use]
    pub fn responder(mut self, responder: impl Responder) -> Self {
        Arc::make_mut(&mut self.config).responder = SharedResponder::new(responder);
        self
    }

    /// The HTTPS port, when it is not 443.
    #[must_use]
    pub fn https_port(mut self, port: u16) -> Self {
        Arc::make_mut(&mut self.config).https_port = (port != 443).then_some(port);
        self
    }

    /// Believe `X-Forwarded-Proto: https` from peers these proxies cover.
    #[must_use]
    pub fn client_ip(mut self, resolver: ClientIpResolver) -> Self {
        Arc::make_mut(&mut self.config).resolver = resolver;
        self
    }
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Config {
    /// The host of the request, lowercase and without port, if it is allowed.
    fn allowed_host<B>(&self, request: &Request<B>) -> Option<String> {
        let raw = match request.uri().host() {
            Some(host) => host.to_owned(),
            None => {
                let value = request.headers().get(HOST)?.to_str().ok()?;
                let authority: http::uri::Authority = value.parse().ok()?;
                // `Host: a@b` parses as an authority with user info: refuse it.
                if authority.as_str().contains('@') {
                    return None;
                }
                authority.host().to_owned()
            }
        };
        let host = raw.to_ascii_lowercase();
        if !is_host_name(&host) {
            return None;
        }
        let allowed = self.hosts.iter().any(|rule| match rule {
            HostRule::Exact(name) => *name == host,
            HostRule::Subdomains(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        });
        allowed.then_some(host)
    }

    fn location<B>(&self, request: &Request<B>, host: &str) -> Option<HeaderValue> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let port = self.https_port.map(|p| format!(":{p}")).unwrap_or_default();
        HeaderValue::from_str(&format!("https://{host}{port}{path}")).ok()
    }
}

impl<S> Layer<S> for HttpsRedirectLayer {
    type Service = HttpsRedirect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpsRedirect {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`HttpsRedirectLayer`].
#[derive(Clone)]
pub struct HttpsRedirect<S> {
    inner: S,
    config: Arc<Config>,
}

tower_claude_core::inner_service_access!(HttpsRedirect<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpsRedirect<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RedirectFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        if is_https(&config.resolver, &request)
            || RequestHead::of(&request).is_grpc()
            || config
                .exempt
                .is_match(request.method(), request.uri().path())
        {
            return RedirectFuture::inner(self.inner.call(request));
        }
        let location = config
            .allowed_host(&request)
            .and_then(|host| config.location(&request, &host));
        let Some(location) = location else {
            let admit = config.refusal_log.admit("unknown_host");
            if let Some(left_out) = admit.left_out {
                tracing::info!(
                    target: "tower_claude_headers",
                    left_out,
                    "HTTPS redirect refusals not logged in the last interval"
                );
            }
            if admit.write {
                tracing::info!(
                    target: "tower_claude_headers",
                    host = ?request.headers().get(HOST),
                    "HTTPS redirect refused: host not on the allowlist"
                );
            }
            let rejection = Rejection::bad_request(
                "unknown_host",
                "this server does not serve the requested host",
            );
            return RedirectFuture::answer(config.responder.respond_to(&request, &rejection));
        };
        let mut response = Response::new(ResponseBody::rejection(RejectionBody::new(Bytes::new())));
        *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
        response.headers_mut().insert(LOCATION, location);
        RedirectFuture::answer(response)
    }
}

impl<S: fmt::Debug> fmt::Debug for HttpsRedirect<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsRedirect")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HttpsRedirectLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsRedirectLayer")
            .field("hosts", &self.config.hosts)
            .field("exempt", &self.config.exempt)
            .field("https_port", &self.config.https_port)
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`HttpsRedirect`].
    pub struct RedirectFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Answer { answer: LayerAnswer<B, Infallible> },
    }
}

impl<F, B> RedirectFuture<F, B> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn answer(response: Response<ResponseBody<B>>) -> Self {
        Self {
            kind: Kind::Answer {
                answer: LayerAnswer::ready(response),
            },
        }
    }
}

impl<F, B, E> std::future::Future for RedirectFuture<F, B>
where
    F: std::future::Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => match future.poll(cx) {
                Poll::Ready(result) => Poll::Ready(result.map(|r| r.map(ResponseBody::inner))),
                Poll::Pending => Poll::Pending,
            },
            KindProj::Answer { answer } => std::pin::Pin::new(answer)
                .poll(cx)
                .map(|answered| answered.map_err(|never| match never {})),
        }
    }
}

impl<F, B> fmt::Debug for RedirectFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedirectFuture").finish_non_exhaustive()
    }
}
