//! Opaque tokens through the authorization server's introspection endpoint
//! (RFC 7662): client authentication `client_secret_basic`, answers cached
//! (an active one until its `exp`, bounded; an inactive one briefly), and one
//! call shared by every request that brings the same token at once.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use serde::Deserialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::http::{CallError, Client, json};
use super::jwt::{Audience, Rules, identity};
use crate::cache::TtlCache;
use crate::keyed_hash::{TokenHash, TokenHasher};
use crate::verifier::Verification;

/// How long a client is told to wait when the endpoint could not answer.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The cache's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheLimits {
    /// The longest an active answer is kept, whatever its `exp`.
    pub(crate) max_active: Duration,
    /// How long an active answer without `exp` is kept.
    pub(crate) active_without_exp: Duration,
    /// How long an inactive answer is kept.
    pub(crate) inactive: Duration,
    /// Answers kept at most.
    pub(crate) capacity: usize,
}

pub(crate) struct Introspection {
    client: Client,
    endpoint: Uri,
    authorization: HeaderValue,
    timeout: Duration,
    limits: CacheLimits,
    hasher: TokenHasher,
    cache: TtlCache<Verification>,
    in_flight: Mutex<HashMap<TokenHash, Arc<OnceCell<Verification>>>>,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    token_type: Option<String>,
}

/// `application/x-www-form-urlencoded` (RFC 6749 appendix B).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

impl Introspection {
    pub(crate) fn new(
        client: Client,
        endpoint: Uri,
        client_id: &str,
        client_secret: &str,
        timeout: Duration,
        limits: CacheLimits,
    ) -> Option<Self> {
        // RFC 6749 section 2.3.1: both form-encoded, then Basic.
        let credentials = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials))).ok()?;
        authorization.set_sensitive(true);
        Some(Self {
            client,
            endpoint,
            authorization,
            timeout,
            limits,
            hasher: TokenHasher::random(),
            cache: TtlCache::new(Duration::ZERO, limits.capacity),
            in_flight: Mutex::default(),
        })
    }

    /// The answer kept for `token`, if any.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Verification> {
        self.cache.get(&self.hasher.hash(token), Instant::now())
    }

    /// The verdict on an opaque `token`: cached, or shared with a call under
    /// way for it, or asked for now.
    pub(crate) async fn verify(&self, rules: &Rules, token: &str) -> Verification {
        let hash = self.hasher.hash(token.as_bytes());
        if let Some(cached) = self.cache.get(&hash, Instant::now()) {
            return cached;
        }
        let guard = InFlight {
            map: &self.in_flight,
            hash,
            cell: Some(Arc::clone(
                self.in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(hash)
                    .or_default(),
            )),
        };
        let Some(cell) = &guard.cell else {
            return Verification::Invalid;
        };
        cell.get_or_init(|| async {
            let verdict = self.ask(rules, token).await;
            self.remember(hash, &verdict.0, verdict.1);
            verdict.0
        })
        .await
        .clone()
    }

    fn remember(&self, hash: TokenHash, verdict: &Verification, keep: Option<Duration>) {
        if let Some(keep) = keep {
            let now = Instant::now();
            self.cache
                .insert_until(hash, verdict.clone(), now, now + keep);
        }
    }

    /// One call to the endpoint: the verdict, and how long to keep it.
    async fn ask(&self, rules: &Rules, token: &str) -> (Verification, Option<Duration>) {
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.endpoint.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, self.authorization.clone());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        match json::<Answer>(&self.client, request, self.timeout).await {
            Ok(answer) => self.judge(rules, answer),
            Err(error) => {
                tracing::warn!(
                    target: "tower_claude_auth",
                    endpoint = %self.endpoint,
                    error = %error_kind(&error),
                    "token introspection failed; answering 503"
                );
                (
                    Verification::Unavailable {
                        retry_after: UNAVAILABLE_RETRY_AFTER,
                    },
                    None,
                )
            }
        }
    }

    fn judge(&self, rules: &Rules, answer: Answer) -> (Verification, Option<Duration>) {
        let inactive = (Verification::Invalid, Some(self.limits.inactive));
        if !answer.active {
            return inactive;
        }
        // An answer may name the issuer and audience; when it does, they
        // must be this resource's (RFC 7662 section 4).
        if let (Some(iss), Some(issuer)) = (&answer.iss, &rules.issuer)
            && iss != issuer
        {
            return inactive;
        }
        let for_us = match &answer.aud {
            Some(aud) => aud.contains(&rules.audience),
            None => !rules.introspection_needs_audience,
        };
        if !for_us {
            return inactive;
        }
        // `token_type_hint` is only a hint: a server that introspects refresh
        // or ID tokens too says so here, and those are no access tokens.
        if answer.token_type.as_deref().is_some_and(|kind| {
            let kind = kind.to_ascii_lowercase();
            kind.contains("refresh") || kind.contains("id_token")
        }) {
            return inactive;
        }
        let keep = match rules.window(answer.exp, answer.nbf) {
            Ok(Some(valid_for)) => valid_for.min(self.limits.max_active),
            Ok(None) => self.limits.active_without_exp,
            Err(_) => return inactive,
        };
        match identity(answer.sub, answer.client_id, answer.scope.as_deref()) {
            Some(who) => (Verification::Valid(who), Some(keep)),
            None => inactive,
        }
    }
}

/// The error without what an endpoint's answer body may echo.
fn error_kind(error: &CallError) -> String {
    match error {
        CallError::Malformed(_) => "malformed answer".to_owned(),
        other => other.to_string(),
    }
}

/// Leaves the in-flight map however the request ends (a client that hangs
/// up must not leave its entry behind): under the lock, each request drops
/// its reference, and the one that leaves the map's alone removes the entry,
/// so a finished verdict never answers a later request.
struct InFlight<'a> {
    map: &'a Mutex<HashMap<TokenHash, Arc<OnceCell<Verification>>>>,
    hash: TokenHash,
    cell: Option<Arc<OnceCell<Verification>>>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mine) = self.cell.take() else { return };
        let same = map
            .get(&self.hash)
            .is_some_and(|cell| Arc::ptr_eq(cell, &mine));
        drop(mine);
        if same
            && map
                .get(&self.hash)
                .is_some_and(|cell| Arc::strong_count(cell) == 1)
        {
            map.remove(&self.hash);
        }
    }
}
