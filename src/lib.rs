//! qis: outcome routing for people who fine-tune open models, over a hand-rolled Kademlia DHT.
//!
//! The protocol core ([`node::Node`]) is sans-IO: it never reads a clock, opens a socket or draws
//! OS randomness. The UDP driver ([`net`]) and the simulator ([`sim`]) run the same core.
#![warn(missing_docs)]

pub mod constants;
pub mod id;
pub mod identity;
pub mod record;
pub mod time;
pub mod packet;
pub mod synth;
