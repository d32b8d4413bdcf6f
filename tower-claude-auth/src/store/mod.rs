//! Named keys, their scopes, and the caches that keep bcrypt off the hot path.

mod bcrypt_job;
mod builder;
mod key;

pub(crate) use bcrypt_job::BcryptJob;
use bcrypt_job::InFlight;
pub use builder::KeyStoreBuilder;
pub use key::{Key, KeyError};
use key::{MAX_NAME_LEN, is_valid_name};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::bcrypt_pool::{BcryptPool, BcryptStats};
use crate::cache::TtlCache;
use crate::credential::{BCRYPT_MAX_TOKEN_LEN, Kind};
use crate::keyed_hash::{PassThrough, TokenHash, TokenHasher};
use crate::verifier::{Authenticated, Verification};

/// A shared, mutable set of named keys.
///
/// Clones share the keys: add and revoke at run time through any clone, and the
/// next request sees it. A token names its key as `<name>.<secret>`, so however
/// many bcrypt keys the store holds, a request costs at most one bcrypt run. A
/// token without a known name prefix is checked against the *default* key, if
/// one is set (that is how [`BearerAuthLayer::new`](crate::BearerAuthLayer::new)
/// accepts a bare token).
///
/// bcrypt runs on tokio's blocking pool, a bounded number at a time (default: the
/// CPU count) with a bounded queue (default: 4 per worker); past that a request
/// gets a fast 503. A valid token is remembered under a keyed hash of it (never
/// the token) for 5 minutes; a wrong one for 10 seconds; concurrent requests with
/// one token share one bcrypt run.
///
/// ```
/// use tower_claude_auth::{Credential, Key, KeyStore};
///
/// let store = KeyStore::new()
///     .with("ci-bot", Key::new(Credential::plaintext("s3cret")).scopes(["deploy"]))
///     .with("dashboard", Credential::plaintext("other"));
/// // Later, from an admin endpoint:
/// store.revoke("ci-bot");
/// assert!(!store.contains("ci-bot"));
/// ```
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    keys: RwLock<Keys>,
    hasher: TokenHasher,
    valid: TtlCache<Arc<Entry>>,
    invalid: TtlCache<Arc<Entry>>,
    /// Verifications running now, by token, with the key each runs against:
    /// a request joins one only for the same key (not one that started
    /// against a key since replaced or revoked).
    in_flight: Mutex<HashMap<TokenHash, InFlight, PassThrough>>,
    pool: BcryptPool,
}

#[derive(Default)]
struct Keys {
    by_name: HashMap<Arc<str>, Arc<Entry>>,
    default: Option<Arc<Entry>>,
}

/// One key as the store holds it. Caches point at the entry, so a revoked or
/// replaced key can never match a cached verdict again.
struct Entry {
    identity: Authenticated,
    secret: Secret,
}

enum Secret {
    Plaintext(TokenHash),
    Sha256([u8; 32]),
    Bcrypt(Arc<str>),
}

/// The first step of checking a token: either a verdict, or a bcrypt run.
pub(crate) enum Check {
    Done(Verification),
    Bcrypt(BcryptJob),
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore {
    /// An empty store with the default tuning.
    pub fn new() -> Self {
        KeyStoreBuilder::default().build()
    }

    /// A store with other tuning.
    pub fn builder() -> KeyStoreBuilder {
        KeyStoreBuilder::default()
    }

    /// Adds a key, for chaining at start-up.
    ///
    /// # Panics
    /// When `name` is not a valid key name (see [`KeyError`]); see
    /// [`try_with`](Self::try_with).
    #[must_use]
    pub fn with(self, name: &str, key: impl Into<Key>) -> Self {
        self.try_with(name, key)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`with`](Self::with), reporting an invalid name instead of panicking.
    ///
    /// # Errors
    /// When `name` is not a valid key name.
    pub fn try_with(self, name: &str, key: impl Into<Key>) -> Result<Self, KeyError> {
        self.insert(name, key)?;
        Ok(self)
    }

    /// Adds a key that bare tokens (no `<name>.` prefix) are checked against.
    ///
    /// # Panics
    /// When `name` is not a valid key name; see
    /// [`try_with_default`](Self::try_with_default).
    #[must_use]
    pub fn with_default(self, name: &str, key: impl Into<Key>) -> Self {
        self.try_with_default(name, key)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`with_default`](Self::with_default), reporting an invalid name
    /// instead of panicking.
    ///
    /// # Errors
    /// When `name` is not a valid key name.
    pub fn try_with_default(self, name: &str, key: impl Into<Key>) -> Result<Self, KeyError> {
        self.insert_default(name, key)?;
        Ok(self)
    }

    /// Adds or replaces a key at run time. A replaced key's cached verdicts
    /// are dropped.
    ///
    /// # Errors
    /// When `name` is not a valid key name.
    pub fn insert(&self, name: &str, key: impl Into<Key>) -> Result<(), KeyError> {
        self.put(name, key.into(), false)
    }

    /// Adds or replaces the default key at run time.
    ///
    /// # Errors
    /// When `name` is not a valid key name.
    pub fn insert_default(&self, name: &str, key: impl Into<Key>) -> Result<(), KeyError> {
        self.put(name, key.into(), true)
    }

    fn put(&self, name: &str, key: Key, default: bool) -> Result<(), KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let name: Arc<str> = name.into();
        let secret = match key.credential.kind() {
            Kind::Plaintext(token) => Secret::Plaintext(self.inner.hasher.hash(token)),
            Kind::Sha256(digest) => Secret::Sha256(*digest),
            Kind::Bcrypt(hash) => Secret::Bcrypt(Arc::from(&**hash)),
        };
        let entry = Arc::new(Entry {
            identity: Authenticated {
                key: Arc::clone(&name),
                scopes: key.scopes.into(),
            },
            secret,
        });
        let mut keys = self.write_keys();
        let old = keys.by_name.insert(Arc::clone(&name), Arc::clone(&entry));
        let old_default_matches = keys
            .default
            .as_ref()
            .is_some_and(|d| *d.identity.key == *name);
        if default || old_default_matches {
            keys.default = Some(entry);
        }
        drop(keys);
        if let Some(old) = old {
            self.forget(&old);
        }
        Ok(())
    }

