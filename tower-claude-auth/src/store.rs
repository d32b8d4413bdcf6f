//! Named keys, their scopes, and the caches that keep bcrypt off the hot path.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::bcrypt_pool::{BcryptOutcome, BcryptPool, BcryptStats};
use crate::cache::TtlCache;
use crate::credential::{BCRYPT_MAX_TOKEN_LEN, Credential, Kind};
use crate::keyed_hash::{PassThrough, TokenHash, TokenHasher};
use crate::verifier::{Authenticated, Verification};

/// How long a bcrypt-busy request is told to wait.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A credential with the scopes it grants.
#[derive(Debug, Clone)]
pub struct Key {
    credential: Credential,
    scopes: Vec<Box<str>>,
}

impl Key {
    /// A key with no scopes.
    pub fn new(credential: Credential) -> Self {
        Self {
            credential,
            scopes: Vec::new(),
        }
    }

    /// The scopes the key grants (replacing any given before).
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<Box<str>>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl From<Credential> for Key {
    fn from(credential: Credential) -> Self {
        Self::new(credential)
    }
}

/// A key name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Names are 1 to 64 characters of `A-Z a-z 0-9 _ -`: they prefix tokens
    /// as `<name>.<secret>`, so they cannot hold a dot.
    InvalidName(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(
                f,
                "invalid key name {name:?}: use 1 to 64 characters of A-Z, a-z, 0-9, `_` and `-`"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

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

struct Inner {
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

/// A bcrypt verification still to run.
pub(crate) struct BcryptJob {
    store: KeyStore,
    entry: Arc<Entry>,
    hash: TokenHash,
    secret: Zeroizing<Vec<u8>>,
}

/// Tuning for a [`KeyStore`].
#[derive(Debug, Clone)]
pub struct KeyStoreBuilder {
    cache_ttl: Duration,
    cache_capacity: usize,
    failure_ttl: Duration,
    failure_capacity: usize,
    bcrypt_workers: usize,
    bcrypt_queue: Option<usize>,
}

impl Default for KeyStoreBuilder {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            failure_ttl: Duration::from_secs(10),
            failure_capacity: 10_000,
            bcrypt_workers: std::thread::available_parallelism().map_or(1, usize::from),
            bcrypt_queue: None,
        }
    }
}

impl KeyStoreBuilder {
    /// How long a verified bcrypt token is remembered. Default 5 minutes; zero
    /// turns the cache off.
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many verified tokens are remembered at most. Default 10,000.
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long a wrong bcrypt token is remembered, so that repeating it costs
    /// no bcrypt. Default 10 seconds.
    #[must_use]
    pub fn failure_ttl(mut self, ttl: Duration) -> Self {
        self.failure_ttl = ttl;
        self
    }

    /// How many wrong tokens are remembered at most. Default 10,000.
    #[must_use]
    pub fn failure_capacity(mut self, capacity: usize) -> Self {
        self.failure_capacity = capacity;
        self
    }

    /// How many bcrypt runs at once. Default: the CPU count.
    #[must_use]
    pub fn bcrypt_workers(mut self, workers: usize) -> Self {
        self.bcrypt_workers = workers.max(1);
        self
    }

    /// How many bcrypt runs may wait for a worker before requests get a 503.
    /// Default: 4 per worker.
    #[must_use]
    pub fn bcrypt_queue(mut self, queue: usize) -> Self {
        self.bcrypt_queue = Some(queue);
        self
    }

    /// An empty store with this tuning.
    pub fn build(self) -> KeyStore {
        let queue = self.bcrypt_queue.unwrap_or(self.bcrypt_workers * 4);
        KeyStore {
            inner: Arc::new(Inner {
                keys: RwLock::default(),
                hasher: TokenHasher::random(),
                valid: TtlCache::new(self.cache_ttl, self.cache_capacity),
                invalid: TtlCache::new(self.failure_ttl, self.failure_capacity),
                in_flight: Mutex::new(HashMap::with_hasher(PassThrough)),
                pool: BcryptPool::new(self.bcrypt_workers, queue),
            }),
        }
    }
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
    pub fn bcrypt_stats(&self) -> BcryptStats {
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

impl BcryptJob {
    /// Runs the verification, shared with every concurrent request presenting
    /// the same token.
    pub(crate) async fn run(self) -> Verification {
        let inner = &self.store.inner;
        let cell = {
            let mut in_flight = inner
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match in_flight.get(&self.hash) {
                Some(running) if Arc::ptr_eq(&running.entry, &self.entry) => {
                    Arc::clone(&running.cell)
                }
                // None running, or one against a key since replaced: start anew.
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    let running = InFlight {
                        entry: Arc::clone(&self.entry),
                        cell: Arc::clone(&cell),
                    };
                    in_flight.insert(self.hash, running);
                    cell
                }
            }
        };
        // Leaves the in-flight map however this request ends: a client that
        // hangs up mid-verification must not leave its entry behind. The slot
        // holds this request's only reference to the cell.
        let slot = InFlightSlot {
            store: &self.store,
            hash: self.hash,
            cell: Some(cell),
        };
        match &slot.cell {
            Some(cell) => cell.get_or_init(|| self.verify_now()).await.clone(),
            None => Verification::Invalid,
        }
    }

    async fn verify_now(&self) -> Verification {
        let Secret::Bcrypt(hash) = &self.entry.secret else {
            return Verification::Invalid;
        };
        let inner = &self.store.inner;
        let outcome = inner
            .pool
            .verify(self.secret.clone(), Arc::clone(hash))
            .await;
        let now = Instant::now();
        match outcome {
            BcryptOutcome::Match => {
                inner.valid.insert(self.hash, Arc::clone(&self.entry), now);
                Verification::Valid(self.entry.identity.clone())
            }
            BcryptOutcome::Mismatch => {
                inner
                    .invalid
                    .insert(self.hash, Arc::clone(&self.entry), now);
                Verification::Invalid
            }
            BcryptOutcome::Busy | BcryptOutcome::Unavailable => Verification::Unavailable {
                retry_after: BUSY_RETRY_AFTER,
            },
        }
    }
}

const MAX_NAME_LEN: usize = 64;

/// A verification under way, and the key it runs against.
struct InFlight {
    entry: Arc<Entry>,
    cell: Arc<OnceCell<Verification>>,
}

/// One request's share of an in-flight verification.
struct InFlightSlot<'a> {
    store: &'a KeyStore,
    hash: TokenHash,
    /// Given up under the map's lock, so that two requests leaving at once
    /// on two threads cannot both count the other as still waiting.
    cell: Option<Arc<OnceCell<Verification>>>,
}

impl Drop for InFlightSlot<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .store
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(cell) = self.cell.take() else {
            return;
        };
        let is_ours = in_flight
            .get(&self.hash)
            .is_some_and(|current| Arc::ptr_eq(&current.cell, &cell));
        // Done: the verdict is cached and every waiter holds the cell. Not done:
        // remove it only when no other request still waits on it (the map's
        // reference and ours are all that is left). Clones are taken and given
        // up under this lock, so the count is exact here.
        if is_ours && (cell.initialized() || Arc::strong_count(&cell) <= 2) {
            in_flight.remove(&self.hash);
        }
        drop(cell);
    }
}

fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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
mod tests {
    use super::*;

    /// Made with `bcrypt::hash("flood-proof", 10)`: slow enough to abort mid-run.
    const COST_10: &str = "$2b$10$jwtje0E5AT9fADr6AEltYua2s0bd.xdvCLI/a3G8HuolztdhplG3O";

    fn in_flight(store: &KeyStore) -> usize {
        store.inner.in_flight.lock().unwrap().len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoned_verifications_leave_nothing_behind() {
        let store = KeyStore::builder()
            .bcrypt_workers(1)
            .bcrypt_queue(100)
            .build()
            .with_default("default", Credential::bcrypt(COST_10).unwrap());
        let mut tasks = Vec::new();
        for i in 0..20 {
            let Check::Bcrypt(job) = store.check(format!("wrong-{i}").as_bytes()) else {
                panic!("a bcrypt key needs a bcrypt run");
            };
            tasks.push(tokio::spawn(job.run()));
        }
        while in_flight(&store) < 20 {
            tokio::task::yield_now().await;
        }
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        assert_eq!(in_flight(&store), 0);

        // Finished verifications leave nothing either, waiters or not.
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let Check::Bcrypt(job) = store.check(b"flood-proof") else {
                    panic!("a bcrypt key needs a bcrypt run");
                };
                tokio::spawn(job.run())
            })
            .collect();
        for run in runs {
            assert!(matches!(run.await.unwrap(), Verification::Valid(_)));
        }
        assert_eq!(in_flight(&store), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replaced_key_never_joins_the_old_keys_verification() {
        let store = KeyStore::builder()
            .bcrypt_workers(2)
            .build()
            .with_default("bot", Credential::bcrypt(COST_10).unwrap());
        let Check::Bcrypt(before) = store.check(b"flood-proof") else {
            panic!("a bcrypt key needs a bcrypt run");
        };
        let first = tokio::spawn(before.run());
        while store.bcrypt_stats().running == 0 {
            tokio::task::yield_now().await;
        }
        // The key is replaced (same hash here: what matters is that it is a new
        // key, whose scopes or secret could differ) while the first check runs.
        store
            .insert_default(
                "bot",
                Key::new(Credential::bcrypt(COST_10).unwrap()).scopes(["new"]),
            )
            .unwrap();
        let Check::Bcrypt(after) = store.check(b"flood-proof") else {
            panic!("nothing is cached yet");
        };
        let Verification::Valid(who) = after.run().await else {
            panic!("the token is valid for the new key");
        };
        assert!(
            who.has_scope("new"),
            "the new key's own verdict, not the old one's"
        );
        assert!(matches!(first.await.unwrap(), Verification::Valid(_)));
        assert_eq!(store.bcrypt_stats().runs, 2, "two keys, two bcrypt runs");
        assert_eq!(in_flight(&store), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_waiters_abandoning_at_once_leave_nothing_behind() {
        let store = KeyStore::builder()
            .bcrypt_workers(1)
            .bcrypt_queue(200)
            .build()
            .with_default("default", Credential::bcrypt(COST_10).unwrap());
        for round in 0..50 {
            let token = format!("pair-{round}");
            let pair: Vec<_> = (0..2)
                .map(|_| {
                    let Check::Bcrypt(job) = store.check(token.as_bytes()) else {
                        panic!("a bcrypt key needs a bcrypt run");
                    };
                    tokio::spawn(job.run())
                })
                .collect();
            tokio::task::yield_now().await;
            for task in &pair {
                task.abort();
            }
            for task in pair {
                let _ = task.await;
            }
        }
        assert_eq!(in_flight(&store), 0);
    }
}
