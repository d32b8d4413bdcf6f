//! Signing webhooks: [`Signer`], in either [`Scheme`].

use std::fmt;
use std::sync::Arc;

use hmac::Mac;
use http::HeaderMap;
use http::header::HeaderValue;

use crate::deliver::SendError;
use crate::issued::Issued;
#[cfg(test)]
use crate::issued::MAX_AHEAD_SECS;
use crate::scheme::{Keys, Scheme, SignedContent, names};
use crate::secret::{SecretError, WebhookSecret};
use crate::wire::{MAX_SIGNATURES, push_hex_entry, push_standard_entry};

/// The most secrets a signer signs with: a verifier reads at most this many
/// signatures.
const MAX_SECRETS: usize = MAX_SIGNATURES;

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
        let secrets: Vec<WebhookSecret> = secrets.into_iter().collect();
        if !(1..=MAX_SECRETS).contains(&secrets.len()) {
            return Err(SecretError::Count(secrets.len()));
        }
        Ok(Self {
            scheme,
            keys: Keys::new(&secrets),
            body_signature: true,
            issued: Arc::new(Issued::default()),
        })
    }

    /// Also signs with `secret`, for a rotation: receivers holding the old or
    /// the new secret both accept.
    ///
    /// # Panics
    /// Past 8 secrets (a verifier reads at most 8 signatures).
    #[must_use]
    pub fn also(mut self, secret: WebhookSecret) -> Self {
        let count = self.keys.len() + 1;
        assert!(count <= MAX_SECRETS, "{}", SecretError::Count(count));
        self.keys = self.keys.with(&secret);
        self
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
            .field("body_signature", &self.body_signature)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REFERENCE.md, the `X-Webhook-*` scheme: GitHub's published example secret and body.
    #[test]
    fn x_webhook_vector() {
        let signer = Signer::x_webhook(WebhookSecret::new("It's a Secret to Everybody").unwrap());
        let h = signer.sign("d-1", 1_614_265_330, b"Hello, World!");
        assert_eq!(
            h["x-webhook-signature"],
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            h["x-webhook-signature-256"],
            "sha256=f37376a318b83773050e9e3ac8c6d599d2254e4f69edd75a1419cb54dc7264f3"
        );
        assert_eq!(h["x-webhook-timestamp"], "1614265330");
        assert_eq!(h["x-webhook-delivery-id"], "d-1");
    }

    /// REFERENCE.md, Standard Webhooks: the specification's reference-library vectors.
    #[test]
    fn standard_vectors() {
        let cases = [
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#,
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
            (
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                r#"{"email":"test@example.com","username":"test_user"}"#,
                "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            ),
        ];
        for (secret, id, ts, body, signature) in cases {
            let signer = Signer::standard(WebhookSecret::standard(secret).unwrap());
            let h = signer.sign(id, ts, body.as_bytes());
            assert_eq!(h["webhook-signature"], signature);
            assert_eq!(h["webhook-id"], id);
        }
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let old = WebhookSecret::new("old").unwrap();
        let new = WebhookSecret::new("new").unwrap();
        let both = Signer::x_webhook(new.clone()).also(old.clone());
        let h = both.sign("d", 1, b"x");
        let only_new = Signer::x_webhook(new).sign("d", 1, b"x");
        let only_old = Signer::x_webhook(old).sign("d", 1, b"x");
        assert_eq!(
            h["x-webhook-signature-256"].to_str().unwrap(),
            format!(
                "{}, {}",
                only_new["x-webhook-signature-256"].to_str().unwrap(),
                only_old["x-webhook-signature-256"].to_str().unwrap()
            )
        );
    }

    /// Issue 13, item 1: the same body twice in one second, and a retry in
    /// the second of its first attempt, get distinct signed content.
    #[test]
    fn signed_content_is_unique_per_signer() {
        let signer = Signer::x_webhook(WebhookSecret::new("s").unwrap());
        let clone = signer.clone();
        let mut seen = std::collections::HashSet::new();
        for (n, signer) in [&signer, &clone, &signer].into_iter().enumerate() {
            let mut headers = HeaderMap::new();
            let stamp = signer
                .sign_unique(&mut headers, &format!("d-{n}"), 1_000, b"same body")
                .unwrap();
            assert_eq!(stamp, 1_000 + n as u64);
            assert!(seen.insert(headers["x-webhook-signature-256"].clone()));
        }
        // Another body in the same second keeps the current time.
        let mut headers = HeaderMap::new();
        assert_eq!(
            signer
                .sign_unique(&mut headers, "d", 1_000, b"other")
                .unwrap(),
            1_000
        );
        // A second later, what was issued for past seconds is forgotten.
        assert_eq!(
            signer.sign_unique(&mut headers, "d", 1_010, b"x").unwrap(),
            1_010
        );
        assert_eq!(signer.issued.len(), 1);
    }

    #[test]
    fn identical_messages_beyond_a_minute_ahead_are_refused() {
        let signer = Signer::standard(WebhookSecret::new("s").unwrap());
        let mut headers = HeaderMap::new();
        for ahead in 0..=MAX_AHEAD_SECS {
            assert_eq!(
                signer.sign_unique(&mut headers, "msg_1", 5, b"x").unwrap(),
                5 + ahead
            );
        }
        assert_eq!(
            signer.sign_unique(&mut headers, "msg_1", 5, b"x"),
            Err(SendError::NotUnique)
        );
        // A different id is different signed content in this scheme.
        assert_eq!(
            signer.sign_unique(&mut headers, "msg_2", 5, b"x").unwrap(),
            5
        );
    }

    #[test]
    fn body_signature_can_be_dropped() {
        let signer = Signer::x_webhook(WebhookSecret::new("s").unwrap()).body_signature(false);
        let h = signer.sign("d", 1, b"x");
        assert!(!h.contains_key("x-webhook-signature"));
        assert!(h.contains_key("x-webhook-signature-256"));
    }

    /// Review of issue 14: the same body to many endpoints at once is one
    /// message per endpoint, not a queue of seconds.
    #[test]
    fn uniqueness_is_per_endpoint() {
        let signer = Signer::x_webhook(WebhookSecret::new("s").unwrap());
        for endpoint in 0..100 {
            let mut headers = HeaderMap::new();
            let url = format!("https://hooks.example/{endpoint}");
            let stamp = signer
                .sign_unique_to(url.as_bytes(), &mut headers, "d", 1_000, b"same")
                .unwrap();
            assert_eq!(stamp, 1_000, "endpoint {endpoint}");
        }
    }

    #[test]
    fn a_refused_claim_writes_nothing() {
        let signer = Signer::x_webhook(WebhookSecret::new("s").unwrap());
        for _ in 0..=MAX_AHEAD_SECS {
            signer
                .sign_unique(&mut HeaderMap::new(), "d", 7, b"x")
                .unwrap();
        }
        let mut headers = HeaderMap::new();
        assert_eq!(
            signer.sign_unique(&mut headers, "d", 7, b"x"),
            Err(SendError::NotUnique)
        );
        assert!(headers.is_empty(), "{headers:?}");
    }

    #[test]
    fn a_signer_takes_one_to_eight_secrets() {
        let secret = || WebhookSecret::new("s").unwrap();
        assert_eq!(
            Signer::try_with_secrets(Scheme::XWebhook, []).unwrap_err(),
            SecretError::Count(0)
        );
        assert_eq!(
            Signer::try_with_secrets(Scheme::Standard, (0..9).map(|_| secret())).unwrap_err(),
            SecretError::Count(9)
        );
        assert!(Signer::try_with_secrets(Scheme::Standard, (0..8).map(|_| secret())).is_ok());
    }
}
