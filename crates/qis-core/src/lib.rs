//! The qis protocol core: a hand-rolled Kademlia as a sans-IO state machine.
//!
//! A [`Node`] never reads a clock, opens a socket or draws OS randomness: it is driven by
//! [`Node::handle_datagram`], [`Node::handle_timeout`] and commands, each given `now`, and
//! drained by [`Node::poll_transmit`], [`Node::poll_timeout`] and [`Node::poll_event`]. The UDP
//! driver (`qis-udp`) and the simulator (`qis-sim`) run this same code with the same codec.
//! Nothing in this crate's dependency tree can reach a clock, a socket or the file system;
//! `clippy.toml` forbids the std calls that would.

pub mod addr;
pub mod constants;
pub mod id;
pub mod identity;
pub mod lookup;
pub mod metrics;
pub mod node;
pub mod ratelimit;
pub mod record;
pub mod routing;
pub mod rtt;
pub mod secret;
pub mod store;
pub mod time;
pub mod token;
pub mod wire;

pub use id::Id;
pub use identity::Identity;
pub use node::Node;
pub use secret::NodeSecret;
