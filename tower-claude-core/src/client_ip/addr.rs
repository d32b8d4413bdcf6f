//! Address helpers: folding IPv4-mapped IPv6, grouping IPv6 by prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

    /// The key of the group `ip` belongs to: IPv4 unchanged; an IPv6 address
    /// that carries an IPv4 client (IPv4-mapped, 6to4, NAT64, Teredo,
    /// IPv4-compatible; see [`embedded_ipv4`]) as that IPv4 address; other IPv6
    /// addresses with the bits below the prefix zeroed.
    pub fn apply(self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            IpAddr::V6(v6) => match embedded_ipv4(v6) {
                Some(v4) => IpAddr::V4(v4),
                None => mask(IpAddr::V6(v6), self.0),
            },
            v4 => v4,
        }
    }
}

/// The IPv4 client an IPv6 address stands for, where the address format says
/// so. Each of these ranges puts every IPv4 host of the internet behind one
/// IPv6 prefix, so grouping them by prefix would put all those clients in one
/// bucket (or give one host 65,536 `/64`s, for 6to4):
///
/// | range | IPv4 address |
/// | --- | --- |
/// | `::ffff:0:0/96` IPv4-mapped | the low 32 bits |
/// | `2002::/16` 6to4 (RFC 3056) | bits 16 to 47 |
/// | `64:ff9b::/96` NAT64 well-known prefix (RFC 6052) | the low 32 bits |
/// | `2001::/32` Teredo (RFC 4380) | the low 32 bits, inverted |
/// | `::/96` IPv4-compatible (deprecated, RFC 4291), except `::` and `::1` | the low 32 bits |
///
/// ```
/// use std::net::Ipv4Addr;
/// use tower_claude_core::embedded_ipv4;
///
/// let nat64 = "64:ff9b::c000:221".parse().unwrap();
/// assert_eq!(embedded_ipv4(nat64), Some(Ipv4Addr::new(192, 0, 2, 33)));
/// let teredo = "2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap();
/// assert_eq!(embedded_ipv4(teredo), Some(Ipv4Addr::new(192, 0, 2, 45)));
/// assert_eq!(embedded_ipv4("2001:db8::1".parse().unwrap()), None);
/// ```
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    // The low 32 bits (`as` keeps exactly those).
    #[allow(clippy::cast_possible_truncation)]
    let low = u128::from(ip) as u32;
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match segments {
        [0x2002, high, low16, ..] => {
            Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low16)))
        }
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(Ipv4Addr::from(low)),
        [0x2001, 0x0000, ..] => Some(Ipv4Addr::from(!low)),
        [0, 0, 0, 0, 0, 0, _, _] if low > 1 => Some(Ipv4Addr::from(low)),
        _ => None,
    }
}

impl Default for Ipv6Prefix {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Whether a URL's host names this machine: `localhost`, or a loopback
/// address (`127.0.0.0/8`, `::1`, and IPv4-mapped loopback), bracketed or not.
/// The layers accept plain `http://` only to such hosts (tests, sidecars).
///
/// ```
/// use tower_claude_core::is_loopback_host;
///
/// assert!(is_loopback_host("localhost"));
/// assert!(is_loopback_host("[::1]"));
/// assert!(is_loopback_host("127.0.0.2"));
/// assert!(!is_loopback_host("localhost.attacker.example"));
/// assert!(!is_loopback_host("10.0.0.1"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| canonical_ip(ip).is_loopback())
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

    /// Issue 13, item 9: every IPv4 client behind NAT64, Teredo or an
    /// IPv4-compatible address keyed by its own IPv4 address, not one bucket.
    #[test]
    fn addresses_that_embed_ipv4_are_keyed_by_it() {
        let p64 = Ipv6Prefix::DEFAULT;
        let cases = [
            ("64:ff9b::198.51.100.7", "198.51.100.7"),
            ("64:ff9b::203.0.113.9", "203.0.113.9"),
            ("::198.51.100.7", "198.51.100.7"),
            ("2002:c633:6407:1::1", "198.51.100.7"),
            ("2002:c633:6407:ffff::2", "198.51.100.7"),
            // Teredo: server 65.54.227.120, client 192.0.2.45 obfuscated (RFC 4380 example shape).
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd3", "192.0.2.44"),
        ];
        for (v6, v4) in cases {
            let ip: IpAddr = v6.parse().unwrap();
            assert_eq!(p64.apply(ip).to_string(), v4, "{v6}");
        }
        // Loopback and the unspecified address are not IPv4-compatible forms.
        assert_eq!(p64.apply("::1".parse().unwrap()).to_string(), "::");
        // A NAT64 local-use or other prefix is an ordinary IPv6 network.
        assert_eq!(
            p64.apply("64:ff9c::198.51.100.7".parse().unwrap())
                .to_string(),
            "64:ff9c::"
        );
        assert_eq!(
            p64.apply("2001:db8::1".parse().unwrap()).to_string(),
            "2001:db8::"
        );
    }
}
