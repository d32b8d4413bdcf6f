//! The verifier: headers, freshness, signature, replay, duplicates.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderName;
use subtle::ConstantTimeEq;

use crate::ed25519::StandardPublicKey;
use crate::replay::ReplayCache;
use crate::scheme::{Keys, Scheme, SignedContent, names, room_for_one, with_ed25519};
use crate::secret::{SecretError, WebhookSecret};
use crate::verify::claim::{Claim, text};
use crate::verify::{VerifiedWebhook, VerifyError};
use crate::wire::{hex_signatures, standard_signatures};
use tower_claude_core::Clock;

/// The default freshness window: five minutes each way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Checks webhooks in one scheme against one or several secrets.
///
/// ```
/// use std::time::Duration;
/// use tower_claude_core::Clock;
/// use tower_claude_webhook::WebhookSecret;
/// use tower_claude_webhook::sign::Signer;
/// use tower_claude_webhook::verify::Verifier;
///
/// let secret = WebhookSecret::new("s3cret").unwrap();
/// let headers = Signer::x_webhook(secret.clone()).sign("d-1", 1_700_000_000, b"{}");
/// let verifier = Verifier::x_webhook(secret).clock(Clock::manual(Duration::from_secs(1_700_000_100)));
/// let webhook = verifier.verify_signature(&headers, b"{}").unwrap();
/// assert_eq!(webhook.delivery_id.as_deref(), Some("d-1"));
/// assert!(verifier.verify_signature(&headers, b"{ }").is_err());
/// ```
#[derive(Clone)]
pub struct Verifier {
    pub(super) scheme: Scheme,
    keys: Keys,
    /// Public keys whose `v1a` signatures are accepted (Standard Webhooks).
    public_keys: Arc<[StandardPublicKey]>,
    tolerance: Duration,
    clock: Clock,
    pub(super) replay: Option<Arc<dyn ReplayCache>>,
    pub(super) duplicate_window: Option<Duration>,
    body_only: bool,
}

