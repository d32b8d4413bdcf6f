//! The store's in-flight bookkeeping under abandoned and replaced verifications.

use super::*;
use crate::Credential;

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
        .bcrypt_queue_per_client(100)
        .build()
        .with_default("default", Credential::bcrypt(COST_10).unwrap());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let Check::Bcrypt(job) = store.check(format!("wrong-{i}").as_bytes()) else {
            panic!("a bcrypt key needs a bcrypt run");
        };
        tasks.push(tokio::spawn(job.run(None)));
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
            tokio::spawn(job.run(None))
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
    let first = tokio::spawn(before.run(None));
    while store.stats().running == 0 {
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
    let Verification::Valid(who) = after.run(None).await else {
        panic!("the token is valid for the new key");
    };
    assert!(
        who.has_scope("new"),
        "the new key's own verdict, not the old one's"
    );
    assert!(matches!(first.await.unwrap(), Verification::Valid(_)));
    assert_eq!(store.stats().runs, 2, "two keys, two bcrypt runs");
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
                tokio::spawn(job.run(None))
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
