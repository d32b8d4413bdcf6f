//! Checking a received webhook: headers, freshness, signature, replay.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use http::HeaderMap;
use http::header::HeaderName;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::UnixClock;
use crate::replay::{ReplayCache, ReplayCacheError};
use crate::scheme::{Keys, Scheme, names};
use crate::secret::WebhookSecret;

/// The default freshness window: five minutes each way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The most signatures one header may list; more is an attack on CPU.
const MAX_SIGNATURES: usize = 8;

/// What a verified webhook said about itself, put in the request extensions by
/// [`VerifyWebhookLayer`](crate::VerifyWebhookLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWebhook {
    /// The event type from `X-Webhook-Event`, if sent. Not covered by the
    /// signature in either scheme: trust the type in the payload.
    pub event: Option<String>,
    /// The delivery id (`X-Webhook-Delivery-Id` or `webhook-id`), if sent.
    pub delivery_id: Option<String>,
    /// The signed timestamp (unix seconds); `None` only for a body-only
    /// signature accepted with [`Verifier::accept_body_only`].
    pub timestamp: Option<u64>,
    /// The verified signature in hex: it names this signed message. A replay
    /// carries the same one, a sender's re-signed retry does not, and no other
    /// secret can produce it. The replay cache keys on it; de-duplicate on it
    /// in the seed scheme, whose delivery id header is not signed.
    pub message_id: String,
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    MissingHeader(HeaderName),
    /// A header is present but not in the scheme's format.
    Malformed {
        /// The header.
        header: HeaderName,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is older than the window.
    TooOld {
        /// How old.
        age: Duration,
    },
    /// The timestamp is further in the future than the window.
    FromTheFuture {
        /// How far ahead.
        ahead: Duration,
    },
    /// No signature matches any accepted secret.
    BadSignature,
    /// The same signed content (signature over timestamp, id and body) was
    /// already received within the window.
    Replayed,
    /// The replay cache could not answer.
    ReplayCacheUnavailable(ReplayCacheError),
}

impl VerifyError {
    /// A short machine-readable code for the refusal body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_signature_header",
            Self::Malformed { .. } => "malformed_signature_header",
            Self::TooOld { .. } => "timestamp_too_old",
            Self::FromTheFuture { .. } => "timestamp_in_future",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed_delivery",
            Self::ReplayCacheUnavailable(_) => "replay_check_unavailable",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header `{name}`"),
            Self::Malformed { header, reason } => {
                write!(f, "malformed header `{header}`: {reason}")
            }
            Self::TooOld { age } => write!(
                f,
                "timestamp is {} s old, outside the freshness window",
                age.as_secs()
            ),
            Self::FromTheFuture { ahead } => write!(
                f,
                "timestamp is {} s in the future, outside the freshness window",
                ahead.as_secs()
            ),
            Self::BadSignature => f.write_str("no signature matches"),
            Self::Replayed => f.write_str(
                "this signed content (the same signature over the same timestamp and body) was already received",
            ),
            Self::ReplayCacheUnavailable(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks webhooks in one scheme against one or several secrets.
///
/// ```
/// use tower_claude_webhook::{Signer, UnixClock, Verifier, WebhookSecret};
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let headers = Signer::seed(secret.clone()).sign("d-1", 1_700_000_000, b"{}");
/// let verifier = Verifier::seed(secret).clock(UnixClock::from_fn(|| 1_700_000_100));
/// let webhook = verifier.verify_signature(&headers, b"{}").unwrap();
/// assert_eq!(webhook.delivery_id.as_deref(), Some("d-1"));
/// assert!(verifier.verify_signature(&headers, b"{ }").is_err());
/// ```
#[derive(Clone)]
pub struct Verifier {
    scheme: Scheme,
    keys: Keys,
    tolerance: Duration,
    clock: UnixClock,
    replay: Option<Arc<dyn ReplayCache>>,
    duplicate_window: Option<Duration>,
    body_only: bool,
}

impl Verifier {
    /// Verifies the seed scheme's `X-Webhook-Signature-256` and
    /// `X-Webhook-Timestamp`.
    pub fn seed(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::Seed, [secret])
    }

    /// Verifies Standard Webhooks.
    pub fn standard(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::Standard, [secret])
    }

    /// Verifies `scheme`, accepting a signature by any of `secrets`.
    pub fn with_secrets(scheme: Scheme, secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        let secrets: Vec<WebhookSecret> = secrets.into_iter().collect();
        Self {
            scheme,
            keys: Keys::new(&secrets),
            tolerance: DEFAULT_TOLERANCE,
            clock: UnixClock::system(),
            replay: None,
            duplicate_window: None,
            body_only: false,
        }
    }

