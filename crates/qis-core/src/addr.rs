//! Peer addresses. The core is generic over the address type: a `SocketAddr` on UDP, a compact
//! [`SimAddr`] in the simulator, so that a million simulated nodes fit in memory.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};

/// What the core needs of an address. Its postcard encoding must fit in 32 bytes (address
/// tokens MAC it from a stack buffer; a `SocketAddr` takes at most 20).
pub trait PeerAddr:
    Copy + Eq + Ord + Hash + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// A key shared by all addresses of one host (the IP address, ignoring the port): used to
    /// cap routing-table entries and requests per host.
    fn host_key(&self) -> u128;

    /// True for addresses the routing table's address limits (per IP address, per wide prefix
    /// in a bucket and in the table) do not apply to: loopback peers are all on this machine by
    /// construction (local test networks), never a Sybil from afar.
    fn exempt_from_host_limit(&self) -> bool {
        false
    }

    /// The prefixes rate limits are keyed on.
    fn prefixes(&self) -> Prefixes;

    /// The address of the same family as `self` whose encoding is the longest: a request to
    /// `self` is padded so that an answer naming k contacts of that size stays within the
    /// amplification limit (a peer names contacts of the family it is asked over). The
    /// default is `self`, for address types of one fixed size.
    fn widest_peer(&self) -> Self {
        *self
    }

    /// False for addresses no node can be reached at, which a contact list must never hold:
    /// sending there would be wasted, or aimed at a third party (the unspecified address,
    /// port 0, multicast and broadcast).
    fn is_contactable(&self) -> bool {
        true
    }
}

/// The address prefixes a source is rate-limited by: its host (an IPv4 /32, an IPv6 /64: one
/// subscriber's allocation) and its wide prefix (an IPv4 /24, an IPv6 /48: one site or one
/// provider's block), as masked 128-bit keys (IPv4 in the IPv4-mapped range, so the families
/// never collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefixes {
    /// The host: IPv4 /32 or IPv6 /64.
    pub host: u128,
    /// The wide prefix: IPv4 /24 or IPv6 /48.
    pub wide: u128,
}

/// Keeps the top `bits` bits of `key`.
fn mask(key: u128, bits: u32) -> u128 {
    key & !(u128::MAX >> bits)
}

/// The top 96 bits of every IPv4-mapped address (`::ffff:a.b.c.d`), shifted down by 32.
const IPV4_MAPPED: u128 = 0xffff;

impl PeerAddr for SocketAddr {
    fn widest_peer(&self) -> Self {
        match self {
            SocketAddr::V4(_) => SocketAddr::from(([u8::MAX; 4], u16::MAX)),
            SocketAddr::V6(_) => SocketAddr::from(([u16::MAX; 8], u16::MAX)),
        }
    }

    fn host_key(&self) -> u128 {
        match self.ip() {
            // IPv4 addresses live in the IPv4-mapped range so they never collide with IPv6.
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => u128::from(v4.to_ipv6_mapped()),
                None => u128::from(v6),
            },
        }
    }

    fn exempt_from_host_limit(&self) -> bool {
        self.ip().to_canonical().is_loopback()
    }

    fn is_contactable(&self) -> bool {
        let ip = self.ip().to_canonical();
        let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        self.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !broadcast
    }

    fn prefixes(&self) -> Prefixes {
        let key = self.host_key();
        if key >> 32 == IPV4_MAPPED {
            Prefixes {
                host: key,
                wide: mask(key, 128 - 8),
            }
        } else {
            Prefixes {
                host: mask(key, 64),
                wide: mask(key, 48),
            }
        }
    }
}

