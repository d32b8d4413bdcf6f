//! Signing webhooks: [`Signer`], in either [`Scheme`].

use std::fmt;
use std::sync::Arc;

use hmac::Mac;
use http::HeaderMap;
use http::header::HeaderValue;

use crate::deliver::SendError;
use crate::ed25519::StandardSigningKey;
use crate::issued::Issued;
use crate::scheme::{Keys, Scheme, SignedContent, names, room_for_one, with_ed25519};
use crate::secret::{SecretError, WebhookSecret};
use crate::wire::{push_hex_entry, push_standard_entry, push_v1a_entry};

/// Signs webhook messages with one or several secrets.
///
/// With several secrets (during a rotation) every signature header carries one
/// signature per secret, so receivers holding either secret accept the message:
/// comma-separated `sha256=` entries in the `X-Webhook-*` scheme, space-separated
/// `v1,` entries in Standard Webhooks.
///
/// ```
/// use tower_claude_webhook::WebhookSecret;
/// use tower_claude_webhook::sign::Signer;
///
/// let signer = Signer::x_webhook(WebhookSecret::new("It's a Secret to Everybody").unwrap());
/// let signed = signer.sign("delivery-1", 1614265330, b"Hello, World!");
/// assert_eq!(
///     signed.get("x-webhook-signature-256").unwrap(),
///     "sha256=f37376a318b83773050e9e3ac8c6d599d2254e4f69edd75a1419cb54dc7264f3"
/// );
/// ```
#[derive(Clone)]
pub struct Signer {
    scheme: Scheme,
    keys: Keys,
    /// Ed25519 keys that also sign (`v1a`, Standard Webhooks only).
    signing_keys: Arc<[StandardSigningKey]>,
    body_signature: bool,
    /// Shared by clones: uniqueness holds across every clone of a signer.
    issued: Arc<Issued>,
}

