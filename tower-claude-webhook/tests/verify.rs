//! Sign, then verify; and every way a message is refused.

use std::time::Duration;

use http::HeaderMap;
use tower_claude_core::Clock;
use tower_claude_webhook::{
    Scheme, WebhookSecret,
    replay::MemoryReplayCache,
    sign::Signer,
    verify::{Verifier, VerifyError},
};

const NOW: u64 = 1_764_000_000;
const BODY: &[u8] = br#"{"event":"task.completed","id":42}"#;

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s).unwrap()
}

fn at(now: u64) -> Clock {
    Clock::manual(Duration::from_secs(now))
}

fn seed_verifier(s: &str) -> Verifier {
    Verifier::x_webhook(secret(s)).clock(at(NOW))
}

/// Worked out with Python's `hmac` module, independently of this crate:
/// `hmac.new(secret.encode(), body, sha256)` and the same over `b"1764000000." + body`.
#[test]
fn seed_headers_match_an_independent_computation() {
    let key = "whsec-seed-test ✓ 2026";
    let headers = Signer::x_webhook(secret(key)).sign("d-42", NOW, BODY);
    assert_eq!(
        headers["x-webhook-signature"],
        "sha256=24ecabf9678ada56e2ad63d8aab6011b018ba98f869eb90a6bd8d27d5e314254"
    );
    assert_eq!(
        headers["x-webhook-signature-256"],
        "sha256=de675f3a7834875afe44f4df5570659e48cf92767522cd8a9ab5a4ed9559c4af"
    );
    assert_eq!(headers["x-webhook-timestamp"], "1764000000");
    let webhook = seed_verifier(key).verify_signature(&headers, BODY).unwrap();
    assert_eq!(webhook.timestamp, Some(NOW));
    assert_eq!(webhook.delivery_id.as_deref(), Some("d-42"));
}

