//! The address model: which IPv4 address each simulated node has, and which node is behind an
//! address.
//!
//! Real nodes do not spread evenly over the address space: a cloud region puts many in a few
//! blocks, a carrier-grade NAT pool many subscribers in a few /24s, a university or company
//! network its own. The model packs a fraction `clustered` of the nodes into shared /24s,
//! `cluster_size` nodes each on average, and gives every other node a random unicast address
//! anywhere. The shared blocks are unequally popular (Zipf: the r-th block draws weight 1/r),
//! so a few hold far more than the mean, as the biggest providers do; a /24 never holds more
//! than 254 hosts, and a node that finds its block full takes the next one. Each node is its
//! own host (one IP address each: shared addresses behind NAT are not modelled), and its
//! latency does not depend on its block.
//!
//! The draws come from their own random stream, so the model shifts no other draw, and the
//! same seed gives the same addresses.

use super::random::SimRng;
use qis_core::{Endpoint, SimAddr};
use rand::RngExt;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hosts of a /24 a node can have (`.1` to `.254`).
pub const HOSTS_PER_SLASH_24: u32 = 254;

/// How simulated nodes are spread over the address space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AddressConfig {
    /// Fraction of nodes packed into shared /24s (0: every node at a random address).
    pub clustered: f64,
    /// Mean number of nodes per shared /24.
    pub cluster_size: usize,
}

impl Default for AddressConfig {
    /// 30% of the nodes in shared /24s of 16 on average: a stress case for the prefix limits
    /// (the biggest block of a 2,000-node network holds about 140 nodes, 7% of the network),
    /// while the rest stay spread.
    fn default() -> AddressConfig {
        AddressConfig {
            clustered: 0.3,
            cluster_size: 16,
        }
    }
}

/// A /24 shared by clustered nodes.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Its first address (`a.b.c.0`).
    base: u32,
    /// Hosts handed out so far.
    used: u32,
}

/// Maps keyed by address or /24: a fixed hasher (same buckets every run, though only lookups
/// and sums use them) that is cheap, as the simulator looks up the receiver of every datagram.
type FixedHasher = BuildHasherDefault<AddressHasher>;

