//! CIDR blocks, the unit in which proxies are trusted.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::ConfigError;

use super::addr::canonical;

/// An IPv4 or IPv6 network such as `10.0.0.0/8` or `2001:db8::/32`.
///
/// A bare address (`192.0.2.1`) is a block of one. Host bits below the prefix are
/// refused (`10.0.0.1/8` is an error), because such a typo usually means the
/// operator meant something narrower than what they wrote.
///
/// ```
/// use tower_claude_core::IpCidr;
///
/// let block: IpCidr = "10.0.0.0/8".parse().unwrap();
/// assert!(block.contains("10.1.2.3".parse().unwrap()));
/// assert!(!block.contains("11.0.0.1".parse().unwrap()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    network: IpAddr,
    prefix: u8,
}

impl IpCidr {
    /// Builds a block from a network address and a prefix length.
    ///
    /// # Errors
    /// When the prefix is longer than the address family allows, or when the
    /// address has bits set below the prefix.
    pub fn new(network: IpAddr, prefix: u8) -> Result<Self, ConfigError> {
        checked(network, prefix).map_err(|reason| ConfigError::InvalidCidr {
            input: format!("{network}/{prefix}"),
            reason,
        })
    }

    /// The loopback blocks `127.0.0.0/8` and `::1/128`.
    pub fn loopback() -> [Self; 2] {
        [
            Self {
                network: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            Self {
                network: IpAddr::V6(Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }

    /// The private blocks of RFC 1918 and RFC 4193 (`10/8`, `172.16/12`,
    /// `192.168/16`, `fc00::/7`): the usual home of load balancers inside a VPC.
    ///
    /// Trusting them trusts *every* host in them, not only the load balancer: in
    /// a Kubernetes cluster any pod, and in a shared VPC any tenant's machine, can
    /// then reach the service directly and name whatever client address it likes
    /// in `X-Forwarded-For`. Prefer the proxies' own addresses or subnet where
    /// they are known.
    pub fn private() -> [Self; 4] {
        [
            Self {
                network: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)),
                prefix: 8,
            },
            Self {
                network: IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)),
                prefix: 12,
            },
            Self {
                network: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)),
                prefix: 16,
            },
            Self {
                network: IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)),
                prefix: 7,
            },
        ]
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this block. IPv4-mapped IPv6 addresses
    /// (`::ffff:10.0.0.1`) are compared as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let same_family = matches!(
            (ip, self.network),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && mask(ip, self.prefix) == self.network
    }
}

/// The block, validated as the block it means once folded: `::ffff:0.0.0.0/96`
/// is `0.0.0.0/0` and refused like it.
fn checked(network: IpAddr, prefix: u8) -> Result<IpCidr, &'static str> {
    validate(network, prefix)?;
    let folded = fold_mapped_block(network, prefix);
    validate(folded.network, folded.prefix)?;
    Ok(folded)
}

fn validate(network: IpAddr, prefix: u8) -> Result<(), &'static str> {
    let width = match network {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if prefix > width {
        return Err("prefix length too long for the address family");
    }
    if prefix == 0 {
        return Err("a /0 block trusts every address; list your proxies' blocks");
    }
    if mask(network, prefix) != network {
        return Err("address has host bits set below the prefix");
    }
    Ok(())
}

/// An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) as the IPv4 block it
/// means, since addresses are folded to IPv4 before they are compared.
fn fold_mapped_block(network: IpAddr, prefix: u8) -> IpCidr {
    match network {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => IpCidr {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            None => IpCidr { network, prefix },
        },
        _ => IpCidr { network, prefix },
    }
}

/// Keeps the first `prefix` bits of `ip` and zeroes the rest.
///
/// A prefix longer than the family's width keeps the whole address.
pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = match prefix {
                0 => 0,
                p if p >= 32 => bits,
                p => bits & (u32::MAX << (32 - u32::from(p))),
            };
            IpAddr::V4(Ipv4Addr::from(kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = match prefix {
                0 => 0,
                p if p >= 128 => bits,
                p => bits & (u128::MAX << (128 - u32::from(p))),
            };
            IpAddr::V6(Ipv6Addr::from(kept))
        }
    }
}

impl FromStr for IpCidr {
    type Err = ConfigError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| ConfigError::InvalidCidr {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                // `u8::from_str` accepts a leading `+`; a CIDR never has one.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("prefix length is not a number"));
                }
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|_| invalid("prefix length is not a number"))?;
                (addr, Some(prefix))
            }
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| invalid("not an IPv4 or IPv6 address"))?;
        let prefix = prefix.unwrap_or(match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        });
        checked(network, prefix).map_err(invalid)
    }
}

impl fmt::Debug for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_and_single_addresses() {
        let v4: IpCidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(v4.prefix_len(), 8);
        let one: IpCidr = "192.0.2.7".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.7/32");
        let v6: IpCidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn refuses_malformed_blocks() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "::/129",
            "example.com/8",
            "10.0.0.0/8/8",
            "10.0.0/8",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn mapped_ipv6_matches_ipv4_blocks() {
        let v4: IpCidr = "10.0.0.0/8".parse().unwrap();
        assert!(v4.contains("::ffff:10.9.8.7".parse().unwrap()));
    }

    #[test]
    fn zero_prefix_is_refused() {
        assert!("0.0.0.0/0".parse::<IpCidr>().is_err());
        assert!("::/0".parse::<IpCidr>().is_err());
    }

    /// Issue 13, item 8: `::ffff:0.0.0.0/96` is `0.0.0.0/0` in disguise.
    #[test]
    fn a_mapped_block_that_folds_to_everything_is_refused() {
        for input in ["::ffff:0.0.0.0/96", "::ffff:0:0/96"] {
            let error = input.parse::<IpCidr>().unwrap_err().to_string();
            assert!(error.contains("trusts every address"), "{input}: {error}");
        }
        let network: IpAddr = "::ffff:0.0.0.0".parse().unwrap();
        assert!(IpCidr::new(network, 96).is_err());
        assert_eq!(IpCidr::new(network, 97).unwrap().to_string(), "0.0.0.0/1");
    }

    #[test]
    fn mapped_blocks_mean_their_ipv4_block() {
        let block: IpCidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(block.to_string(), "10.0.0.0/8");
        assert!(block.contains("10.1.2.3".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.2.3".parse().unwrap()));
    }
}
