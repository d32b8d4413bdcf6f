//! Address helpers: folding IPv4-mapped IPv6, grouping IPv6 by prefix.

use std::net::IpAddr;

use crate::ConfigError;

use super::cidr::mask;

/// The address as a rate limiter or an allowlist should see it: an IPv4-mapped
/// IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
/// IPv4 client) becomes the IPv4 address it carries.
///
/// Without this fold one client would own two identities, one per socket family.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    canonical(ip)
}

pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// How many leading bits of an IPv6 address name one client.
///
/// One subscriber usually holds a whole `/64` (often a `/56` or `/48`), so keying
/// a limiter on the full 128 bits would give each client 2^64 identities. IPv4
/// addresses are never grouped.
///
/// ```
/// use tower_claude_core::Ipv6Prefix;
///
/// let group = Ipv6Prefix::new(64).unwrap();
/// let a = group.apply("2001:db8:1:2:aaaa::1".parse().unwrap());
/// let b = group.apply("2001:db8:1:2:bbbb::9".parse().unwrap());
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "2001:db8:1:2::");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Prefix(u8);

impl Ipv6Prefix {
    /// The `/64` a single subscriber holds on almost every network.
    pub const DEFAULT: Self = Self(64);

    /// The shortest prefix accepted: registries hand out `/32` and longer, so a
    /// shorter group already spans many networks.
    pub const MIN_BITS: u8 = 16;

    /// A prefix of `bits` leading bits.
    ///
    /// # Errors
    /// When `bits` is below [`MIN_BITS`](Self::MIN_BITS) (such a group would
    /// put whole regions, or with `/0` every IPv6 client, behind one key) or
    /// above 128.
    pub fn new(bits: u8) -> Result<Self, ConfigError> {
        if !(Self::MIN_BITS..=128).contains(&bits) {
            return Err(ConfigError::InvalidPrefixLength(bits));
        }
        Ok(Self(bits))
    }

    /// The prefix length in bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The key of the group `ip` belongs to: IPv4 (and IPv4-mapped IPv6)
    /// unchanged, other IPv6 addresses with the bits below the prefix zeroed.
    pub fn apply(self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            v6 @ IpAddr::V6(_) => mask(v6, self.0),
            v4 => v4,
        }
    }
}

impl Default for Ipv6Prefix {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_mapped_addresses_only() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(canonical_ip(mapped).to_string(), "192.0.2.1");
        let compatible: IpAddr = "::192.0.2.1".parse().unwrap();
        assert_eq!(canonical_ip(compatible), compatible);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
    }

    #[test]
    fn groups_ipv6_and_leaves_ipv4() {
        let p56 = Ipv6Prefix::new(56).unwrap();
        let a = p56.apply("2001:db8:0:12ff::1".parse().unwrap());
        let b = p56.apply("2001:db8:0:1200::2".parse().unwrap());
        let c = p56.apply("2001:db8:0:1300::2".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(p56.apply(v4), v4);
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(p56.apply(mapped), v4);
        assert_eq!(
            Ipv6Prefix::new(128)
                .unwrap()
                .apply("::1".parse().unwrap())
                .to_string(),
            "::1"
        );
        assert!(Ipv6Prefix::new(129).is_err());
        assert!(Ipv6Prefix::new(0).is_err());
        assert!(Ipv6Prefix::new(15).is_err());
        assert!(Ipv6Prefix::new(16).is_ok());
    }
}