impl Signer {
    /// Signs in the `X-Webhook-*` scheme, both `X-Webhook-Signature` (body
    /// only, for receivers that read nothing else) and
    /// `X-Webhook-Signature-256`.
    pub fn x_webhook(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::XWebhook, [secret])
    }

    /// Signs in the Standard Webhooks scheme.
    pub fn standard(secret: WebhookSecret) -> Self {
        Self::with_secrets(Scheme::Standard, [secret])
    }

    /// Signs in `scheme` with every secret given (the first signs first).
    ///
    /// # Panics
    /// Unless 1 to 8 secrets are given (a verifier reads at most 8
    /// signatures); see [`try_with_secrets`](Self::try_with_secrets).
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

    /// Signs Standard Webhooks `v1a` (Ed25519) with `key` alone: receivers
    /// verify with its public key, which cannot sign.
    pub fn standard_signing_key(key: StandardSigningKey) -> Self {
        let mut signer = Self::new(Scheme::Standard, Keys::none());
        signer.signing_keys = Arc::from([key]);
        signer
    }

    /// Also signs `v1a` with `key` (during a rotation, or beside `v1`
    /// secrets: receivers holding either accept).
    ///
    /// # Panics
    /// In the `X-Webhook-*` scheme, or past 8 keys and secrets; see
    /// [`try_also_signing_key`](Self::try_also_signing_key).
    #[must_use]
    pub fn also_signing_key(self, key: StandardSigningKey) -> Self {
        self.try_also_signing_key(key)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`also_signing_key`](Self::also_signing_key), reporting instead of
    /// panicking.
    ///
    /// # Errors
    /// [`SecretError::NotStandard`] in the `X-Webhook-*` scheme;
    /// [`SecretError::Count`] past 8 keys and secrets.
    pub fn try_also_signing_key(mut self, key: StandardSigningKey) -> Result<Self, SecretError> {
        self.signing_keys = with_ed25519(self.scheme, &self.keys, &self.signing_keys, key)?;
        Ok(self)
    }

    fn new(scheme: Scheme, keys: Keys) -> Self {
        Self {
            scheme,
            keys,
            signing_keys: Arc::from([]),
            body_signature: true,
            issued: Arc::new(Issued::default()),
        }
    }

    /// Also signs with `secret`, for a rotation: receivers holding the old or
    /// the new secret both accept.
    ///
    /// # Panics
    /// Past 8 secrets (a verifier reads at most 8 signatures); see
    /// [`try_also`](Self::try_also).
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
        room_for_one(self.keys.len() + self.signing_keys.len())?;
        self.keys = self.keys.with(&secret)?;
        Ok(self)
    }

    /// Whether the `X-Webhook-*` scheme also sends the body-only `X-Webhook-Signature`
    /// (default true, for the receivers in the field). It covers no timestamp,
    /// so a captured message with it verifies forever; turn it off once every
    /// receiver checks `X-Webhook-Signature-256`. It costs a second MAC over
    /// the body.
    #[must_use]
    pub fn body_signature(mut self, on: bool) -> Self {
        self.body_signature = on;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The signature, timestamp and id headers of one message.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4);
        self.sign_into(&mut headers, id, timestamp, body);
        headers
    }

    /// Signs one message sent at `now` (unix seconds) into `headers`, with
    /// signed content no other message of this signer (or its clones) carries:
    /// the timestamp is `now`, or the first later second whose signature this
    /// signer has not issued yet. Returns the timestamp signed.
    ///
    /// So two deliveries of the same body within a second (the `X-Webhook-*` scheme
    /// signs only `timestamp.body`) and a retry within the second of its first
    /// attempt are each signed afresh, and a receiver's replay check refuses
    /// neither. The timestamp moves at most 60 s ahead, so receivers need a
    /// freshness window of more than a minute (the default is five).
    ///
    /// # Errors
    /// [`SendError::NotUnique`] when 60 seconds ahead are all taken by
    /// identical messages (more than 60 identical bodies a second, sustained).
    pub fn sign_unique(
        &self,
        headers: &mut HeaderMap,
        id: &str,
        now: u64,
        body: &[u8],
    ) -> Result<u64, SendError> {
        self.sign_unique_to(b"", headers, id, now, body)
    }

    /// [`sign_unique`](Self::sign_unique) for a message to `endpoint`:
    /// messages to different endpoints never collide at a receiver, so the
    /// same body sent to many endpoints at once keeps the current time. On
    /// an error nothing is written.
    pub(crate) fn sign_unique_to(
        &self,
        endpoint: &[u8],
        headers: &mut HeaderMap,
        id: &str,
        now: u64,
        body: &[u8],
    ) -> Result<u64, SendError> {
        let signed_id: &[u8] = match self.scheme {
            Scheme::XWebhook => b"",
            Scheme::Standard => id.as_bytes(),
        };
        let fingerprint = self.issued.fingerprint(endpoint, &[signed_id, body]);
        let timestamp = self
            .issued
            .claim(fingerprint, now)
            .ok_or(SendError::NotUnique)?;
        self.sign_into(headers, id, timestamp, body);
        Ok(timestamp)
    }

    /// Writes the signature, timestamp and id headers of one message into
    /// `headers`, replacing any there. An `id` that is not a valid header value
    /// is replaced by `invalid` (ids this crate makes are always valid).
    pub fn sign_into(&self, headers: &mut HeaderMap, id: &str, timestamp: u64, body: &[u8]) {
        let stamp = timestamp.to_string();
        let id_value = HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("invalid"));
        match self.scheme {
            Scheme::XWebhook => {
                let (with_time, body_only) = self.x_webhook_signatures(&stamp, body);
                headers.insert(names::X_WEBHOOK_SIGNATURE_256, with_time);
                if let Some(value) = body_only {
                    headers.insert(names::X_WEBHOOK_SIGNATURE, value);
                } else {
                    headers.remove(names::X_WEBHOOK_SIGNATURE);
                }
                headers.insert(names::X_WEBHOOK_TIMESTAMP, header_value(stamp));
                headers.insert(names::X_WEBHOOK_DELIVERY_ID, id_value);
            }
            Scheme::Standard => {
                let mut value = String::with_capacity(48 * self.keys.len());
                let content = SignedContent::Standard { id, stamp: &stamp };
                for key in self.keys.iter() {
                    push_standard_entry(&mut value, &content.mac(key, body));
                }
                for key in self.signing_keys.iter() {
                    push_v1a_entry(&mut value, &key.sign(id, &stamp, body));
                }
                headers.insert(names::WEBHOOK_SIGNATURE, header_value(value));
                headers.insert(names::WEBHOOK_TIMESTAMP, header_value(stamp));
                headers.insert(names::WEBHOOK_ID, id_value);
            }
        }
    }

    /// Both `X-Webhook-*` signatures in one pass over the body: the two MACs take each
    /// chunk while it is in cache.
    fn x_webhook_signatures(&self, stamp: &str, body: &[u8]) -> (HeaderValue, Option<HeaderValue>) {
        const CHUNK: usize = 16 * 1024;
        let mut with_time = String::with_capacity(72 * self.keys.len());
        let mut body_only = String::with_capacity(72 * self.keys.len());
        for key in self.keys.iter() {
            let mut timed = SignedContent::Timed { stamp }.begin(key);
            let mut plain = self
                .body_signature
                .then(|| SignedContent::BodyOnly.begin(key));
            for chunk in body.chunks(CHUNK) {
                timed.update(chunk);
                if let Some(plain) = plain.as_mut() {
                    plain.update(chunk);
                }
            }
            push_hex_entry(&mut with_time, &timed.finalize().into_bytes());
            if let Some(plain) = plain {
                push_hex_entry(&mut body_only, &plain.finalize().into_bytes());
            }
        }
        let body_only = self.body_signature.then(|| header_value(body_only));
        (header_value(with_time), body_only)
    }
}

/// A value built from ASCII this crate produced.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text))
        .unwrap_or(HeaderValue::from_static("invalid"))
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .field("signing_keys", &self.signing_keys.len())
            .field("body_signature", &self.body_signature)
            .finish()
    }
}

#[cfg(test)]
mod tests;