    /// Also accepts signatures by `secret` (during a rotation).
    #[must_use]
    pub fn also(mut self, secret: WebhookSecret) -> Self {
        self.keys = self.keys.with(&secret);
        self
    }

    /// The freshness window, both ways (default 300 s).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Reads the time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: UnixClock) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses a message seen within the window: the same signature (so the
    /// same signed content) again. A sender's retry is signed afresh with a new
    /// timestamp, and passes.
    #[must_use]
    pub fn replay_cache(mut self, cache: impl ReplayCache) -> Self {
        self.replay = Some(Arc::new(cache));
        self
    }

    /// How long a processed delivery's id is remembered, so that a sender's
    /// new attempt of it is acknowledged without running the handler again
    /// (default: the replay window, twice the tolerance and a second). Needs a
    /// [`replay_cache`](Self::replay_cache), which holds the ids.
    #[must_use]
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = Some(window);
        self
    }

    /// The delivery `webhook` (with `body`) belongs to, for the duplicate
    /// check: computed once, then asked with
    /// [`is_processed`](Self::is_processed) before the handler and recorded
    /// with [`remember_processed`](Self::remember_processed) after it.
    ///
    /// The delivery id is only a hint, asked only of a message whose signature
    /// verified and whose signed content is new; it can never make a message
    /// acceptable. The seed scheme does not sign its delivery id, so there a
    /// delivery is the id *and the body* (its SHA-256): someone who resends a
    /// captured message under another id marks only that id with that body as
    /// processed, never a different delivery. A body-only message (no signed
    /// time), an id longer than 256 bytes or with bytes outside visible ASCII,
    /// and a verifier without a replay cache get `None`: no duplicate check.
    pub fn delivery(&self, webhook: &VerifiedWebhook, body: &[u8]) -> Option<Delivery> {
        self.replay.as_ref()?;
        let id = webhook.delivery_id.as_deref()?;
        let sane =
            (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic() && b != b'%');
        if !sane {
            return None;
        }
        let key = match self.scheme {
            Scheme::Standard => format!("delivery:{id}"),
            Scheme::Seed => {
                webhook.timestamp?;
                let digest = Sha256::digest(body);
                format!("delivery:{id}:{}", hex(&digest[..16]))
            }
        };
        Some(Delivery(key))
    }

    /// Whether `delivery` was already processed: the sender's new attempt of
    /// it.
    ///
    /// # Errors
    /// The replay cache could not answer.
    pub async fn is_processed(&self, delivery: &Delivery) -> Result<bool, VerifyError> {
        let Some(cache) = &self.replay else {
            return Ok(false);
        };
        cache
            .contains(&delivery.0)
            .await
            .map_err(VerifyError::ReplayCacheUnavailable)
    }

    /// Remembers that `delivery` was processed, for the duplicate window.
    /// Only deliveries whose handler succeeded are remembered, so a failed one
    /// is run again when the sender retries.
    ///
    /// # Errors
    /// The replay cache could not record it.
    pub async fn remember_processed(&self, delivery: &Delivery) -> Result<(), VerifyError> {
        let Some(cache) = &self.replay else {
            return Ok(());
        };
        cache
            .first_seen(
                &delivery.0,
                self.duplicate_window.unwrap_or(self.replay_ttl()),
            )
            .await
            .map(|_| ())
            .map_err(VerifyError::ReplayCacheUnavailable)
    }

    /// Signed content is remembered for the whole span in which its
    /// timestamp is accepted (both edges included), and a second more.
    fn replay_ttl(&self) -> Duration {
        self.tolerance
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1))
    }

    /// Seed scheme only: accepts a message carrying only the body-only
    /// `X-Webhook-Signature` when it has no `X-Webhook-Signature-256`. Such a
    /// message has no signed time: a captured one verifies forever. For senders
    /// that cannot be upgraded yet.
    #[must_use]
    pub fn accept_body_only(mut self, accept: bool) -> Self {
        self.body_only = accept;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The freshness window.
    pub fn window(&self) -> Duration {
        self.tolerance
    }

    /// Checks headers, freshness and signature of `body`, and the replay cache
    /// if one is configured.
    ///
    /// # Errors
    /// The first check that failed.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedWebhook, VerifyError> {
        let webhook = self.verify_signature(headers, body)?;
        if let Some(cache) = &self.replay {
            // A replay is the same signed message again, so it is keyed by the
            // signature, not by a header: the seed scheme does not sign the
            // delivery id, which a replayer could change at will. A sender's
            // retry is signed afresh (a new time) and passes, as it must, or a
            // 503 would make the retry look like an attack. Keys are fixed-size
            // and only a secret's holder can make new ones.
            match cache
                .first_seen(&webhook.message_id, self.replay_ttl())
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(VerifyError::Replayed),
                Err(error) => return Err(VerifyError::ReplayCacheUnavailable(error)),
            }
        }
        Ok(webhook)
    }

    /// Checks headers, freshness and signature, without the replay cache.
    ///
    /// # Errors
    /// The first check that failed.
    pub fn verify_signature(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedWebhook, VerifyError> {
        let claim = self.claim(headers)?;
        let message_id = match &claim.signed {
            Signed::SeedTimed { stamp } => self.match_any(&claim.offered, |mac| {
                mac.update(stamp.as_bytes());
                mac.update(b".");
                mac.update(body);
            })?,
            Signed::SeedBodyOnly => self.match_any(&claim.offered, |mac| mac.update(body))?,
            Signed::Standard { id, stamp } => self.match_any(&claim.offered, |mac| {
                mac.update(id.as_bytes());
                mac.update(b".");
                mac.update(stamp.as_bytes());
                mac.update(b".");
                mac.update(body);
            })?,
        };
        Ok(VerifiedWebhook {
            event: claim.event.map(str::to_owned),
            delivery_id: claim.delivery_id.map(str::to_owned),
            timestamp: claim.timestamp,
            message_id,
        })
    }

    /// Checks everything that can be checked before the body is read: the
    /// signature headers are present and well formed, and the timestamp is
    /// inside the window. A receiver refuses a message that fails here without
    /// reading (or waiting for) its body.
    ///
    /// # Errors
    /// The first check that failed.
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<(), VerifyError> {
        self.claim(headers).map(|_| ())
    }

    /// What the headers say, parsed and checked, without the body.
    fn claim<'h>(&self, headers: &'h HeaderMap) -> Result<Claim<'h>, VerifyError> {
        let event = text(headers, &names::X_WEBHOOK_EVENT)?;
        match self.scheme {
            Scheme::Seed => self.seed_claim(headers, event),
            Scheme::Standard => self.standard_claim(headers, event),
        }
    }

    fn seed_claim<'h>(
        &self,
        headers: &'h HeaderMap,
        event: Option<&'h str>,
    ) -> Result<Claim<'h>, VerifyError> {
        let delivery_id = text(headers, &names::X_WEBHOOK_DELIVERY_ID)?;
        let Some(signatures) = text(headers, &names::X_WEBHOOK_SIGNATURE_256)? else {
            if self.body_only && headers.contains_key(names::X_WEBHOOK_SIGNATURE) {
                let signatures = text(headers, &names::X_WEBHOOK_SIGNATURE)?.unwrap_or_default();
                return Ok(Claim {
                    event,
                    delivery_id,
                    timestamp: None,
                    offered: seed_signatures(signatures, &names::X_WEBHOOK_SIGNATURE)?,
                    signed: Signed::SeedBodyOnly,
                });
            }
            return Err(VerifyError::MissingHeader(names::X_WEBHOOK_SIGNATURE_256));
        };
        let (timestamp, stamp) = self.fresh_timestamp(headers, &names::X_WEBHOOK_TIMESTAMP)?;
        Ok(Claim {
            event,
            delivery_id,
            timestamp: Some(timestamp),
            offered: seed_signatures(signatures, &names::X_WEBHOOK_SIGNATURE_256)?,
            signed: Signed::SeedTimed { stamp },
        })
    }

    fn standard_claim<'h>(
        &self,
        headers: &'h HeaderMap,
        event: Option<&'h str>,
    ) -> Result<Claim<'h>, VerifyError> {
        let id = text(headers, &names::WEBHOOK_ID)?
            .ok_or(VerifyError::MissingHeader(names::WEBHOOK_ID))?;
        // The signed content is `id.timestamp.body`: an id with a dot could be
        // re-split into another id, timestamp and body under the same MAC.
        if id.is_empty() || id.contains('.') {
            return Err(VerifyError::Malformed {
                header: names::WEBHOOK_ID,
                reason: "a message id is not empty and has no `.`",
            });
        }
        let signatures = text(headers, &names::WEBHOOK_SIGNATURE)?
            .ok_or(VerifyError::MissingHeader(names::WEBHOOK_SIGNATURE))?;
        let (timestamp, stamp) = self.fresh_timestamp(headers, &names::WEBHOOK_TIMESTAMP)?;
        Ok(Claim {
            event,
            delivery_id: Some(id),
            timestamp: Some(timestamp),
            offered: standard_signatures(signatures)?,
            signed: Signed::Standard { id, stamp },
        })
    }

    /// The timestamp header, parsed and inside the window both ways.
    fn fresh_timestamp<'h>(
        &self,
        headers: &'h HeaderMap,
        name: &HeaderName,
    ) -> Result<(u64, &'h str), VerifyError> {
        let stamp = text(headers, name)?.ok_or_else(|| VerifyError::MissingHeader(name.clone()))?;
        let malformed = || VerifyError::Malformed {
            header: name.clone(),
            reason: "expected unix seconds: 1 to 19 ASCII digits",
        };
        if stamp.is_empty() || stamp.len() > 19 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let timestamp: u64 = stamp.parse().map_err(|_| malformed())?;
        let now = self.clock.now();
        let window = self.tolerance.as_secs();
        if timestamp < now && now - timestamp > window {
            return Err(VerifyError::TooOld {
                age: Duration::from_secs(now - timestamp),
            });
        }
        if timestamp > now && timestamp - now > window {
            return Err(VerifyError::FromTheFuture {
                ahead: Duration::from_secs(timestamp - now),
            });
        }
        Ok((timestamp, stamp))
    }

    /// Whether any accepted key's MAC of the message equals any offered
    /// signature; every comparison runs in constant time.
    fn match_any(
        &self,
        offered: &[[u8; 32]],
        feed: impl Fn(&mut crate::scheme::HmacSha256),
    ) -> Result<String, VerifyError> {
        let mut matched: Option<String> = None;
        for key in self.keys.iter() {
            let mut mac = key.clone();
            feed(&mut mac);
            let expected = mac.finalize().into_bytes();
            let mut hit = 0u8;
            for candidate in offered {
                hit |= expected.as_slice().ct_eq(candidate).unwrap_u8();
            }
            if hit == 1 && matched.is_none() {
                matched = Some(hex(&expected));
            }
        }
        if let Some(message_id) = matched {
            Ok(message_id)
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// One delivery, as the duplicate check knows it (see [`Verifier::delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery(String);

/// What a message's headers claim, before its body is read.
struct Claim<'h> {
    event: Option<&'h str>,
    delivery_id: Option<&'h str>,
    timestamp: Option<u64>,
    /// The signatures offered.
    offered: Vec<[u8; 32]>,
    signed: Signed<'h>,
}

/// What the signatures cover, besides the body.
enum Signed<'h> {
    SeedTimed { stamp: &'h str },
    SeedBodyOnly,
    Standard { id: &'h str, stamp: &'h str },
}

/// A header as text: absent is `None`; present twice or not visible ASCII is
/// malformed (two signature headers could each be checked by a different
/// component).
fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::Malformed {
            header: name.clone(),
            reason: "sent more than once",
        });
    }
    value
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| VerifyError::Malformed {
            header: name.clone(),
            reason: "not visible ASCII",
        })
}

