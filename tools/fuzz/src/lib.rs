//! Fuzz targets for qis. Each target is a module with one `pub fn run(data: &[u8])` that panics
//! if and only if it finds a bug, and a `seeds()` corpus to start mutating from:
//!
//! * [`datagram`]: raw bytes into a fresh node's `handle_datagram`;
//! * [`answer`]: hostile answers to a request the node has out (ping, FIND_NODE or get);
//! * [`packet`]: bytes into outcome-packet and signed-record decoding.
//!
//! The binaries in `src/bin` run a target over files and folders given as arguments, or over
//! a bounded built-in random loop ([`driver`]); a cargo-fuzz target would be
//! `fuzz_target!(|data: &[u8]| qis_fuzz::datagram::run(data));`.

pub mod answer;
pub mod datagram;
pub mod driver;
pub mod packet;
mod reader;
pub mod rng;
