//! Feeding arbitrary datagrams to a node must never panic, and every datagram is either
//! served, matched to a request, or counted as dropped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qis::addr::SimAddr;
use qis::identity::Identity;
use qis::node::{Config, Node};
use qis::time::Time;

fuzz_target!(|data: &[u8]| {
    let identity = Identity::from_seed([7; 32]);
    let mut node: Node<SimAddr> = Node::new(Config::default(), identity.public_key(), Time::ZERO);
    for (i, chunk) in data.split(|b| *b == 0xA5).enumerate() {
        node.handle_datagram(Time::from_millis(i as u64), SimAddr(i as u32 % 4), chunk);
        while node.poll_transmit().is_some() {}
        node.handle_timeout(Time::from_millis(i as u64 * 500));
    }
});
