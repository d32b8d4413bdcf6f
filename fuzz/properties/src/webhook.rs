//! Webhook verification: no message the signer did not produce verifies.
//! Sign with a known key, mutate any byte of the headers or the body, verify:
//! whatever verifies carries the signed timestamp and body (and id, where the
//! scheme signs it) unchanged.

use arbitrary::{Arbitrary, Unstructured};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

use tower_claude_core::Clock;
use tower_claude_webhook::{Scheme, WebhookSecret, sign::Signer, verify::Verifier};

const NOW: u64 = 1_764_000_000;

#[derive(Debug, Arbitrary)]
struct Input {
    standard: bool,
    secret: Vec<u8>,
    /// An id; made valid (letters, digits, `_`, `-`) before signing.
    id: String,
    /// Seconds from now, within the window or not.
    skew: i16,
    body: Vec<u8>,
    body_only_accepted: bool,
    mutations: Vec<Mutation>,
}

#[derive(Debug, Arbitrary)]
enum Mutation {
    FlipBody { at: u16, xor: u8 },
    AppendBody(u8),
    TruncateBody(u16),
    FlipHeader { header: u8, at: u8, xor: u8 },
    ReplaceHeader { header: u8, value: Vec<u8> },
    AppendHeader { header: u8, value: Vec<u8> },
    RemoveHeader(u8),
}

const HEADERS: [&str; 7] = [
    "x-webhook-signature",
    "x-webhook-signature-256",
    "x-webhook-timestamp",
    "x-webhook-delivery-id",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fn header(n: u8) -> HeaderName {
    HeaderName::from_static(HEADERS[usize::from(n) % HEADERS.len()])
}

/// Seed format, one per line: `x-webhook` or `standard`, the secret (`whsec_...`
/// for standard), id, timestamp, body, and the signature header's value. The
/// verifier's clock is the timestamp.
pub fn check(data: &[u8]) {
    if let Some(text) = crate::seed(data) {
        return check_seed(&text);
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let Ok(secret) = WebhookSecret::from_bytes(input.secret.clone()) else {
        return;
    };
    let scheme = if input.standard {
        Scheme::Standard
    } else {
        Scheme::XWebhook
    };
    let id: String = input
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(64)
        .collect();
    let id = if id.is_empty() {
        "msg_1".to_owned()
    } else {
        id
    };
    let timestamp = NOW.saturating_add_signed(i64::from(input.skew));
    let signer = Signer::with_secrets(scheme, [secret.clone()]);
    let mut headers = signer.sign(&id, timestamp, &input.body);
    let mut body = input.body.clone();
    for mutation in input.mutations.iter().take(8) {
        apply(mutation, &mut headers, &mut body);
    }
    let verifier = Verifier::with_secrets(scheme, [secret])
        .clock(Clock::manual(Duration::from_secs(NOW)))
        .accept_body_only(input.body_only_accepted);
    let result = verifier.verify_signature(&headers, &body);
    if input.mutations.is_empty() && i64::from(input.skew).unsigned_abs() <= 300 {
        assert!(
            result.is_ok(),
            "an untouched message in the window was refused: {result:?}"
        );
    }
    let Ok(verified) = result else {
        return;
    };
    assert_eq!(body, input.body, "a changed body verified");
    match verified.timestamp {
        Some(seen) => assert_eq!(seen, timestamp, "a changed timestamp verified"),
        None => assert!(
            input.body_only_accepted && !input.standard,
            "no signed time, yet body-only was not accepted"
        ),
    }
    if input.standard {
        assert_eq!(
            verified.delivery_id.as_deref(),
            Some(id.as_str()),
            "a changed id verified"
        );
    }
    let window = i64::from(input.skew).unsigned_abs();
    assert!(
        verified.timestamp.is_none() || window <= 300,
        "a timestamp {window} s away verified"
    );
}

fn apply(mutation: &Mutation, headers: &mut HeaderMap, body: &mut Vec<u8>) {
    match mutation {
        Mutation::FlipBody { at, xor } => {
            if !body.is_empty() {
                let i = usize::from(*at) % body.len();
                body[i] ^= xor;
            }
        }
        Mutation::AppendBody(byte) => body.push(*byte),
        Mutation::TruncateBody(n) => body.truncate(usize::from(*n)),
        Mutation::FlipHeader { header: h, at, xor } => {
            let name = header(*h);
            if let Some(value) = headers.get(&name) {
                let mut bytes = value.as_bytes().to_vec();
                if !bytes.is_empty() {
                    let i = usize::from(*at) % bytes.len();
                    bytes[i] ^= xor;
                }
                if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                    headers.insert(name, value);
                }
            }
        }
        Mutation::ReplaceHeader { header: h, value } => {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.insert(header(*h), value);
            }
        }
        Mutation::AppendHeader { header: h, value } => {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(header(*h), value);
            }
        }
        Mutation::RemoveHeader(h) => {
            headers.remove(header(*h));
        }
    }
}

/// A published vector verifies exactly when its signature is the signer's own
/// for that id, time and body.
fn check_seed(text: &str) {
    let lines: Vec<&str> = text.split('\n').collect();
    let [scheme, secret, id, timestamp, body, signature] = lines[..] else {
        return;
    };
    // Field values are read without surrounding whitespace (RFC 9110).
    let (id, timestamp, signature) = (id.trim(), timestamp.trim(), signature.trim());
    let (scheme, secret, signature_header, timestamp_header, id_header) = match scheme {
        "standard" => (
            Scheme::Standard,
            WebhookSecret::standard(secret),
            "webhook-signature",
            "webhook-timestamp",
            "webhook-id",
        ),
        _ => (
            Scheme::XWebhook,
            WebhookSecret::new(secret),
            "x-webhook-signature-256",
            "x-webhook-timestamp",
            "x-webhook-delivery-id",
        ),
    };
    let (Ok(secret), Ok(stamp)) = (secret, timestamp.parse::<u64>()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (signature_header, signature),
        (timestamp_header, timestamp),
        (id_header, id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let own = Signer::with_secrets(scheme, [secret.clone()]).sign(id, stamp, body.as_bytes());
    let own = own
        .get(signature_header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let verified = Verifier::with_secrets(scheme, [secret])
        .clock(Clock::manual(Duration::from_secs(stamp)))
        .verify_signature(&headers, body.as_bytes());
    let carries_own = signature
        .to_ascii_lowercase()
        .contains(&own.to_ascii_lowercase())
        || (scheme == Scheme::Standard && signature.contains(own));
    // Headers a client could not send as text (obs-text, controls) are
    // refused before any signature is looked at.
    let sendable = [signature, timestamp, id]
        .iter()
        .all(|v| HeaderValue::from_str(v).is_ok_and(|h| h.to_str().is_ok()));
    if signature == own && sendable {
        assert!(
            verified.is_ok(),
            "the signer's own signature was refused: {verified:?}"
        );
    }
    if verified.is_ok() {
        assert!(carries_own, "{signature:?} verified but is not {own:?}");
    }
}
