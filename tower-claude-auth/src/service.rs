//! The `BearerAuth` service.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{FORWARDED, HeaderName, VIA};
use http::{Request, Response};
use tower_claude_core::{Ipv6Prefix, ResponseBody, peer_addr};
use tower_service::Service;

use crate::answers::Refusal;
use crate::fair::Client;
use crate::future::ResponseFuture;
use crate::layer::{Backend, Config};
use crate::store::Check;
use crate::token::{HeaderProblem, bearer_token};
use crate::verifier::{Authenticated, Verification};

/// Headers only a proxy adds: a loopback peer sending any of them is a proxy
/// speaking for someone else.
const PROXY_HEADERS: [HeaderName; 9] = [
    FORWARDED,
    VIA,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("true-client-ip"),
    HeaderName::from_static("cf-connecting-ip"),
    HeaderName::from_static("x-client-ip"),
];

/// The service of [`BearerAuthLayer`](crate::BearerAuthLayer).
pub struct BearerAuth<S> {
    inner: S,
    config: Arc<Config>,
}

tower_claude_core::inner_service_access!(BearerAuth<S>);

impl<S> BearerAuth<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.is_exempt(&request) {
            crate::audit::public(&request);
            #[cfg(feature = "metrics")]
            crate::metrics::public();
            return ResponseFuture::inner(self.inner.call(request));
        }
        let token = match bearer_token(request.headers()) {
            Ok(token) => token,
            Err(HeaderProblem::Missing) => return self.refuse(&request, Refusal::Missing),
            Err(HeaderProblem::Malformed(why)) => {
                return self.refuse(&request, Refusal::Malformed(why));
            }
        };
        #[cfg(feature = "oauth")]
        if let Some(oauth) = &self.config.oauth {
            // A JWT accepted before is decided here, without a boxed future.
            if let Some(verdict) = oauth.cached_jwt(token) {
                return self.decide(request, verdict, Source::OAuth);
            }
            let token = token.to_vec();
            return self.call_oauth(request, &token, oauth.clone());
        }
        match &self.config.backend {
            Backend::Store(store) => match store.check(token) {
                Check::Done(verification) => self.decide(request, verification, Source::Key),
                Check::Bcrypt(job) => {
                    let client = self.client_of(&request);
                    let run = job.run(client);
                    self.verify_later(request, async move { (run.await, Source::Key) })
                }
            },
            Backend::Custom(verifier) => {
                let verifier = Arc::clone(verifier);
                // b64token bytes are ASCII, so this conversion is total.
                let token = String::from_utf8_lossy(token).into_owned();
                self.verify_later(request, async move {
                    (verifier.verify(&token).await, Source::Key)
                })
            }
        }
    }
}

/// Which check refused a token: the layer's keys (403 by default), or the
/// OAuth resource server (401 `invalid_token`, RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Key,
    #[cfg(feature = "oauth")]
    OAuth,
}

#[cfg(feature = "oauth")]
impl<S> BearerAuth<S> {
    /// With OAuth on: a JWT-shaped token goes to the JWT check alone; any
    /// other to the layer's keys first (an API key never reaches the
    /// authorization server), then to introspection when it is configured.
    fn call_oauth<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        token: &[u8],
        oauth: crate::oauth::OAuth,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: 'static,
        ReqBody: Send + 'static,
        ResBody: Send + 'static,
    {
        // b64token bytes are ASCII, so this conversion is total.
        let owned = || String::from_utf8_lossy(token).into_owned();
        if oauth.takes_jwt(token) {
            let token = owned();
            return self.verify_later(request, async move {
                (oauth.verify_jwt(&token).await, Source::OAuth)
            });
        }
        let then_introspect = |first: Verification, token: String, oauth: crate::oauth::OAuth| async move {
            match first {
                Verification::Invalid if oauth.introspects() => {
                    (oauth.introspect(&token).await, Source::OAuth)
                }
                other => (other, Source::Key),
            }
        };
        match &self.config.backend {
            Backend::Store(store) => {
                // A token naming one of the keys is an API key: it is never
                // sent to the authorization server, right or wrong.
                let introspect = oauth.introspects() && !store.names_a_key(token);
                // A token introspected before skips the keys (and their
                // bcrypt run): it failed them then.
                if introspect && let Some(verdict) = oauth.cached_introspection(token) {
                    return self.decide(request, verdict, Source::OAuth);
                }
                match store.check(token) {
                    Check::Done(Verification::Invalid) if introspect => {
                        let token = owned();
                        self.verify_later(request, async move {
                            (oauth.introspect(&token).await, Source::OAuth)
                        })
                    }
                    Check::Done(verification) => self.decide(request, verification, Source::Key),
                    Check::Bcrypt(job) if introspect => {
                        let client = self.client_of(&request);
                        let run = job.run(client);
                        let token = owned();
                        self.verify_later(request, async move {
                            then_introspect(run.await, token, oauth).await
                        })
                    }
                    Check::Bcrypt(job) => {
                        let client = self.client_of(&request);
                        let run = job.run(client);
                        self.verify_later(request, async move { (run.await, Source::Key) })
                    }
                }
            }
            Backend::Custom(verifier) => {
                let verifier = Arc::clone(verifier);
                let token = owned();
                self.verify_later(request, async move {
                    let first = verifier.verify(&token).await;
                    then_introspect(first, token, oauth).await
                })
            }
        }
    }
}

