//! Sign-then-verify round trips on random input (proptest, run by CI): random
//! bodies, ids, timestamps and key sets, in both schemes. What one signer
//! signs, a verifier holding any of its secrets accepts, with the same id and
//! time; a verifier holding none refuses it.

use proptest::prelude::*;
use std::time::Duration;

use tower_claude_core::Clock;
use tower_claude_webhook::{
    Scheme, WebhookSecret,
    sign::Signer,
    verify::{Verifier, VerifyError},
};

fn secrets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..64), 1..4)
}

fn ids() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn what_is_signed_verifies_with_any_of_its_secrets(
        standard in any::<bool>(),
        keys in secrets(),
        other in prop::collection::vec(any::<u8>(), 1..64),
        id in ids(),
        timestamp in 1u64..4_000_000_000,
        skew in -300i64..=300,
        body in prop::collection::vec(any::<u8>(), 0..2048),
        holder in any::<prop::sample::Index>(),
    ) {
        let scheme = if standard { Scheme::Standard } else { Scheme::XWebhook };
        let secrets: Vec<WebhookSecret> =
            keys.iter().map(|k| WebhookSecret::from_bytes(k.clone()).unwrap()).collect();
        let headers = Signer::with_secrets(scheme, secrets.clone()).sign(&id, timestamp, &body);
        let now = timestamp.saturating_add_signed(skew);
        let held = secrets[holder.index(secrets.len())].clone();
        let verified = Verifier::with_secrets(scheme, [held.clone()])
            .clock(Clock::manual(Duration::from_secs(now)))
            .verify_signature(&headers, &body)
            .unwrap();
        prop_assert_eq!(verified.timestamp, Some(timestamp));
        prop_assert_eq!(verified.delivery_id.as_deref(), Some(id.as_str()));

        // The rotation the other way: a receiver holding the new secret and
        // the old accepts what a sender signs with either one alone.
        let alone = Signer::with_secrets(scheme, [held]).sign(&id, timestamp, &body);
        let receiver = Verifier::with_secrets(scheme, secrets.clone())
            .clock(Clock::manual(Duration::from_secs(now)));
        prop_assert!(receiver.verify_signature(&alone, &body).is_ok());

        if !keys.contains(&other) {
            let stranger = WebhookSecret::from_bytes(other).unwrap();
            let refused = Verifier::with_secrets(scheme, [stranger])
                .clock(Clock::manual(Duration::from_secs(now)))
                .verify_signature(&headers, &body);
            prop_assert_eq!(refused, Err(VerifyError::BadSignature));
        }
    }

    /// Outside the window, either way, nothing verifies.
    #[test]
    fn stale_or_future_messages_are_refused(
        standard in any::<bool>(),
        id in ids(),
        timestamp in 1_000u64..4_000_000_000,
        skew in prop_oneof![301i64..100_000, -100_000i64..-300],
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let scheme = if standard { Scheme::Standard } else { Scheme::XWebhook };
        let secret = WebhookSecret::new("s").unwrap();
        let headers = Signer::with_secrets(scheme, [secret.clone()]).sign(&id, timestamp, &body);
        let now = timestamp.saturating_add_signed(skew);
        let refused = Verifier::with_secrets(scheme, [secret])
            .clock(Clock::manual(Duration::from_secs(now)))
            .verify_signature(&headers, &body);
        prop_assert!(
            matches!(refused, Err(VerifyError::TooOld { .. } | VerifyError::FromTheFuture { .. })),
            "{:?}", refused
        );
    }
}
