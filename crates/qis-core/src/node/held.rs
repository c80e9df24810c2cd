//! Records held for others across restarts. The core does no I/O: with
//! [`crate::Config::journal_held`] on, every change to the held records is queued for the
//! driver ([`Node::poll_held_change`]) to write down, and after a restart the driver hands
//! them back ([`Node::restore_held`]), each checked again as a fresh store would be.

use super::Node;
use super::serve::Validity;
use crate::addr::PeerAddr;
use crate::store::{HeldChange, HeldRecord, RecordStore};
use crate::time::Time;

/// What [`Node::restore_held`] did with the records it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Records held again.
    pub restored: usize,
    /// Records that had expired while the node was down.
    pub expired: usize,
    /// Records that failed the checks a store gets (signature, size, policy, created time).
    pub invalid: usize,
    /// Valid records refused for space or quota (the limits may have shrunk).
    pub refused: usize,
    /// Records evicted by later ones to make room.
    pub evicted: usize,
}

/// The store a node starts with: journaling if its configuration asks for it.
pub(super) fn new_store(config: &crate::Config) -> RecordStore {
    let mut store = RecordStore::with_policy(config.store, config.policy.clone());
    if config.journal_held {
        store.enable_journal();
    }
    store
}

impl<A: PeerAddr> Node<A> {
    /// The oldest change to the records held for others not yet taken: a driver keeping them
    /// on disk writes each down before it sends the datagrams the same input produced, so no
    /// store is acknowledged before it is durable. Always `None` unless
    /// [`crate::Config::journal_held`] is on.
    pub fn poll_held_change(&mut self) -> Option<HeldChange> {
        self.store.poll_change()
    }

    /// Every record held for others, with its age at `now` (see [`HeldRecord`]).
    pub fn held_records(&self, now: Time) -> Vec<HeldRecord> {
        self.store.held(now)
    }

    /// Takes back records held before a restart. Each is checked as a store from the network
    /// would be (a file on disk is no more trusted than a datagram), then charged and bounded
    /// by the same quotas; expired ones are dropped. Nothing is journaled: the driver that read
    /// them writes its journal afresh afterwards (see [`Node::held_records`]).
    pub fn restore_held(
        &mut self,
        now: Time,
        records: impl IntoIterator<Item = HeldRecord>,
    ) -> RestoreReport {
        let mut report = RestoreReport::default();
        let ttl = self.store.limits().ttl;
        for held in records {
            if held.age >= ttl {
                report.expired += 1;
                continue;
            }
            if self.record_validity(now, &held.key, &held.record) != Validity::Valid {
                report.invalid += 1;
                continue;
            }
            match self.store.restore(held, now) {
                Ok(Some(evicted)) => {
                    report.restored += 1;
                    report.evicted += evicted;
                }
                Ok(None) => report.expired += 1,
                Err(_) => report.refused += 1,
            }
        }
        self.metrics.records_restored += report.restored as u64;
        report
    }
}
