//! The issuer's signing keys: found through its metadata, fetched once,
//! refreshed when a token names a key not seen yet (at most once per
//! interval, so made-up key ids cost the issuer a handful of fetches), and
//! swapped in without a restart.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Uri;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::http::{CallError, Client, get, is_allowed, json};
use super::urls;

/// A verification key and the one algorithm it is used with.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one fetch, by key id.
#[derive(Default)]
struct KeySet {
    named: HashMap<String, Key>,
    unnamed: Vec<Key>,
    /// When it was fetched (`None`: never).
    fetched: Option<Instant>,
}

/// The most keys read from one key set.
const MAX_KEYS: usize = 64;

/// What a key lookup found.
pub(crate) enum Found {
    Key(Key),
    /// No such key, even after a refresh (or a refresh was not due).
    Unknown,
    /// The issuer could not be asked: its metadata or keys did not load.
    Unavailable(Duration),
}

pub(crate) struct KeySource {
    client: Client,
    issuer: String,
    issuer_uri: Uri,
    timeout: Duration,
    interval: Duration,
    /// The oldest a key set is used without asking again: a key the issuer
    /// removed stops being trusted within it.
    max_age: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// The key set's address, once the metadata named it.
    jwks_uri: RwLock<Option<Uri>>,
    /// The last refresh: when, and whether it failed. Held across a refresh,
    /// so that concurrent requests for unknown keys share one.
    refresh: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

impl KeySource {
    pub(crate) fn new(
        client: Client,
        issuer: String,
        issuer_uri: Uri,
        timeout: Duration,
        interval: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            client,
            issuer,
            issuer_uri,
            timeout,
            interval,
            max_age,
            keys: RwLock::default(),
            jwks_uri: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Option<Key> {
        let keys = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        match kid {
            Some(kid) => keys.named.get(kid).cloned(),
            // No key id: only when exactly one key could have signed it.
            None => {
                let mut candidates = keys
                    .named
                    .values()
                    .chain(&keys.unnamed)
                    .filter(|key| key.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Some(key.clone()),
                    _ => None,
                }
            }
        }
    }

    /// The key a token names, refreshing the set when it is unknown and a
    /// refresh is due.
    pub(crate) async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Found {
        if let Some(key) = self.lookup(kid, alg) {
            if !self.is_stale() {
                return Found::Key(key);
            }
            // A stale set: one request refreshes it, the others go on with it
            // (a request with a known key id never waits on another's fetch).
            let Ok(last) = self.refresh.try_lock() else {
                return Found::Key(key);
            };
            return self.refresh_with(last, kid, alg).await;
        }
        let last = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(key) = self.lookup(kid, alg) {
            return Found::Key(key);
        }
        self.refresh_with(last, kid, alg).await
    }

    fn is_stale(&self) -> bool {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.fetched.is_none_or(|at| at.elapsed() >= self.max_age)
    }

    /// Fetches the set again if a fetch is due, holding `last` (the refresh
    /// lock), and looks the key up in what it has then.
    async fn refresh_with(
        &self,
        mut last: tokio::sync::MutexGuard<'_, Option<(Instant, bool)>>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Found {
        if let Some((at, ok)) = *last {
            let since = at.elapsed();
            if since < self.interval {
                return match self.lookup(kid, alg) {
                    Some(key) => Found::Key(key),
                    None if ok => Found::Unknown,
                    None => Found::Unavailable(self.interval.saturating_sub(since)),
                };
            }
        }
        let fetched = self.fetch().await;
        *last = Some((Instant::now(), fetched.is_ok()));
        match fetched {
            Ok(set) => {
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
                self.lookup(kid, alg).map_or(Found::Unknown, Found::Key)
            }
            Err(error) => {
                tracing::warn!(
                    target: "tower_claude_auth",
                    issuer = %self.issuer,
                    %error,
                    "the issuer's signing keys could not be fetched"
                );
                // A stale set still verifies while the issuer is down: an
                // outage must not refuse every token.
                match self.lookup(kid, alg) {
                    Some(key) => Found::Key(key),
                    None => Found::Unavailable(self.interval),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, CallError> {
        let known = self
            .jwks_uri
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let uri = self.discover().await?;
                *self
                    .jwks_uri
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(uri.clone());
                uri
            }
        };
        let jwks: Jwks = json(&self.client, get(&jwks_uri), self.timeout).await?;
        let mut set = KeySet {
            fetched: Some(Instant::now()),
            ..KeySet::default()
        };
        // A key set is a few keys; a bigger one is cut, never a memory sink.
        for jwk in jwks.keys.iter().take(MAX_KEYS) {
            let Some(key) = key_of(jwk) else { continue };
            match jwk.get("kid").and_then(serde_json::Value::as_str) {
                Some(kid) => {
                    set.named.insert(kid.to_owned(), key);
                }
                None => set.unnamed.push(key),
            }
        }
        tracing::info!(
            target: "tower_claude_auth",
            issuer = %self.issuer,
            keys = set.named.len() + set.unnamed.len(),
            "fetched the issuer's signing keys"
        );
        Ok(set)
    }

    /// The key set's address from the issuer's metadata: RFC 8414 first,
    /// then OpenID Connect Discovery. The metadata must name this issuer
    /// exactly (RFC 8414 section 3.3), and the key set must be `https://`
    /// (or `http://` on loopback).
    async fn discover(&self) -> Result<Uri, CallError> {
        let candidates = [
            urls::inserted(&self.issuer_uri, "oauth-authorization-server"),
            urls::appended(&self.issuer_uri, "openid-configuration"),
        ];
        let mut last = CallError::Malformed("the issuer has no metadata URL".into());
        for url in candidates.into_iter().flatten() {
            let Ok(uri) = url.parse::<Uri>() else {
                continue;
            };
            match json::<Metadata>(&self.client, get(&uri), self.timeout).await {
                Ok(metadata) => {
                    if metadata.issuer != self.issuer {
                        return Err(CallError::Malformed(format!(
                            "the metadata at {url} names the issuer {:?}, not {:?}",
                            metadata.issuer, self.issuer
                        )));
                    }
                    let jwks_uri: Uri = metadata
                        .jwks_uri
                        .parse()
                        .map_err(|_| CallError::Malformed("jwks_uri is not a URL".into()))?;
                    // Plain http only for a loopback issuer (tests, sidecars):
                    // an https issuer's metadata cannot aim us at loopback http.
                    let issuer_plain = self.issuer_uri.scheme_str() == Some("http");
                    let jwks_plain = jwks_uri.scheme_str() == Some("http");
                    if !is_allowed(&jwks_uri) || (jwks_plain && !issuer_plain) {
                        return Err(CallError::Malformed(
                            "jwks_uri is not https:// (http:// only for a loopback issuer)".into(),
                        ));
                    }
                    return Ok(jwks_uri);
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

/// A JWK as a key for one of RS256, ES256 or EdDSA: the algorithm is the
/// key's (its `alg`, or its type and curve), never the token's. Keys for
/// other uses or algorithms, and RSA keys under 2048 bits, are skipped.
fn key_of(jwk: &serde_json::Value) -> Option<Key> {
    let field = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    if field("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    let from_type = match (field("kty")?, field("crv")) {
        ("RSA", _) => Algorithm::RS256,
        ("EC", Some("P-256")) => Algorithm::ES256,
        ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
        _ => return None,
    };
    let alg = match field("alg") {
        None => from_type,
        Some("RS256") if from_type == Algorithm::RS256 => Algorithm::RS256,
        Some("ES256") if from_type == Algorithm::ES256 => Algorithm::ES256,
        Some("EdDSA" | "Ed25519") if from_type == Algorithm::EdDSA => Algorithm::EdDSA,
        Some(_) => return None,
    };
    let key = match alg {
        Algorithm::RS256 => {
            let n = field("n")?;
            let bits = URL_SAFE_NO_PAD
                .decode(n)
                .ok()?
                .iter()
                .skip_while(|b| **b == 0)
                .count()
                * 8;
            if bits < 2048 {
                return None;
            }
            DecodingKey::from_rsa_components(n, field("e")?).ok()?
        }
        Algorithm::ES256 => DecodingKey::from_ec_components(field("x")?, field("y")?).ok()?,
        _ => DecodingKey::from_ed_components(field("x")?).ok()?,
    };
    Some(Key { alg, key })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::Full;

    use super::*;

    /// RFC 8032 section 7.1, test 1: a valid Ed25519 public key.
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[tokio::test]
    async fn a_key_the_issuer_removed_stops_being_trusted_within_the_max_age() {
        let serve_a = Arc::new(AtomicBool::new(true));
        let served = Arc::clone(&serve_a);
        let client = super::super::http::client(tower::service_fn(
            move |request: Request<Full<Bytes>>| {
                let serve_a = served.load(Ordering::SeqCst);
                async move {
                    let body = match request.uri().path() {
                        "/.well-known/oauth-authorization-server" => serde_json::json!({
                            "issuer": "http://127.0.0.1:9",
                            "jwks_uri": "http://127.0.0.1:9/jwks",
                        }),
                        _ => {
                            let mut keys = vec![
                                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "b", "x": X}),
                            ];
                            if serve_a {
                                keys.push(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": X}));
                            }
                            serde_json::json!({ "keys": keys })
                        }
                    };
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body.to_string()))))
                }
            },
        ));
        let source = KeySource::new(
            client,
            "http://127.0.0.1:9".into(),
            "http://127.0.0.1:9".parse().unwrap(),
            Duration::from_secs(5),
            Duration::from_millis(10),
            Duration::from_millis(50),
        );
        assert!(matches!(
            source.key(Some("a"), Algorithm::EdDSA).await,
            Found::Key(_)
        ));
        serve_a.store(false, Ordering::SeqCst);
        // Fresh: the cached set still answers, without a fetch.
        assert!(matches!(
            source.key(Some("a"), Algorithm::EdDSA).await,
            Found::Key(_)
        ));
        tokio::time::sleep(Duration::from_millis(120)).await;
        // Stale: this request fetches again, and `a` is gone.
        assert!(matches!(
            source.key(Some("a"), Algorithm::EdDSA).await,
            Found::Unknown
        ));
        assert!(matches!(
            source.key(Some("b"), Algorithm::EdDSA).await,
            Found::Key(_)
        ));
        // Without a kid: the one key of the token's algorithm, if only one
        // could have signed it (`a` and `b` were two before).
        assert!(matches!(
            source.key(None, Algorithm::EdDSA).await,
            Found::Key(_)
        ));
        assert!(matches!(
            source.key(None, Algorithm::RS256).await,
            Found::Unknown
        ));
    }
}