/// A simulated node's address, read as an IPv4 address (`10.1.2.3` is `SimAddr(0x0a01_0203)`):
/// one host per address, its /24 the address without its low byte. The simulator gives its
/// nodes addresses from an address model (`qis_sim`'s `addresses`), so that nodes share /24s
/// as real ones do. Small numbers, `0.0.0.0/8` (`SimAddr(0)` to `SimAddr(0xff_ffff)`), which no
/// host on the internet has, stand for a local test network, as loopback does for a
/// `SocketAddr`: harnesses number their nodes 0, 1, 2… and the routing table's address limits
/// exempt them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimAddr(pub u32);

/// Simulated addresses below this one (`0.0.0.0/8`) are a local test network.
const SIM_LOCAL_END: u32 = 1 << 24;

impl PeerAddr for SimAddr {
    fn widest_peer(&self) -> Self {
        SimAddr(u32::MAX)
    }

    fn host_key(&self) -> u128 {
        u128::from(self.0)
    }

    fn exempt_from_host_limit(&self) -> bool {
        self.0 < SIM_LOCAL_END
    }

    /// A simulated address is read as an IPv4 address: its /24 is the address without its low
    /// byte.
    fn prefixes(&self) -> Prefixes {
        Prefixes {
            host: u128::from(self.0),
            wide: u128::from(self.0 >> 8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_slash_32_and_24_for_ipv4_and_64_and_48_for_ipv6() {
        let p = |s: &str| s.parse::<SocketAddr>().unwrap().prefixes();
        assert_eq!(p("10.1.2.3:1"), p("[::ffff:10.1.2.3]:9"));
        assert_ne!(p("10.1.2.3:1").host, p("10.1.2.4:1").host);
        assert_eq!(p("10.1.2.3:1").wide, p("10.1.2.200:1").wide);
        assert_ne!(p("10.1.2.3:1").wide, p("10.1.3.3:1").wide);
        assert_eq!(
            p("[2001:db8:1:2:aaaa::1]:1").host,
            p("[2001:db8:1:2:bbbb::9]:1").host
        );
        assert_ne!(p("[2001:db8:1:2::1]:1").host, p("[2001:db8:1:3::1]:1").host);
        assert_eq!(
            p("[2001:db8:1:2::1]:1").wide,
            p("[2001:db8:1:ffff::1]:1").wide
        );
        assert_ne!(p("[2001:db8:1::1]:1").wide, p("[2001:db8:2::1]:1").wide);
        assert_ne!(
            p("0.0.0.1:1").wide,
            p("[::1]:1").wide,
            "families never collide"
        );
    }

    #[test]
    fn unreachable_contact_addresses_are_refused() {
        let ok = |s: &str| s.parse::<SocketAddr>().unwrap().is_contactable();
        assert!(ok("10.1.2.3:4000") && ok("[2001:db8::1]:4000") && ok("127.0.0.1:1"));
        for bad in [
            "0.0.0.0:4000",
            "[::]:4000",
            "10.1.2.3:0",
            "224.0.0.1:4000",
            "[ff02::1]:4000",
            "255.255.255.255:4000",
            "[::ffff:0.0.0.0]:4000",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn small_simulated_addresses_are_a_local_network_and_others_ipv4() {
        assert!(SimAddr(0).exempt_from_host_limit() && SimAddr(0xff_ffff).exempt_from_host_limit());
        assert!(!SimAddr(0x0100_0000).exempt_from_host_limit());
        let a = SimAddr(0x0a01_0203).prefixes();
        assert_eq!(a.wide, SimAddr(0x0a01_02fe).prefixes().wide);
        assert_ne!(a.wide, SimAddr(0x0a01_0303).prefixes().wide);
        assert_ne!(a.host, SimAddr(0x0a01_0204).prefixes().host);
    }

    #[test]
    fn host_key_ignores_port_and_mapping() {
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:3000".parse().unwrap();
        let other: SocketAddr = "127.0.0.2:1000".parse().unwrap();
        assert_eq!(a.host_key(), b.host_key());
        assert_eq!(a.host_key(), mapped.host_key());
        assert_ne!(a.host_key(), other.host_key());
    }
}
