//! qis: outcome routing for people who fine-tune open models, over a hand-rolled Kademlia DHT.
//!
//! The protocol core ([`node::Node`]) is sans-IO: it never reads a clock, opens a socket or draws
//! OS randomness. The UDP driver ([`net`]) and the simulator run the same core.
#![warn(missing_docs)]

pub mod addr;
pub mod cli;
pub mod constants;
pub mod id;
pub mod identity;
pub mod lookup;
pub mod metrics;
pub mod net;
pub mod node;
pub mod packet;
pub mod published;
pub mod ratelimit;
pub mod record;
pub mod routing;
pub mod rtt;
pub mod sim;
pub mod store;
pub mod synth;
pub mod time;
pub mod token;
pub mod wire;