    /// Revokes a key: its tokens fail from the next request on, cached or not.
    /// Returns whether the key existed.
    pub fn revoke(&self, name: &str) -> bool {
        let mut keys = self.write_keys();
        let removed = keys.by_name.remove(name);
        if keys
            .default
            .as_ref()
            .is_some_and(|d| *d.identity.key == *name)
        {
            keys.default = None;
        }
        drop(keys);
        match removed {
            Some(entry) => {
                self.forget(&entry);
                true
            }
            None => false,
        }
    }

    /// Whether a key of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.read_keys().by_name.contains_key(name)
    }

    /// The names of the keys.
    pub fn names(&self) -> Vec<Arc<str>> {
        self.read_keys().by_name.keys().cloned().collect()
    }

    /// What the bcrypt workers have done.
    pub fn stats(&self) -> BcryptStats {
        self.inner.pool.stats()
    }

    /// How many verified tokens are cached now.
    pub fn cached_tokens(&self) -> usize {
        self.inner.valid.len()
    }

    fn forget(&self, entry: &Arc<Entry>) {
        self.inner.valid.retain(|e| !Arc::ptr_eq(e, entry));
        self.inner.invalid.retain(|e| !Arc::ptr_eq(e, entry));
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_keys(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `token` names one of the named keys (`name.secret`): such a
    /// token is an API key, right or wrong, and never leaves the process.
    #[cfg(feature = "oauth")]
    pub(crate) fn names_a_key(&self, token: &[u8]) -> bool {
        let keys = self.read_keys();
        token
            .iter()
            .take(MAX_NAME_LEN + 1)
            .position(|&b| b == b'.')
            .and_then(|dot| std::str::from_utf8(&token[..dot]).ok())
            .is_some_and(|name| keys.by_name.contains_key(name))
    }

    /// The key a token names, and the part of the token that is its secret.
    fn resolve<'t>(&self, token: &'t [u8]) -> Option<(Arc<Entry>, &'t [u8])> {
        let keys = self.read_keys();
        // With only a default key there is no name to look for.
        let named_keys = keys.by_name.len() > usize::from(keys.default.is_some());
        if named_keys
            && let Some(dot) = token.iter().take(MAX_NAME_LEN + 1).position(|&b| b == b'.')
            && let Ok(name) = std::str::from_utf8(&token[..dot])
            && let Some(entry) = keys.by_name.get(name)
        {
            return Some((Arc::clone(entry), &token[dot + 1..]));
        }
        keys.default
            .as_ref()
            .map(|entry| (Arc::clone(entry), token))
    }

    /// Checks a token: at once when it can, or hands back the bcrypt run to do.
    pub(crate) fn check(&self, token: &[u8]) -> Check {
        let Some((entry, secret)) = self.resolve(token) else {
            return Check::Done(Verification::Invalid);
        };
        let verdict = |ok: bool| {
            if ok {
                Verification::Valid(entry.identity.clone())
            } else {
                Verification::Invalid
            }
        };
        match &entry.secret {
            Secret::Plaintext(expected) => {
                let presented = self.inner.hasher.hash(secret);
                Check::Done(verdict(presented.ct_eq(expected)))
            }
            Secret::Sha256(expected) => {
                let presented: [u8; 32] = Sha256::digest(secret).into();
                Check::Done(verdict(presented.ct_eq(expected).into()))
            }
            Secret::Bcrypt(_) => {
                if secret.len() >= BCRYPT_MAX_TOKEN_LEN {
                    return Check::Done(Verification::Invalid);
                }
                let hash = self.inner.hasher.hash(token);
                let now = Instant::now();
                if let Some(cached) = self.inner.valid.get(&hash, now)
                    && Arc::ptr_eq(&cached, &entry)
                {
                    return Check::Done(Verification::Valid(entry.identity.clone()));
                }
                if let Some(cached) = self.inner.invalid.get(&hash, now)
                    && Arc::ptr_eq(&cached, &entry)
                {
                    return Check::Done(Verification::Invalid);
                }
                Check::Bcrypt(BcryptJob {
                    store: self.clone(),
                    entry,
                    hash,
                    secret: Zeroizing::new(secret.to_vec()),
                })
            }
        }
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.read_keys();
        let mut names: Vec<&str> = keys.by_name.keys().map(|k| &**k).collect();
        names.sort_unstable();
        f.debug_struct("KeyStore")
            .field("keys", &names)
            .field(
                "default",
                &keys.default.as_ref().map(|d| d.identity.key.clone()),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
