//! The peers qis is compared with, and which of them this build has.

use crate::mainline_system::{MainlineSystem, NetMode};
use crate::system::{Result, System};

/// A DHT measured beside qis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// The `mainline` crate (BitTorrent Mainline DHT), always built.
    Mainline,
    /// OpenDHT through its C API (feature `opendht`, needs `libopendht-c-dev`).
    Opendht,
    /// rust-libp2p's Kademlia over QUIC (feature `libp2p`).
    Libp2p,
}

impl Peer {
    /// Every peer, in table order.
    pub const ALL: [Peer; 3] = [Peer::Mainline, Peer::Opendht, Peer::Libp2p];

    /// The name used in the table, the JSON and `--peers`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Mainline => "mainline",
            Peer::Opendht => "opendht",
            Peer::Libp2p => "libp2p",
        }
    }

    /// Why this build lacks the peer and the command that adds it.
    pub fn how_to_build(self) -> &'static str {
        match self {
            Peer::Mainline => "always built",
            Peer::Opendht if cfg!(feature = "opendht") => {
                "the opendht feature is on but OpenDHT was not installed when this was built: \
                 apt-get install -y libopendht-dev libopendht-c-dev, then rebuild"
            }
            Peer::Opendht => {
                "not built in: cargo build --release --features opendht \
                 (needs apt-get install -y libopendht-dev libopendht-c-dev)"
            }
            Peer::Libp2p => "not built in: cargo build --release --features libp2p",
        }
    }
}

/// The peer as a system, or `None` when this build does not have it.
pub fn open(peer: Peer, mainline_net: NetMode) -> Result<Option<Box<dyn System>>> {
    Ok(match peer {
        Peer::Mainline => Some(Box::new(MainlineSystem::new(mainline_net)?)),
        #[cfg(have_opendht)]
        Peer::Opendht => Some(Box::new(crate::opendht_system::OpenDhtSystem::new())),
        #[cfg(feature = "libp2p")]
        Peer::Libp2p => Some(Box::new(crate::libp2p_system::Libp2pSystem::new()?)),
        #[allow(unreachable_patterns)]
        _ => None,
    })
}
