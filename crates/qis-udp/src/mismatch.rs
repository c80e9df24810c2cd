//! Peers that speak another protocol version or run another network. The core drops and counts
//! their datagrams (`dropped_version`, `dropped_wrong_network`); the driver also remembers which
//! address sent what (a bounded list), logs one line the first time per address, and reports the
//! list in [`NodeStats`](crate::NodeStats), so an application can tell its user "that node runs
//! another network" instead of "timed out".

use qis_core::constants::PROTOCOL_VERSION;
use qis_core::wire::{self, NetworkId, WireError};
use qis_core::{Duration, Time};
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;

/// How many peer addresses a node remembers a mismatch for. Each is logged once; datagrams from
/// addresses beyond these are counted and summarised in one line per [`SUMMARY_EVERY`], so a
/// flood from spoofed addresses can neither grow memory nor flood the log.
pub const MAX_MISMATCHED_PEERS: usize = 64;

/// How often, at most, the summary line for unlisted addresses is logged.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// What a peer sent that this node cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mismatch {
    /// A datagram of another wire protocol version.
    Version {
        /// The version byte it sent.
        theirs: u8,
        /// The version this node speaks ([`PROTOCOL_VERSION`]).
        ours: u8,
    },
    /// A message of another network.
    Network {
        /// The network id it carried.
        theirs: NetworkId,
        /// The network this node runs.
        ours: NetworkId,
    },
}

impl Mismatch {
    /// The mismatch a datagram refused by the core stands for, if it was refused for its version
    /// or network (decoded again with the core's codec, so it is the core's reason).
    pub(crate) fn of_datagram(bytes: &[u8], ours: NetworkId) -> Option<Mismatch> {
        match wire::decode::<SocketAddr>(bytes, ours) {
            Err(WireError::Version(theirs)) => Some(Mismatch::Version {
                theirs,
                ours: PROTOCOL_VERSION,
            }),
            Err(WireError::WrongNetwork(theirs)) => Some(Mismatch::Network {
                theirs: NetworkId(theirs),
                ours,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Version { theirs, ours } => {
                write!(f, "speaks protocol version {theirs}, we speak {ours}")
            }
            Mismatch::Network { theirs, ours } => {
                write!(f, "runs another network (id {theirs}), we run {ours}")
            }
        }
    }
}

/// A peer address and the first mismatch it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeerMismatch {
    /// The address the datagrams came from.
    pub addr: SocketAddr,
    /// What its first refused datagram was.
    pub mismatch: Mismatch,
    /// How many of its datagrams were refused for their version or network.
    pub datagrams: u64,
}

/// What to log for one refused datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    /// The first from this address: log it.
    First,
    /// Already logged for this address.
    Again,
    /// From an address beyond [`MAX_MISMATCHED_PEERS`]: log a summary of this many datagrams
    /// from unlisted addresses since the last summary.
    Summary(u64),
    /// From an unlisted address, summarised later.
    Quiet,
}

/// The bounded record of mismatched peers.
#[derive(Debug, Default)]
pub(crate) struct Mismatches {
    peers: Vec<PeerMismatch>,
    unlisted: u64,
    next_summary: Option<Time>,
}

impl Mismatches {
    /// Records a refused datagram from `addr` and says what to log.
    pub(crate) fn note(&mut self, now: Time, addr: SocketAddr, mismatch: Mismatch) -> Note {
        if let Some(peer) = self.peers.iter_mut().find(|p| p.addr == addr) {
            peer.datagrams += 1;
            return Note::Again;
        }
        if self.peers.len() < MAX_MISMATCHED_PEERS {
            self.peers.push(PeerMismatch {
                addr,
                mismatch,
                datagrams: 1,
            });
            return Note::First;
        }
        self.unlisted += 1;
        if self.next_summary.is_some_and(|at| now < at) {
            return Note::Quiet;
        }
        self.next_summary = Some(now + SUMMARY_EVERY);
        Note::Summary(std::mem::take(&mut self.unlisted))
    }

    /// The remembered peers, first seen first.
    pub(crate) fn peers(&self) -> &[PeerMismatch] {
        &self.peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    const V1: Mismatch = Mismatch::Version {
        theirs: 1,
        ours: PROTOCOL_VERSION,
    };

    #[test]
    fn each_address_is_logged_once_and_memory_stays_bounded() {
        let mut m = Mismatches::default();
        let t = Time::ZERO;
        assert_eq!(m.note(t, addr(1), V1), Note::First);
        assert_eq!(m.note(t, addr(1), V1), Note::Again);
        assert_eq!(m.peers()[0].datagrams, 2);
        for port in 2..=MAX_MISMATCHED_PEERS as u16 {
            assert_eq!(m.note(t, addr(port), V1), Note::First);
        }
        // Beyond the list: one summary now, quiet for a minute, then a summary of the rest.
        assert_eq!(m.note(t, addr(1000), V1), Note::Summary(1));
        for port in 1001..1100 {
            assert_eq!(
                m.note(t + Duration::from_secs(59), addr(port), V1),
                Note::Quiet
            );
        }
        assert_eq!(
            m.note(t + SUMMARY_EVERY, addr(2000), V1),
            Note::Summary(100)
        );
        assert_eq!(m.peers().len(), MAX_MISMATCHED_PEERS);
        // A listed address is still recognised.
        assert_eq!(m.note(t, addr(5), V1), Note::Again);
    }

    #[test]
    fn mismatches_read_the_cores_reason() {
        let ours = NetworkId::from_name("a").unwrap();
        assert_eq!(Mismatch::of_datagram(&[1, 0, 0], ours), Some(V1));
        assert_eq!(Mismatch::of_datagram(&[], ours), None);
        assert_eq!(
            V1.to_string(),
            format!("speaks protocol version 1, we speak {PROTOCOL_VERSION}")
        );
        let other = Mismatch::Network {
            theirs: NetworkId(0x1234_abcd),
            ours: NetworkId::MAIN,
        };
        assert_eq!(
            other.to_string(),
            "runs another network (id 0x1234abcd), we run 0x71697301"
        );
    }
}
