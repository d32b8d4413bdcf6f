//! Standard Webhooks `v1a` (Ed25519): signed and verified here, beside `v1`,
//! through the receiver layer on a real socket, and against an independent
//! implementation (Python's `cryptography`) in both directions.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method, StatusCode};
use tower_claude_testkit::{send_map, serve_axum};
use tower_claude_webhook::sign::Signer;
use tower_claude_webhook::verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer};
use tower_claude_webhook::{SecretError, StandardPublicKey, StandardSigningKey, WebhookSecret};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn whsk(seed: &[u8]) -> String {
    format!("whsk_{}", STANDARD.encode(seed))
}

/// RFC 8032, section 7.1, TEST 1: the public key of this secret key.
#[test]
fn keys_follow_rfc_8032() {
    let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let public = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let key = StandardSigningKey::new(&whsk(&seed)).unwrap();
    assert_eq!(
        key.public_key().to_string(),
        format!("whpk_{}", STANDARD.encode(&public))
    );
    // The 64-byte seed-and-public form, checked against its public half.
    let pair: Vec<u8> = seed.iter().chain(&public).copied().collect();
    assert_eq!(
        StandardSigningKey::new(&whsk(&pair)).unwrap().public_key(),
        key.public_key()
    );
    let mut wrong = pair.clone();
    wrong[63] ^= 1;
    assert_eq!(
        StandardSigningKey::new(&whsk(&wrong)).unwrap_err(),
        SecretError::KeyPairMismatch
    );
    assert_eq!(
        StandardSigningKey::new("whpk_AAAA").unwrap_err(),
        SecretError::Prefix("whsk_")
    );
    assert!(matches!(
        StandardSigningKey::new(&whsk(&[1; 31])),
        Err(SecretError::KeyLength(31))
    ));
    assert_eq!(
        StandardSigningKey::new(&key.to_whsk())
            .unwrap()
            .public_key(),
        key.public_key()
    );
    let public = key.public_key().to_string();
    assert_eq!(StandardPublicKey::new(&public).unwrap(), key.public_key());
    let raw = STANDARD.decode(&public["whpk_".len()..]).unwrap();
    assert_eq!(
        StandardPublicKey::new(&whsk(&raw)).unwrap_err(),
        SecretError::Prefix("whpk_")
    );
    assert!(matches!(
        StandardPublicKey::new("whpk_AAAA"),
        Err(SecretError::KeyLength(3))
    ));
}

#[test]
fn v1a_alone_beside_v1_and_rotated() {
    let (old, new) = (
        StandardSigningKey::generate().unwrap(),
        StandardSigningKey::generate().unwrap(),
    );
    let secret = WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let at = now();
    // v1a alone.
    let signed = Signer::standard_signing_key(old.clone()).sign("msg_1", at, b"{}");
    let value = signed["webhook-signature"].to_str().unwrap();
    assert!(value.starts_with("v1a,") && !value.contains(' '), "{value}");
    let by_public = Verifier::standard_public_key(old.public_key());
    assert!(by_public.verify_signature(&signed, b"{}").is_ok());
    assert!(by_public.verify_signature(&signed, b"{ }").is_err());
    assert!(
        Verifier::standard_public_key(new.public_key())
            .verify_signature(&signed, b"{}")
            .is_err()
    );
    // Beside v1, in one header: each kind of receiver accepts.
    let both = Signer::standard(secret.clone())
        .also_signing_key(old.clone())
        .sign("msg_2", at, b"{}");
    let value = both["webhook-signature"].to_str().unwrap();
    assert!(
        value.starts_with("v1,") && value.contains(" v1a,"),
        "{value}"
    );
    assert!(by_public.verify_signature(&both, b"{}").is_ok());
    assert!(
        Verifier::standard(secret.clone())
            .verify_signature(&both, b"{}")
            .is_ok()
    );
    // Rotation: a receiver holding the old and the new public key accepts
    // either signer.
    let rotated = Verifier::standard_public_key(old.public_key()).also_public_key(new.public_key());
    for key in [old, new] {
        let signed = Signer::standard_signing_key(key).sign("msg_3", at, b"{}");
        assert!(rotated.verify_signature(&signed, b"{}").is_ok());
    }
    // The X-Webhook scheme has no asymmetric form.
    assert_eq!(
        Signer::x_webhook(secret)
            .try_also_signing_key(StandardSigningKey::generate().unwrap())
            .unwrap_err(),
        SecretError::NotStandard
    );
}

