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

    /// True for addresses the per-IP limit does not apply to: loopback peers are all on this
    /// machine by construction (local test networks), never a Sybil from afar.
    fn exempt_from_host_limit(&self) -> bool {
        false
    }
}

impl PeerAddr for SocketAddr {
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
}

/// A simulated node's address: an index, one host per address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimAddr(pub u32);

impl PeerAddr for SimAddr {
    fn host_key(&self) -> u128 {
        u128::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