impl<S> BearerAuth<S> {
    /// Whose turn a bcrypt run takes: the client address (IPv6 by its /64,
    /// behind trusted proxies only), or nobody's when the server recorded no
    /// peer.
    fn client_of<B>(&self, request: &Request<B>) -> Client {
        self.config
            .client_ip
            .resolve(request.headers(), request.extensions())
            .ok()
            .map(|ip| Ipv6Prefix::default().apply(ip))
    }
}

impl<S> BearerAuth<S> {
    /// Requests that need no token: public paths and loopback peers when
    /// allowed.
    fn is_exempt<B>(&self, request: &Request<B>) -> bool {
        let config = &self.config;
        config
            .public
            .is_match(request.method(), request.uri().path())
            || (config.loopback && is_direct_loopback(request))
    }

    fn refuse<F, B, E, ReqBody>(
        &self,
        request: &Request<ReqBody>,
        refusal: Refusal,
    ) -> ResponseFuture<F, B, E> {
        ResponseFuture::refused(respond(&self.config, request, refusal, None))
    }

    fn decide<ReqBody, ResBody>(
        &mut self,
        mut request: Request<ReqBody>,
        verification: Verification,
        source: Source,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        match judge(&self.config, &request, verification, source) {
            Ok(who) => {
                request.extensions_mut().insert(who);
                ResponseFuture::authenticated(self.inner.call(request))
            }
            Err((refusal, key)) => {
                ResponseFuture::refused(respond(&self.config, &request, refusal, key.as_deref()))
            }
        }
    }

    fn verify_later<ReqBody, ResBody>(
        &mut self,
        mut request: Request<ReqBody>,
        verification: impl Future<Output = (Verification, Source)> + Send + 'static,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: 'static,
        ReqBody: Send + 'static,
        ResBody: Send + 'static,
    {
        // `poll_ready` readied `self.inner`; that instance goes with the request,
        // and a fresh clone stays for the next `poll_ready`.
        let mut inner = tower_claude_core::take_ready(&mut self.inner);
        let config = Arc::clone(&self.config);
        ResponseFuture::verifying(Box::pin(async move {
            let (verdict, source) = verification.await;
            match judge(&config, &request, verdict, source) {
                Ok(who) => {
                    request.extensions_mut().insert(who);
                    let mut response = inner.call(request).await?;
                    crate::future::mark_private(&mut response);
                    Ok(response.map(ResponseBody::inner))
                }
                Err((refusal, key)) => Ok(respond(&config, &request, refusal, key.as_deref())),
            }
        }))
    }
}

/// A verdict and the layer's scope requirements, to a decision: the
/// identity, or the refusal and the key it concerns (a valid key that lacks a
/// scope).
fn judge<B>(
    config: &Config,
    request: &Request<B>,
    verification: Verification,
    source: Source,
) -> Result<Authenticated, (Refusal, Option<Arc<str>>)> {
    match verification {
        Verification::Valid(who) => {
            if config.required_scopes.iter().all(|s| who.has_scope(s)) {
                crate::audit::allowed(config, request, &who.key);
                #[cfg(feature = "metrics")]
                crate::metrics::allowed();
                Ok(who)
            } else {
                Err((Refusal::InsufficientScope, Some(who.key)))
            }
        }
        Verification::Invalid => match source {
            Source::Key => Err((Refusal::InvalidToken, None)),
            #[cfg(feature = "oauth")]
            Source::OAuth => Err((Refusal::InvalidOAuthToken, None)),
        },
        Verification::Unavailable { retry_after } => Err((Refusal::Unavailable(retry_after), None)),
    }
}

fn respond<B, ReqBody>(
    config: &Config,
    request: &Request<ReqBody>,
    refusal: Refusal,
    key: Option<&str>,
) -> Response<ResponseBody<B>> {
    #[cfg(feature = "metrics")]
    crate::metrics::refused(refusal.code());
    crate::audit::refused(config, request, refusal, key);
    config
        .responder
        .respond_to(request, &refusal.rejection(config))
}

fn is_direct_loopback<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    if PROXY_HEADERS.iter().any(|name| headers.contains_key(name)) {
        return false;
    }
    peer_addr(request.extensions())
        .is_some_and(|peer| tower_claude_core::canonical_ip(peer.ip()).is_loopback())
}

impl<S: Clone> Clone for BearerAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for BearerAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("config", &*self.config)
            .finish()
    }
}