impl Verifier {
    /// Verifies the `X-Webhook-*` scheme's `X-Webhook-Signature-256` and
    /// `X-Webhook-Timestamp`.
    pub fn x_webhook(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::XWebhook, [secret])
    }

    /// Verifies Standard Webhooks.
    pub fn standard(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::Standard, [secret])
    }

    /// Verifies `scheme`, accepting a signature by any of `secrets`.
    ///
    /// # Panics
    /// Unless 1 to 8 secrets are given (none would refuse everything); see
    /// [`try_with_secrets`](Self::try_with_secrets).
    pub fn with_secrets(scheme: Scheme, secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Self::try_with_secrets(scheme, secrets).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`with_secrets`](Self::with_secrets), reporting a count out of range
    /// instead of panicking.
    ///
    /// # Errors
    /// [`SecretError::Count`] unless 1 to 8 secrets are given.
    pub fn try_with_secrets(
        scheme: Scheme,
        secrets: impl IntoIterator<Item = WebhookSecret>,
    ) -> Result<Self, SecretError> {
        Ok(Self::new(scheme, Keys::of(secrets)?))
    }

    /// Verifies Standard Webhooks `v1a` (Ed25519) signatures by `public_key`
    /// alone: a receiver that holds no secret able to sign.
    pub fn standard_public_key(public_key: StandardPublicKey) -> Self {
        let mut verifier = Self::new(Scheme::Standard, Keys::none());
        verifier.public_keys = Arc::from([public_key]);
        verifier
    }

    /// Also accepts `v1a` signatures by `public_key` (during a rotation, or
    /// beside `v1` secrets).
    ///
    /// # Panics
    /// In the `X-Webhook-*` scheme, or past 8 keys and secrets; see
    /// [`try_also_public_key`](Self::try_also_public_key).
    #[must_use]
    pub fn also_public_key(self, public_key: StandardPublicKey) -> Self {
        self.try_also_public_key(public_key)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`also_public_key`](Self::also_public_key), reporting instead of
    /// panicking.
    ///
    /// # Errors
    /// [`SecretError::NotStandard`] in the `X-Webhook-*` scheme;
    /// [`SecretError::Count`] past 8 keys and secrets.
    pub fn try_also_public_key(
        mut self,
        public_key: StandardPublicKey,
    ) -> Result<Self, SecretError> {
        self.public_keys = with_ed25519(self.scheme, &self.keys, &self.public_keys, public_key)?;
        Ok(self)
    }

    fn new(scheme: Scheme, keys: Keys) -> Self {
        Self {
            scheme,
            keys,
            public_keys: Arc::from([]),
            tolerance: DEFAULT_TOLERANCE,
            clock: Clock::system(),
            replay: None,
            duplicate_window: None,
            body_only: false,
        }
    }

    /// Also accepts signatures by `secret` (during a rotation).
    ///
    /// # Panics
    /// Past 8 secrets; see [`try_also`](Self::try_also).
    #[must_use]
    pub fn also(self, secret: WebhookSecret) -> Self {
        self.try_also(secret)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`also`](Self::also), reporting a ninth secret instead of panicking.
    ///
    /// # Errors
    /// [`SecretError::Count`] past 8 secrets.
    pub fn try_also(mut self, secret: WebhookSecret) -> Result<Self, SecretError> {
        room_for_one(self.keys.len() + self.public_keys.len())?;
        self.keys = self.keys.with(&secret)?;
        Ok(self)
    }

    /// The freshness window, both ways (default 300 s).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Reads the time from `clock`.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
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

    /// Signed content is remembered for the whole span in which its
    /// timestamp is accepted (both edges included), and a second more.
    pub(super) fn replay_ttl(&self) -> Duration {
        self.tolerance
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1))
    }

    /// `X-Webhook-*` scheme only: accepts a message carrying only the body-only
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
            // signature, not by a header: the `X-Webhook-*` scheme does not sign the
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
        let message_id = self
            .match_any(&claim.offered, claim.signed, body)
            .or_else(|error| self.match_v1a(&claim, body).ok_or(error))?;
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
            Scheme::XWebhook => self.x_webhook_claim(headers, event),
            Scheme::Standard => self.standard_claim(headers, event),
        }
    }

    fn x_webhook_claim<'h>(
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
                    offered: hex_signatures(signatures, &names::X_WEBHOOK_SIGNATURE)?,
                    offered_v1a: Vec::new(),
                    signed: SignedContent::BodyOnly,
                });
            }
            return Err(VerifyError::MissingHeader(names::X_WEBHOOK_SIGNATURE_256));
        };
        let (timestamp, stamp) = self.fresh_timestamp(headers, &names::X_WEBHOOK_TIMESTAMP)?;
        Ok(Claim {
            event,
            delivery_id,
            timestamp: Some(timestamp),
            offered: hex_signatures(signatures, &names::X_WEBHOOK_SIGNATURE_256)?,
            offered_v1a: Vec::new(),
            signed: SignedContent::Timed { stamp },
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
        let list = standard_signatures(signatures)?;
        Ok(Claim {
            event,
            delivery_id: Some(id),
            timestamp: Some(timestamp),
            offered: list.v1,
            offered_v1a: list.v1a,
            signed: SignedContent::Standard { id, stamp },
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
        let now = self.clock.unix_seconds();
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

    /// The message id of the first offered `v1a` signature an accepted public
    /// key verifies.
    fn match_v1a(&self, claim: &Claim<'_>, body: &[u8]) -> Option<String> {
        let SignedContent::Standard { id, stamp } = claim.signed else {
            return None;
        };
        claim.offered_v1a.iter().find_map(|signature| {
            self.public_keys
                .iter()
                .any(|key| key.verifies(id, stamp, body, signature))
                .then(|| crate::ed25519::message_id(signature))
        })
    }

    /// Whether any accepted key's MAC of the message equals any offered
    /// signature; every comparison runs in constant time.
    fn match_any(
        &self,
        offered: &[[u8; 32]],
        content: SignedContent<'_>,
        body: &[u8],
    ) -> Result<String, VerifyError> {
        let mut matched: Option<String> = None;
        for key in self.keys.iter() {
            let expected = content.mac(key, body);
            let mut hit = 0u8;
            for candidate in offered {
                hit |= expected.as_slice().ct_eq(candidate).unwrap_u8();
            }
            if hit == 1 && matched.is_none() {
                matched = Some(tower_claude_core::encoding::hex(&expected));
            }
        }
        if let Some(message_id) = matched {
            Ok(message_id)
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .field("public_keys", &self.public_keys)
            .field("tolerance", &self.tolerance)
            .field("clock", &self.clock)
            .field("replay_cache", &self.replay.is_some())
            .field("accept_body_only", &self.body_only)
            .finish()
    }
}
