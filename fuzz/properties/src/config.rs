//! Configuration values (CIDR blocks, quotas): a value or a clear error, and a
//! value that means what it says.

use std::net::IpAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tower_claude_core::IpCidr;
use tower_claude_ratelimit::Quota;

#[derive(Debug, Arbitrary)]
struct Input {
    cidr: String,
    probe: u128,
    count: u32,
    window_ms: u64,
    burst: u32,
}

/// Seed format: a CIDR block.
pub fn check(data: &[u8]) {
    let input = match crate::seed(data) {
        Some(cidr) => Input {
            cidr,
            probe: 0x0a01_0203 << 96,
            count: 100,
            window_ms: 60_000,
            burst: 20,
        },
        None => match Input::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => input,
            Err(_) => return,
        },
    };
    if let Ok(block) = input.cidr.parse::<IpCidr>() {
        let width = match block.network() {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        assert!(
            (1..=width).contains(&block.prefix_len()),
            "{:?} parsed as {block}, which trusts too much or is malformed",
            input.cidr
        );
        let again: IpCidr = block
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("{block} does not parse back: {e}"));
        assert_eq!(again, block, "{:?}", input.cidr);
        assert!(
            block.contains(block.network()),
            "{block} does not hold its network"
        );
        // An address is in the block exactly when its leading bits match.
        let probe = match block.network() {
            IpAddr::V4(_) => {
                IpAddr::from(u32::try_from(input.probe >> 96).unwrap_or(0).to_be_bytes())
            }
            IpAddr::V6(_) => IpAddr::from(input.probe.to_be_bytes()),
        };
        let shift = u32::from(width - block.prefix_len());
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let same = bits(probe).checked_shr(shift) == bits(block.network()).checked_shr(shift);
        let mapped_v4 = matches!(probe, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        if !mapped_v4 {
            assert_eq!(block.contains(probe), same, "{block} and {probe}");
        }
    }
    let window = Duration::from_millis(input.window_ms);
    if let Ok(quota) = Quota::try_new(input.count, window) {
        assert!(
            input.count >= 1 && !window.is_zero(),
            "{quota:?} from {} per {window:?}",
            input.count
        );
        if let Ok(bursty) = quota.try_burst(input.burst) {
            assert!(input.burst >= 1, "{bursty:?} with a burst of 0");
        }
    }
}
