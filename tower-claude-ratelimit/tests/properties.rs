//! Properties of the rate limiter on random inputs (proptest, run by CI):
//! the GCRA step against a reference model written as plain arithmetic, for
//! random request sequences, quotas and bursts, clock steps backwards and
//! huge values; and the memory store against that model through its clock.

use std::time::Duration;

use proptest::prelude::*;
use tower_claude_core::Clock;
use tower_claude_ratelimit::{
    Check, ClientKey, Decision, MemoryStore, PolicyInfo, Quota, RateLimitStore,
};

/// The reference: a bucket of `burst` tokens, one back every `interval`,
/// written as "the request is admitted when the bucket, refilled up to now,
/// holds a token". Times are u128 so nothing wraps; `tat` is the time at
/// which the bucket would be full again.
#[derive(Debug, Clone, Copy)]
struct Model {
    tat: u128,
}

impl Model {
    /// Admitted?, remaining tokens, retry-after (ns) when refused.
    fn step(&mut self, now: u64, interval: u64, tolerance: u64) -> (bool, u128, u128) {
        let (now, interval, tolerance) =
            (u128::from(now), u128::from(interval), u128::from(tolerance));
        // Time the bucket still needs to be full, if we take one more token.
        let owed = self.tat.max(now) + interval - now;
        // A bucket whose next arrival time would not fit in 64 bits refuses.
        if self.tat.max(now) + interval > u128::from(u64::MAX) {
            return (false, 0, u128::from(u64::MAX));
        }
        if owed > tolerance {
            return (false, 0, owed - tolerance);
        }
        self.tat = (self.tat.max(now) + interval).min(u128::from(u64::MAX));
        (true, (tolerance - owed) / interval.max(1), 0)
    }
}

fn quotas() -> impl Strategy<Value = (u64, u64)> {
    // (interval, tolerance) in ns: from 1 ns to an hour a token, bursts of
    // 1 to 1000 tokens, and a few giants near u64::MAX.
    prop_oneof![
        (1u64..3_600_000_000_000, 1u64..1000).prop_map(|(i, b)| (i, i.saturating_mul(b))),
        (1u64..1000, 1u64..1000).prop_map(|(i, b)| (i, i * b)),
        (u64::MAX / 4..u64::MAX, 1u64..4).prop_map(|(i, b)| (i, i.saturating_mul(b))),
    ]
}

