//! Decoding arbitrary bytes must return an error or a message, never panic; a decoded message
//! must re-encode within the datagram budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qis::addr::SimAddr;
use qis::wire::{NetworkId, decode, encode};
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode::<SocketAddr>(data, NetworkId::MAIN) {
        let bytes = encode(&message).expect("a decoded message re-encodes");
        assert!(bytes.len() <= qis::constants::MAX_DATAGRAM);
    }
    let _ = decode::<SimAddr>(data, NetworkId::MAIN);
});