/// `sha256=<64 hex>` entries, comma-separated.
fn seed_signatures(list: &str, header: &HeaderName) -> Result<Vec<[u8; 32]>, VerifyError> {
    let malformed = |reason| VerifyError::Malformed {
        header: header.clone(),
        reason,
    };
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let hex = entry
            .strip_prefix("sha256=")
            .ok_or_else(|| malformed("each signature is `sha256=` and 64 hex digits"))?;
        out.push(
            decode_hex(hex)
                .ok_or_else(|| malformed("each signature is `sha256=` and 64 hex digits"))?,
        );
        if out.len() > MAX_SIGNATURES {
            return Err(malformed("more than 8 signatures"));
        }
    }
    if out.is_empty() {
        return Err(malformed("no signature"));
    }
    Ok(out)
}

/// The usable `v1,<base64>` entries of a space-separated list. As the
/// specification's own libraries do, an entry this verifier cannot use (another
/// version such as `v1a`, bad base64, a wrong length, no comma) is skipped, so
/// `v1,AAAA v1,<valid>` verifies by its valid entry; the count stays bounded.
fn standard_signatures(list: &str) -> Result<Vec<[u8; 32]>, VerifyError> {
    let malformed = |reason| VerifyError::Malformed {
        header: names::WEBHOOK_SIGNATURE,
        reason,
    };
    let entries: Vec<&str> = list.split(' ').filter(|e| !e.is_empty()).collect();
    if entries.len() > MAX_SIGNATURES {
        return Err(malformed("more than 8 signatures"));
    }
    let out: Vec<[u8; 32]> = entries
        .into_iter()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|signature| STANDARD.decode(signature).ok())
        .filter_map(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .collect();
    if out.is_empty() {
        return Err(malformed(
            "no usable v1 signature (`v1,` and 32 bytes of base64)",
        ));
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    crate::outgoing::push_hex(&mut out, bytes);
    out
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .field("clock", &self.clock)
            .field("replay_cache", &self.replay.is_some())
            .field("accept_body_only", &self.body_only)
            .finish()
    }
}
