//! The store at its capacity, and slots that must not collide.

use super::*;
use crate::Quota;
use tower_claude_core::Clock;

fn setup(max_keys: usize, at_capacity: AtCapacity) -> (Clock, MemoryStore, MemoryBucket) {
    let clock = Clock::manual(Duration::ZERO);
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .max_keys(max_keys)
        .at_capacity(at_capacity)
        .build();
    let bucket = store.bucket(&PolicyInfo::new("default".into(), Quota::per_second(1)));
    (clock, store, bucket)
}

fn decide(store: &MemoryStore, bucket: &MemoryBucket, key: &ClientKey) -> Decision {
    match store.check(bucket, key) {
        Check::Ready(Ok(decision)) => decision,
        other => panic!("{other:?}"),
    }
}

fn ip(n: u32) -> ClientKey {
    ClientKey::ip(IpAddr::V4(n.into()))
}

#[test]
fn full_store_refuses_newcomers_but_not_the_tracked() {
    let (clock, store, bucket) = setup(2, AtCapacity::RefuseNew);
    assert!(decide(&store, &bucket, &ip(1)).is_allowed());
    assert!(decide(&store, &bucket, &ip(2)).is_allowed());
    let newcomer = decide(&store, &bucket, &ip(3));
    assert!(!newcomer.is_allowed());
    assert_eq!(newcomer.retry_after(), Duration::from_secs(1));
    assert_eq!(store.tracked_keys(), 2);
    clock.advance(Duration::from_secs(1));
    assert!(
        decide(&store, &bucket, &ip(1)).is_allowed(),
        "tracked client"
    );
    // Client 2's bucket is full again, so the capacity sweep makes room.
    clock.advance(Duration::from_secs(10));
    assert!(decide(&store, &bucket, &ip(3)).is_allowed());
}

#[test]
fn full_store_can_admit_untracked() {
    let (_clock, store, bucket) = setup(1, AtCapacity::AdmitUntracked);
    assert!(decide(&store, &bucket, &ip(1)).is_allowed());
    for _ in 0..3 {
        assert!(decide(&store, &bucket, &ip(2)).is_allowed());
    }
    assert_eq!(store.tracked_keys(), 1);
}

#[test]
fn named_keys_and_addresses_do_not_share_slots() {
    let (_clock, store, _) = setup(10, AtCapacity::RefuseNew);
    let v4 = store.slot(&ip(0x0102_0304));
    let v6 = store.slot(&ClientKey::ip("2001:db8::".parse().unwrap()));
    let name = store.slot(&ClientKey::name("1.2.3.4"));
    assert_ne!(v4, v6);
    assert_ne!(v4, name);
    assert_eq!(name, store.slot(&ClientKey::name("1.2.3.4")));
}
