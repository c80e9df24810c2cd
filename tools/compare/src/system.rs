//! The interface both DHTs are driven through, so the runner measures them the same way.

use crate::loadgen::LoadProtocol;
use std::net::SocketAddr;

/// Errors are reported as text: the harness only prints them.
pub type Result<T> = std::result::Result<T, String>;

/// What one lookup returned.
#[derive(Debug, Default)]
pub struct LookupOutcome {
    /// Ids of the closest nodes the lookup reported, closest first.
    pub closest: Vec<Vec<u8>>,
    /// Requests the lookup says it sent, when the system reports it.
    pub requests_sent: Option<u64>,
}

/// Identity-proof work summed over a network's nodes (see [`System::proof_counters`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct ProofCounters {
    /// Proofs checked in answers of challenged responders.
    pub checked: u64,
    /// Proofs whose id work was evaluated (first meetings).
    pub work_evaluated: u64,
}

/// A DHT implementation under test: a network of local nodes on 127.0.0.1 that can run
/// lookups, and a single node the load generator can hammer.
///
/// Methods block; a system that is async inside owns its runtime.
pub trait System {
    /// Short name for the table ("qis", "mainline").
    fn name(&self) -> &'static str;

    /// Prefix of the thread names (as in /proc/self/task/*/comm, at most 15 bytes) of every
    /// thread doing this system's work: CPU time is attributed to a system by this prefix, so
    /// one system's idle threads are never charged to the other.
    fn thread_prefix(&self) -> &'static str;

    /// Prefix of one more thread name doing this system's work, if any: libp2p's timers run on
    /// the `futures-timer` crate's own global thread.
    fn helper_thread_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Starts `n` nodes on 127.0.0.1 that know each other, and returns when lookups can run.
    fn build(&mut self, n: usize) -> Result<()>;

    /// Ids of all nodes of the current network, in the order `lookup`'s `origin` indexes.
    fn node_ids(&self) -> Vec<Vec<u8>>;

    /// Runs one lookup of `target` (truncated to the system's id size) from node `origin`
    /// and returns when it is complete.
    fn lookup(&mut self, origin: usize, target: [u8; 32]) -> Result<LookupOutcome>;

    /// Stops every node of the current network and waits until their threads are gone.
    fn teardown(&mut self);

    /// Builds a `network`-node network plus one more node that joins it the ordinary way, and
    /// returns that node's address: the target of the throughput test. `teardown` ends it.
    fn serve_single(&mut self, network: usize) -> Result<SocketAddr>;

    /// The request encoder/decoder the load generator uses against `serve_single`'s node,
    /// or `None` while the system has none (the throughput test is then skipped).
    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>>;

    /// How many closest nodes a lookup of this system aims for: recall is measured against
    /// the true closest set of that size (OpenDHT settles on 8, the others on 20).
    fn recall_k(&self) -> usize {
        DEFAULT_RECALL_K
    }

    /// `target` in the space [`System::node_ids`] and lookup results are measured in, for
    /// recall: its first bytes by default (qis 32, mainline and OpenDHT 20), its SHA-256 for
    /// libp2p-kad.
    fn recall_target(&self, target: [u8; 32]) -> Vec<u8> {
        target.to_vec()
    }

    /// The closest nodes the last lookup of `target` from `origin` found, for a system whose
    /// lookup call does not return them (OpenDHT): read after the lookup was timed, so the
    /// reading costs the lookup nothing.
    fn found_closest(&mut self, _origin: usize, _target: [u8; 32]) -> Option<Vec<Vec<u8>>> {
        None
    }

    /// Whether this system's network must be built before the others': OpenDHT waits on its
    /// sockets with select(), which aborts the process on a descriptor at or above
    /// FD_SETSIZE (1024), so its sockets must get the lowest numbers.
    fn build_first(&self) -> bool {
        false
    }

    /// Identity-proof counters summed over every node, when the system keeps them: proofs
    /// checked and, of those, proofs whose id work was evaluated (qis: one Argon2id
    /// evaluation per first meeting). Read only outside measured batches.
    fn proof_counters(&mut self) -> Option<ProofCounters> {
        None
    }

    /// Whether [`System::put`] and [`System::get`] store and fetch values.
    fn has_values(&self) -> bool {
        false
    }

    /// Stores `value` under `key` from node `origin` and returns when the system says the
    /// store is done. A system whose keys are content hashes (mainline's immutable items)
    /// remembers which of its keys stands for `key`.
    fn put(&mut self, _origin: usize, _key: [u8; 32], _value: &[u8]) -> Result<()> {
        Err(format!("{} stores no values", self.name()))
    }

    /// Fetches the value stored under `key` from node `origin`: `None` when none was found.
    fn get(&mut self, _origin: usize, _key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        Err(format!("{} stores no values", self.name()))
    }
}

/// Size of the true closest set recall is measured against, unless a system aims for fewer.
pub const DEFAULT_RECALL_K: usize = 20;