/// The receiver layer on a real socket: a `v1a` delivery is accepted once;
/// its replay and a forged one are refused.
#[tokio::test]
async fn the_receiver_layer_accepts_v1a_on_a_real_socket() {
    let key = StandardSigningKey::generate().unwrap();
    let verifier = Verifier::standard_public_key(key.public_key())
        .replay_cache(tower_claude_webhook::replay::MemoryReplayCache::new(100));
    let app = Router::new().route(
        "/hook",
        post(|Extension(_): Extension<VerifiedWebhook>| async { "ok" })
            .layer(VerifyWebhookLayer::new(verifier)),
    );
    let addr = serve_axum(app).await;
    let signed = Signer::standard_signing_key(key).sign("msg_socket", now(), b"{}");
    let deliver = |headers: HeaderMap| async move {
        send_map(addr, Method::POST, "/hook", &headers, b"{}").await
    };
    assert_eq!(deliver(signed.clone()).await.status, StatusCode::OK);
    let replay = deliver(signed).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    let forged = Signer::standard_signing_key(StandardSigningKey::generate().unwrap()).sign(
        "msg_forged",
        now(),
        b"{}",
    );
    assert_eq!(deliver(forged).await.status, StatusCode::UNAUTHORIZED);
}

/// Runs `script` with Python's `cryptography`; the test fails, naming the
/// fix, where it is missing.
fn python(script: &str, args: &[&str]) -> String {
    for python in ["python3", "/usr/bin/python3"] {
        let has = Command::new(python)
            .args(["-c", "import cryptography"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has {
            continue;
        }
        let output = Command::new(python)
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return String::from_utf8(output.stdout).unwrap().trim().to_owned();
    }
    panic!(
        "Python's cryptography is missing: run `bash scripts/test.sh`, which installs it \
         (or `apt-get install -y python3-cryptography`)"
    );
}

/// Python signs `id.timestamp.body` with a seed; we verify its `v1a` entry.
#[test]
fn we_verify_what_python_signs() {
    let seed = [7u8; 32];
    let at = now().to_string();
    let script = "import sys, base64\n\
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n\
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[1]))\n\
        print(base64.b64encode(key.sign(sys.argv[2].encode())).decode())";
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let content = format!("msg_py.{at}.{{\"a\":1}}");
    let signature = python(script, &[&seed_hex, &content]);
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", "msg_py".parse().unwrap());
    headers.insert("webhook-timestamp", at.parse().unwrap());
    headers.insert(
        "webhook-signature",
        format!("v1a,{signature}").parse().unwrap(),
    );
    let public = StandardSigningKey::new(&whsk(&seed)).unwrap().public_key();
    let verifier = Verifier::standard_public_key(public);
    assert!(verifier.verify_signature(&headers, br#"{"a":1}"#).is_ok());
    assert!(verifier.verify_signature(&headers, br#"{"a":2}"#).is_err());
}

/// We sign; Python verifies our `v1a` entry with the `whpk_` key.
#[test]
fn python_verifies_what_we_sign() {
    let key = StandardSigningKey::generate().unwrap();
    let at = now();
    let signed = Signer::standard_signing_key(key.clone()).sign("msg_rs", at, b"hello");
    let signature = signed["webhook-signature"]
        .to_str()
        .unwrap()
        .strip_prefix("v1a,")
        .unwrap()
        .to_owned();
    let public = key.public_key().to_string();
    let script = "import sys, base64\n\
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n\
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(sys.argv[1][len('whpk_'):]))\n\
        key.verify(base64.b64decode(sys.argv[2]), sys.argv[3].encode())\n\
        print('verified')";
    let content = format!("msg_rs.{at}.hello");
    assert_eq!(python(script, &[&public, &signature, &content]), "verified");
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
