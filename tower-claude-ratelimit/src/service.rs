//! The `RateLimit` service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response};
use tower_claude_core::{Rejection, ResponseBody};
use tower_service::Service;

use crate::decision::Decision;
use crate::future::{ResponseFuture, Stamp};
use crate::headers::RateLimitHeaders;
use crate::layer::{Config, Policy};
#[cfg(feature = "metrics")]
use crate::metrics::Outcome;
use crate::plan::Plan;
use crate::store::{Check, RateLimitStore, StoreError};

/// The service of [`RateLimitLayer`](crate::RateLimitLayer).
pub struct RateLimit<S, St: RateLimitStore> {
    inner: S,
    config: Arc<Config<St>>,
}

tower_claude_core::inner_service_access!(RateLimit<S, St: RateLimitStore>);

impl<S, St: RateLimitStore> RateLimit<S, St> {
    pub(crate) fn new(inner: S, config: Arc<Config<St>>) -> Self {
        Self { inner, config }
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    St: RateLimitStore,
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
        let config = &*self.config;
        let plan = config.plan(
            request.method(),
            request.uri(),
            request.headers(),
            request.extensions(),
        );
        let (id, key) = match plan {
            Plan::Pass => {
                #[cfg(feature = "metrics")]
                count_unlimited(config, &request, Outcome::Exempt);
                return ResponseFuture::inner(self.inner.call(request), None);
            }
            Plan::Refuse(rejection) => {
                #[cfg(feature = "metrics")]
                count_unlimited(config, &request, Outcome::Unidentified);
                return ResponseFuture::refused(config.responder.respond_to(&request, &rejection));
            }
            Plan::Limit(id, key) => (id, key),
        };
        let policy = config.policy(id);
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let check = config.store.check(&policy.bucket, &key);
        #[cfg(feature = "metrics")]
        if let Check::Ready(answer) = &check {
            crate::metrics::store_took(config.store.kind(), started.elapsed());
            policy.counters.decided(answer);
        }
        match check {
            Check::Ready(Ok(decision)) if decision.is_allowed() => {
                let stamp = stamp(config, policy, decision);
                ResponseFuture::inner(self.inner.call(request), stamp)
            }
            Check::Ready(outcome) => {
                ResponseFuture::refused(refuse(config, policy, &request, outcome))
            }
            Check::Pending(decision) => {
                // `poll_ready` readied `self.inner`; that instance goes with the
                // request, and a fresh clone stays for the next `poll_ready`.
                let mut inner = tower_claude_core::take_ready(&mut self.inner);
                let config = Arc::clone(&self.config);
                ResponseFuture::deciding(Box::pin(async move {
                    let policy = config.policy(id);
                    let decision = decision.await;
                    #[cfg(feature = "metrics")]
                    {
                        crate::metrics::store_took(config.store.kind(), started.elapsed());
                        policy.counters.decided(&decision);
                    }
                    match decision {
                        Ok(decision) if decision.is_allowed() => {
                            let stamp = stamp(&config, policy, decision);
                            let mut response = inner.call(request).await?;
                            if let Some(stamp) = stamp {
                                stamp.apply(&mut response);
                            }
                            Ok(response.map(ResponseBody::inner))
                        }
                        outcome => Ok(refuse(&config, policy, &request, outcome)),
                    }
                }))
            }
        }
    }
}

/// Counts a request that reached no store under the policy of its path.
#[cfg(feature = "metrics")]
fn count_unlimited<St: RateLimitStore, B>(
    config: &Config<St>,
    request: &Request<B>,
    outcome: Outcome,
) {
    config
        .policy_of(request.method(), request.uri().path())
        .counters
        .count(outcome);
}

/// The fields to write on an admitted request's response, if any are on.
fn stamp<St: RateLimitStore>(
    config: &Config<St>,
    policy: &Policy<St::Bucket>,
    decision: Decision,
) -> Option<Stamp> {
    (config.headers != RateLimitHeaders::None).then(|| Stamp {
        policy: Arc::clone(&policy.headers),
        decision,
        style: config.headers,
    })
}

/// The answer to a request the store refused, or could not decide.
fn refuse<St: RateLimitStore, ReqBody, B>(
    config: &Config<St>,
    policy: &Policy<St::Bucket>,
    request: &Request<ReqBody>,
    outcome: Result<Decision, StoreError>,
) -> Response<ResponseBody<B>> {
    match outcome {
        Ok(decision) => {
            let seconds = decision.retry_after_secs();
            crate::audit::limited(config, request, policy.info.name(), seconds);
            let rejection = Rejection::too_many_requests(
                "rate_limited",
                format!("rate limit exceeded; retry in {seconds} s"),
            );
            let mut response = config.responder.respond_to(request, &rejection);
            policy
                .headers
                .stamp(response.headers_mut(), config.headers, &decision);
            response
        }
        Err(error) => {
            let nanos = u64::try_from(error.retry_after().as_nanos()).unwrap_or(u64::MAX);
            let seconds = crate::decision::ceil_secs(nanos).max(1);
            crate::audit::store_error(config, request, policy.info.name(), error.message());
            let rejection = Rejection::unavailable(
                "rate_limit_unavailable",
                "rate limiting is unavailable; retry later",
            )
            .with_header(RETRY_AFTER, HeaderValue::from(seconds));
            config.responder.respond_to(request, &rejection)
        }
    }
}

impl<S: Clone, St: RateLimitStore> Clone for RateLimit<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, St: RateLimitStore + fmt::Debug> fmt::Debug for RateLimit<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("config", &*self.config)
            .finish()
    }
}
