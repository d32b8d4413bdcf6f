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
}

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
    ) -> Self {
        Self {
            client,
            issuer,
            issuer_uri,
            timeout,
            interval,
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
            return Found::Key(key);
        }
        let mut last = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(key) = self.lookup(kid, alg) {
            return Found::Key(key);
        }
        if let Some((at, ok)) = *last {
            let since = at.elapsed();
            if since < self.interval {
                return if ok {
                    Found::Unknown
                } else {
                    Found::Unavailable(self.interval.saturating_sub(since))
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
                Found::Unavailable(self.interval)
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
        let mut set = KeySet::default();
        for jwk in &jwks.keys {
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
                    if !is_allowed(&jwks_uri) {
                        return Err(CallError::Malformed(
                            "jwks_uri is not https:// (http:// only on loopback)".into(),
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