/// The Standard Webhooks specification's published vectors (from its reference
/// libraries' tests, as listed in REFERENCE.md), on the verifying side.
#[test]
fn standard_webhooks_published_vectors_verify() {
    let cases = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "1649367553",
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];
    for (key, id, ts, payload, signature) in cases {
        let now: u64 = ts.parse().unwrap();
        let verifier =
            Verifier::standard(WebhookSecret::standard(key).unwrap()).clock(at(now + 10));
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", ts.parse().unwrap());
        // A rotation list with an unknown version and a wrong v1 entry first.
        let list = format!("v1a,AAAA v1,Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE= {signature}");
        headers.insert("webhook-signature", list.parse().unwrap());
        let webhook = verifier
            .verify_signature(&headers, payload.as_bytes())
            .unwrap();
        assert_eq!(webhook.delivery_id.as_deref(), Some(id));
        let mut tampered = payload.as_bytes().to_vec();
        tampered[1] ^= 1;
        assert_eq!(
            verifier.verify_signature(&headers, &tampered),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn flipping_any_byte_of_body_timestamp_or_signature_is_refused() {
    for scheme in [Scheme::XWebhook, Scheme::Standard] {
        let key = secret("flip-test-secret");
        let signer = Signer::with_secrets(scheme, [key.clone()]);
        let verifier = Verifier::with_secrets(scheme, [key]).clock(at(NOW));
        let headers = signer.sign("msg_flip", NOW, BODY);
        assert!(verifier.verify_signature(&headers, BODY).is_ok());

        for i in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[i] ^= 0x01;
            assert!(
                verifier.verify_signature(&headers, &body).is_err(),
                "{scheme:?} body byte {i}"
            );
        }
        let (signature_header, timestamp_header) = match scheme {
            Scheme::XWebhook => ("x-webhook-signature-256", "x-webhook-timestamp"),
            _ => ("webhook-signature", "webhook-timestamp"),
        };
        for header in [signature_header, timestamp_header] {
            let original = headers[header].as_bytes().to_vec();
            for i in 0..original.len() {
                for flipped in [original[i] ^ 0x01, original[i] ^ 0x20] {
                    let mut bytes = original.clone();
                    bytes[i] = flipped;
                    let Ok(value) = http::HeaderValue::from_bytes(&bytes) else {
                        continue;
                    };
                    let mut forged = headers.clone();
                    forged.insert(header, value);
                    // Hex digits are case-insensitive: that flip changes nothing.
                    if forged[header].to_str().map(str::to_ascii_lowercase).ok()
                        == headers[header].to_str().map(str::to_ascii_lowercase).ok()
                        && header == "x-webhook-signature-256"
                    {
                        continue;
                    }
                    assert!(
                        verifier.verify_signature(&forged, BODY).is_err(),
                        "{scheme:?} {header} byte {i} -> {:?}",
                        forged[header]
                    );
                }
            }
        }
        // The Standard scheme signs the id too.
        if scheme == Scheme::Standard {
            let mut forged = headers.clone();
            forged.insert("webhook-id", "msg_flop".parse().unwrap());
            assert_eq!(
                verifier.verify_signature(&forged, BODY),
                Err(VerifyError::BadSignature)
            );
        }
    }
}

#[test]
fn stale_and_future_timestamps_are_refused_both_ways() {
    let signer = Signer::x_webhook(secret("k"));
    let verifier = Verifier::x_webhook(secret("k")).clock(at(NOW));
    let ok_old = signer.sign("d", NOW - 300, BODY);
    let ok_new = signer.sign("d", NOW + 300, BODY);
    assert!(verifier.verify_signature(&ok_old, BODY).is_ok());
    assert!(verifier.verify_signature(&ok_new, BODY).is_ok());
    assert_eq!(
        verifier.verify_signature(&signer.sign("d", NOW - 301, BODY), BODY),
        Err(VerifyError::TooOld {
            age: Duration::from_secs(301)
        })
    );
    assert_eq!(
        verifier.verify_signature(&signer.sign("d", NOW + 301, BODY), BODY),
        Err(VerifyError::FromTheFuture {
            ahead: Duration::from_secs(301)
        })
    );
    let strict = verifier.tolerance(Duration::from_secs(30));
    assert!(matches!(
        strict.verify_signature(&signer.sign("d", NOW - 31, BODY), BODY),
        Err(VerifyError::TooOld { .. })
    ));
}

#[tokio::test]
async fn a_replayed_delivery_is_refused() {
    let signer = Signer::x_webhook(secret("k"));
    let verifier = Verifier::x_webhook(secret("k"))
        .clock(at(NOW))
        .replay_cache(MemoryReplayCache::new(1000).clock(at(NOW)));
    let headers = signer.sign("msg_once", NOW, BODY);
    assert!(verifier.verify(&headers, BODY).await.is_ok());
    assert_eq!(
        verifier.verify(&headers, BODY).await,
        Err(VerifyError::Replayed)
    );
    // A forged copy does not burn a real message. (The seed scheme signs no
    // id: another delivery with the same body in the same second would be the
    // same message; Standard Webhooks signs the id.)
    let other = signer.sign("msg_twice", NOW - 1, BODY);
    assert_eq!(
        verifier.verify(&other, b"forged").await,
        Err(VerifyError::BadSignature)
    );
    assert!(verifier.verify(&other, BODY).await.is_ok());
    // The seed scheme does not sign the delivery id: changing it makes no new
    // message, and cannot burn another delivery's id either.
    let mut renamed = headers.clone();
    renamed.insert("x-webhook-delivery-id", "msg_other".parse().unwrap());
    assert_eq!(
        verifier.verify(&renamed, BODY).await,
        Err(VerifyError::Replayed)
    );
    let mut no_id = headers.clone();
    no_id.remove("x-webhook-delivery-id");
    assert_eq!(
        verifier.verify(&no_id, BODY).await,
        Err(VerifyError::Replayed)
    );
    // A sender's retry is signed afresh and passes.
    let retry = signer.sign("msg_once", NOW + 1, BODY);
    assert!(verifier.verify(&retry, BODY).await.is_ok());
}

#[tokio::test]
async fn a_replay_at_the_far_edge_of_the_window_is_still_refused() {
    let clock = Clock::manual(Duration::from_secs(1_000));
    let verifier = Verifier::x_webhook(secret("k"))
        .tolerance(Duration::from_secs(300))
        .clock(clock.clone())
        .replay_cache(MemoryReplayCache::new(10).clock(clock.clone()));
    // Signed 300 s ahead: accepted now, and fresh until 600 s from now.
    let headers = Signer::x_webhook(secret("k")).sign("d", 1_300, BODY);
    assert!(verifier.verify(&headers, BODY).await.is_ok());
    clock.advance(Duration::from_secs(600));
    assert_eq!(
        verifier.verify(&headers, BODY).await,
        Err(VerifyError::Replayed)
    );
}

#[tokio::test]
async fn one_cache_serves_several_senders_without_collisions() {
    let cache = MemoryReplayCache::new(100).clock(at(NOW));
    let a = Verifier::x_webhook(secret("sender-a"))
        .clock(at(NOW))
        .replay_cache(cache.clone());
    let b = Verifier::x_webhook(secret("sender-b"))
        .clock(at(NOW))
        .replay_cache(cache);
    // Sender A signs the id B's sender will use, at the same second.
    let from_a = Signer::x_webhook(secret("sender-a")).sign("evt_42", NOW, BODY);
    let from_b = Signer::x_webhook(secret("sender-b")).sign("evt_42", NOW, BODY);
    assert!(a.verify(&from_a, BODY).await.is_ok());
    assert!(
        b.verify(&from_b, BODY).await.is_ok(),
        "B's delivery is its own"
    );
}

#[test]
fn standard_ids_with_a_dot_are_refused() {
    // The signed content is `id.timestamp.body`: a message signed with id
    // `order.<T>` verifies as id `order`, timestamp T and another body. So no
    // dotted id is accepted, and a sender cannot make a `DeliveryId` with one.
    let key = WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let verifier = Verifier::standard(key.clone()).clock(at(NOW));
    let signed = Signer::standard(key).sign(&format!("order.{NOW}"), NOW - 5, b"x");
    assert_eq!(
        verifier.verify_signature(&signed, b"x").unwrap_err().code(),
        "malformed_signature_header"
    );
}

#[test]
fn rotation_accepts_old_and_new_while_both_are_configured() {
    let (old, new) = (secret("old-secret"), secret("new-secret"));
    let rotating = Verifier::x_webhook(new.clone())
        .also(old.clone())
        .clock(at(NOW));
    for signer in [
        Signer::x_webhook(old.clone()),
        Signer::x_webhook(new.clone()),
        Signer::x_webhook(new.clone()).also(old.clone()),
    ] {
        assert!(
            rotating
                .verify_signature(&signer.sign("d", NOW, BODY), BODY)
                .is_ok()
        );
    }
    let new_only = Verifier::x_webhook(new.clone()).clock(at(NOW));
    assert_eq!(
        new_only.verify_signature(&Signer::x_webhook(old).sign("d", NOW, BODY), BODY),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        new_only.verify_signature(
            &Signer::x_webhook(secret("third")).sign("d", NOW, BODY),
            BODY
        ),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn malformed_and_missing_headers_say_what_is_wrong() {
    let verifier = seed_verifier("k");
    let signed = Signer::x_webhook(secret("k")).sign("d", NOW, BODY);
    let code = |headers: &HeaderMap| verifier.verify_signature(headers, BODY).unwrap_err().code();

    let mut h = signed.clone();
    h.remove("x-webhook-signature-256");
    assert_eq!(
        code(&h),
        "missing_signature_header",
        "the body-only one is not enough"
    );
    let mut h = signed.clone();
    h.remove("x-webhook-timestamp");
    assert_eq!(code(&h), "missing_signature_header");
    for bad in ["", "-1", "1.5", "17640000000000000000000", "１７６", "0x10"] {
        let mut h = signed.clone();
        h.insert(
            "x-webhook-timestamp",
            http::HeaderValue::from_str(bad).unwrap(),
        );
        assert_eq!(code(&h), "malformed_signature_header", "{bad:?}");
    }
    for bad in [
        "sha1=abc",
        "sha256=zz",
        "sha256=",
        &format!("sha256={}", "a".repeat(63)),
    ] {
        let mut h = signed.clone();
        h.insert("x-webhook-signature-256", bad.parse().unwrap());
        assert_eq!(code(&h), "malformed_signature_header", "{bad:?}");
    }
    let mut h = signed.clone();
    let copy = h["x-webhook-signature-256"].clone();
    h.append("x-webhook-signature-256", copy);
    assert_eq!(
        code(&h),
        "malformed_signature_header",
        "two signature headers"
    );
    let mut h = signed.clone();
    h.insert(
        "x-webhook-event",
        http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
    );
    assert_eq!(code(&h), "malformed_signature_header", "non-ASCII event");
    let mut h = signed.clone();
    let many = [h["x-webhook-signature-256"].to_str().unwrap(); 9].join(", ");
    h.insert("x-webhook-signature-256", many.parse().unwrap());
    assert_eq!(
        code(&h),
        "malformed_signature_header",
        "more than 8 signatures"
    );

    // Body-only signatures only when asked for, and then without a time.
    let mut body_only = signed.clone();
    body_only.remove("x-webhook-signature-256");
    body_only.remove("x-webhook-timestamp");
    let lenient = seed_verifier("k").accept_body_only(true);
    let webhook = lenient.verify_signature(&body_only, BODY).unwrap();
    assert_eq!(webhook.timestamp, None);
    assert_eq!(
        lenient.verify_signature(&body_only, b"other"),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn secrets_never_print() {
    let key = WebhookSecret::new("hunter2-very-secret").unwrap();
    let signer = Signer::x_webhook(key.clone());
    let verifier = Verifier::x_webhook(key.clone());
    for shown in [
        format!("{key:?}"),
        format!("{signer:?}"),
        format!("{verifier:?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(WebhookSecret::new("").is_err());
    assert!(WebhookSecret::standard("whsec_!!!").is_err());
    assert!(
        WebhookSecret::standard("whsec_AAAA").is_err(),
        "3 bytes is too short"
    );
    let generated = WebhookSecret::generate().unwrap();
    let round = WebhookSecret::standard(&generated.expose_standard()).unwrap();
    let a = Signer::standard(generated).sign("m", 1, b"x");
    let b = Signer::standard(round).sign("m", 1, b"x");
    assert_eq!(a["webhook-signature"], b["webhook-signature"]);
}