/// Clock steps: mostly forward, sometimes backwards (a clock stepped back),
/// sometimes huge.
fn steps() -> impl Strategy<Value = Vec<(i64, u8)>> {
    prop::collection::vec(
        (
            prop_oneof![
                6 => 0i64..2_000_000_000,
                2 => -2_000_000_000i64..0,
                1 => Just(i64::MAX),
                1 => Just(i64::MIN),
            ],
            1u8..6,
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Decision::gcra, the step both stores run, agrees with the model on
    /// every request of a random sequence; a refusal's retry-after is exact
    /// (admitted at that time, not a nanosecond before).
    #[test]
    fn gcra_agrees_with_the_model((interval, tolerance) in quotas(), steps in steps(), start in any::<u64>()) {
        let mut model = Model { tat: 0 };
        let mut tat = 0u64;
        let mut now = start;
        for (step, requests) in steps {
            now = now.saturating_add_signed(step);
            for _ in 0..requests {
                let (decision, new_tat) = Decision::gcra(tat, now, interval, tolerance);
                let (allowed, remaining, retry) = model.step(now, interval, tolerance);
                prop_assert_eq!(decision.is_allowed(), allowed, "at {} with tat {}", now, tat);
                if allowed {
                    prop_assert_eq!(u128::from(decision.remaining()), remaining.min(u128::from(u32::MAX)));
                    prop_assert_eq!(decision.retry_after(), Duration::ZERO);
                    tat = new_tat.unwrap();
                    prop_assert_eq!(u128::from(tat), model.tat);
                } else {
                    prop_assert!(new_tat.is_none());
                    prop_assert_eq!(decision.retry_after().as_nanos(), retry);
                    let wait = u64::try_from(retry).unwrap();
                    if let Some(then) = now.checked_add(wait).filter(|_| wait != u64::MAX) {
                        prop_assert!(Decision::gcra(tat, then, interval, tolerance).0.is_allowed());
                        prop_assert!(!Decision::gcra(tat, then - 1, interval, tolerance).0.is_allowed());
                    }
                }
            }
        }
    }
}

fn decide(
    store: &MemoryStore,
    bucket: &<MemoryStore as RateLimitStore>::Bucket,
    key: &ClientKey,
) -> Decision {
    match store.check(bucket, key) {
        Check::Ready(answer) => answer.unwrap(),
        Check::Pending(_) => panic!("the memory store answers at once"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The memory store, with its own quota arithmetic, sweeps and tables,
    /// admits exactly what the model admits for random quotas and forward
    /// clock steps (its clock cannot step back).
    #[test]
    fn the_memory_store_agrees_with_the_model(
        count in 1u32..500,
        window_ms in 1u64..3_600_000,
        burst in 1u32..50,
        steps in prop::collection::vec((0u64..120_000, 1u8..8), 1..30),
    ) {
        let Ok(quota) = Quota::try_new(count, Duration::from_millis(window_ms)).and_then(|q| q.try_burst(burst)) else {
            return Ok(());
        };
        let clock = Clock::manual(Duration::ZERO);
        let store = MemoryStore::builder().clock(clock.clone()).build();
        let bucket = store.bucket(&PolicyInfo::new_for_tests("p", quota));
        let key = ClientKey::ip("198.51.100.7".parse().unwrap());
        let interval = u64::try_from(quota.replenish_interval().as_nanos()).unwrap();
        let tolerance = interval * u64::from(quota.burst_size());
        let mut model = Model { tat: 0 };
        let mut now = 0u64;
        for (advance_ms, requests) in steps {
            clock.advance(Duration::from_millis(advance_ms));
            now += advance_ms * 1_000_000;
            for _ in 0..requests {
                let decision = decide(&store, &bucket, &key);
                let (allowed, _, _) = model.step(now, interval, tolerance);
                prop_assert_eq!(decision.is_allowed(), allowed, "at {} ms", now / 1_000_000);
            }
        }
    }
}

/// Found by `gcra_agrees_with_the_model`: at the last representable time the
/// step saturated, so the bucket never drained and every request passed.
#[test]
fn a_bucket_at_the_end_of_time_refuses_rather_than_never_draining() {
    let (first, tat) = Decision::gcra(0, u64::MAX, 1, 1);
    assert!(!first.is_allowed());
    assert_eq!(tat, None);
    let (near, tat) = Decision::gcra(0, u64::MAX - 1, 1, 1);
    assert!(near.is_allowed());
    assert_eq!(tat, Some(u64::MAX));
    assert!(!Decision::gcra(u64::MAX, u64::MAX - 1, 1, 1).0.is_allowed());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A model that shares no formula with the code: a full bucket admits
    /// exactly its burst at one instant, and `delta` later exactly
    /// `min(burst, delta / interval)` more.
    #[test]
    fn a_full_bucket_admits_its_burst_then_one_per_interval(
        interval in 1u64..1_000_000_000_000,
        burst in 1u64..200,
        intervals in 0u64..400,
        extra in any::<u64>(),
    ) {
        let tolerance = interval * burst;
        let delta = intervals * interval + extra % interval;
        let start = 1u64 << 50;
        let admit_all = |tat: &mut u64, now: u64| {
            let mut admitted = 0u64;
            for _ in 0..burst + 5 {
                let (decision, new_tat) = Decision::gcra(*tat, now, interval, tolerance);
                if let Some(new_tat) = new_tat {
                    *tat = new_tat;
                    admitted += 1;
                } else {
                    prop_assert!(!decision.is_allowed());
                }
            }
            Ok(admitted)
        };
        let mut tat = 0;
        prop_assert_eq!(admit_all(&mut tat, start)?, burst);
        prop_assert_eq!(admit_all(&mut tat, start + delta)?, burst.min(intervals));
    }
}