/// A multiplicative hash of 32-bit keys (Fibonacci hashing): addresses are not chosen by an
/// adversary here, so no keyed hash is needed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        // The product's high bits mix every key bit; fold them into the low ones, which pick
        // the bucket.
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u32(u32::from(byte));
        }
    }

    fn write_u32(&mut self, key: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(key)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Every slot's address and the slot behind every address.
#[derive(Debug)]
pub(crate) struct Addresses {
    config: AddressConfig,
    rng: SimRng,
    by_slot: Vec<SimAddr>,
    slots: HashMap<SimAddr, u32, FixedHasher>,
    blocks: Vec<Block>,
    /// Cumulative Zipf weights of `blocks`, the last one 1.
    popularity: Vec<f64>,
}

impl Addresses {
    /// The model for a population of `nodes`, drawing from `rng`.
    pub(crate) fn new(config: AddressConfig, nodes: usize, mut rng: SimRng) -> Addresses {
        let clustered = (nodes as f64 * config.clustered.clamp(0.0, 1.0)).round() as usize;
        let count = clustered.div_ceil(config.cluster_size.max(1));
        let blocks = (0..count)
            .map(|_| Block {
                base: random_slash_24(&mut rng),
                used: 0,
            })
            .collect();
        Addresses {
            config,
            rng,
            by_slot: Vec::with_capacity(nodes),
            slots: HashMap::with_capacity_and_hasher(nodes, FixedHasher::default()),
            blocks,
            popularity: zipf_cumulative(count),
        }
    }

    /// Draws the address of the next slot (slots are numbered in the order they are added).
    pub(crate) fn add_slot(&mut self) -> SimAddr {
        let addr = loop {
            let addr = if self.rng.random_bool(self.config.clustered.clamp(0.0, 1.0)) {
                self.clustered_address()
            } else {
                None
            };
            let addr = addr.unwrap_or_else(|| random_host(&mut self.rng));
            if !self.slots.contains_key(&addr) {
                break addr;
            }
        };
        self.slots.insert(addr, self.by_slot.len() as u32);
        self.by_slot.push(addr);
        addr
    }

    /// Gives the next slot `addr`, chosen by the caller (an attacker's address plan); false,
    /// and no slot added, if a slot has it already.
    pub(crate) fn add_fixed(&mut self, addr: SimAddr) -> bool {
        if self.slots.contains_key(&addr) {
            return false;
        }
        self.slots.insert(addr, self.by_slot.len() as u32);
        self.by_slot.push(addr);
        true
    }

    /// The next free host of a block drawn by popularity (or of the next one with room), if
    /// any block has room.
    fn clustered_address(&mut self) -> Option<SimAddr> {
        if self.blocks.is_empty() {
            return None;
        }
        let draw: f64 = self.rng.random();
        let first = self.popularity.partition_point(|&c| c < draw);
        let count = self.blocks.len();
        (0..count)
            .map(|step| (first + step) % count)
            .find_map(|at| {
                let block = &mut self.blocks[at];
                (block.used < HOSTS_PER_SLASH_24).then(|| {
                    block.used += 1;
                    SimAddr(block.base + block.used)
                })
            })
    }

    /// The address of slot `index`.
    pub(crate) fn of(&self, index: u32) -> SimAddr {
        self.by_slot[index as usize]
    }

    /// The address of socket `via` of slot `index`.
    pub(crate) fn of_endpoint(&self, index: u32, via: Endpoint) -> SimAddr {
        match via {
            Endpoint::Main => self.of(index),
            Endpoint::Audit => audit_address(index),
        }
    }

    /// The slot at `addr`, if any.
    pub(crate) fn slot(&self, addr: SimAddr) -> Option<u32> {
        self.slots.get(&addr).copied()
    }

    /// The slot and socket at `addr`, if any.
    pub(crate) fn endpoint(&self, addr: SimAddr) -> Option<(u32, Endpoint)> {
        match audit_slot(addr) {
            Some(index) => (index < self.by_slot.len() as u32).then_some((index, Endpoint::Audit)),
            None => Some((self.slot(addr)?, Endpoint::Main)),
        }
    }

    /// The model's settings.
    pub(crate) fn config(&self) -> AddressConfig {
        self.config
    }

    /// Slots (nodes ever added) per /24, for the /24s that hold any.
    pub(crate) fn slots_per_slash_24(&self) -> HashMap<u32, u32, FixedHasher> {
        let mut counts = HashMap::with_hasher(FixedHasher::default());
        for addr in &self.by_slot {
            *counts.entry(slash_24(*addr)).or_insert(0) += 1;
        }
        counts
    }
}

/// Audit sockets live in `240.0.0.0/4`, which no node's address is drawn from
/// ([`random_slash_24`] stops at 223): slot `i` has a /24 of its own there (`i` mod 2^20 in
/// the middle bits, the rest in the low byte), so audits of different nodes never share a
/// prefix's rate budget at a holder. A real node's audit socket is another port of its own
/// address; the simulator's address has no port, so it models the audit as coming from an
/// address no adversary can link to the node's (see the README's Security section).
const AUDIT_BASE: u32 = 0xF000_0000;

/// Slots with an audit address of their own: 2^20 /24s times 254 hosts each.
const AUDIT_SLOTS: u32 = (1 << 20) * HOSTS_PER_SLASH_24;

/// The audit address of slot `index`.
fn audit_address(index: u32) -> SimAddr {
    let index = index % AUDIT_SLOTS;
    SimAddr(AUDIT_BASE | ((index & 0xF_FFFF) << 8) | ((index >> 20) + 1))
}

/// The slot whose audit address `addr` is, if it is one.
fn audit_slot(addr: SimAddr) -> Option<u32> {
    if addr.0 < AUDIT_BASE {
        return None;
    }
    let host = addr.0 & 0xff;
    let block = (addr.0 >> 8) & 0xF_FFFF;
    (1..=HOSTS_PER_SLASH_24)
        .contains(&host)
        .then(|| block | ((host - 1) << 20))
}

/// The /24 of a simulated address (the address without its low byte).
pub(crate) fn slash_24(addr: SimAddr) -> u32 {
    addr.0 >> 8
}

/// The base of a random /24 of the public unicast space: first octet 1 to 223 but not 10 or
/// 127 (so never in `0.0.0.0/8`, which the core treats as a local test network).
pub(crate) fn random_slash_24(rng: &mut SimRng) -> u32 {
    loop {
        let base = rng.random::<u32>() & 0xffff_ff00;
        let first = base >> 24;
        if (1..=223).contains(&first) && first != 10 && first != 127 {
            return base;
        }
    }
}

/// A random host address (`.1` to `.254`) of a random /24.
fn random_host(rng: &mut SimRng) -> SimAddr {
    SimAddr(random_slash_24(rng) + rng.random_range(1..=HOSTS_PER_SLASH_24))
}

/// Cumulative Zipf weights (1/r for rank r) of `count` blocks, normalised so the last is 1.
fn zipf_cumulative(count: usize) -> Vec<f64> {
    let mut sum = 0.0;
    let mut cumulative: Vec<f64> = (1..=count)
        .map(|rank| {
            sum += 1.0 / rank as f64;
            sum
        })
        .collect();
    for c in &mut cumulative {
        *c /= sum;
    }
    cumulative
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::stream;

    fn model(clustered: f64, nodes: usize, seed: u64) -> Addresses {
        let config = AddressConfig {
            clustered,
            cluster_size: 16,
        };
        let mut addresses = Addresses::new(config, nodes, stream(seed, 7));
        for _ in 0..nodes {
            addresses.add_slot();
        }
        addresses
    }

    #[test]
    fn addresses_are_distinct_public_and_map_back_to_their_slot() {
        let a = model(0.5, 3000, 1);
        for index in 0..3000 {
            let addr = a.of(index);
            assert_eq!(a.slot(addr), Some(index));
            assert!(addr.0 >= 1 << 24 && (1..=254).contains(&(addr.0 & 0xff)));
        }
        assert_eq!(a.slot(SimAddr(0)), None);
    }

    #[test]
    fn the_clustered_fraction_shares_few_slash_24s_and_the_rest_spread() {
        let a = model(0.3, 2000, 2);
        let counts = a.slots_per_slash_24();
        let shared: u32 = counts.values().filter(|&&n| n > 1).sum();
        let largest = counts.values().copied().max().unwrap();
        assert!((520..=680).contains(&shared), "{shared} nodes share a /24");
        assert!((60..=254).contains(&largest), "largest /24 holds {largest}");
        let spread = model(0.0, 2000, 2).slots_per_slash_24();
        assert!(spread.values().all(|&n| n <= 2), "spread nodes rarely meet");
    }

    #[test]
    fn the_same_seed_gives_the_same_addresses() {
        let (a, b, c) = (model(0.3, 500, 9), model(0.3, 500, 9), model(0.3, 500, 10));
        assert_eq!(a.by_slot, b.by_slot);
        assert_ne!(a.by_slot, c.by_slot);
    }

    #[test]
    fn audit_addresses_map_back_to_their_slot_and_never_to_a_node() {
        let addresses = model(0.3, 500, 9);
        for index in [0, 1, 255, 256, 499] {
            let audit = addresses.of_endpoint(index, Endpoint::Audit);
            assert_eq!(addresses.endpoint(audit), Some((index, Endpoint::Audit)));
            assert_eq!(addresses.slot(audit), None);
            let main = addresses.of_endpoint(index, Endpoint::Main);
            assert_eq!(addresses.endpoint(main), Some((index, Endpoint::Main)));
        }
        assert_ne!(slash_24(audit_address(1)), slash_24(audit_address(2)));
        assert_eq!(audit_slot(audit_address(3_000_000)), Some(3_000_000));
        assert_eq!(
            addresses.endpoint(audit_address(10_000)),
            None,
            "no such slot"
        );
    }
}
