//! Tests of `sign`.

use super::*;
use crate::issued::MAX_AHEAD_SECS;

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
