//! The store phase of a put, as a pure planner: which STOREs to send next, what an
//! acknowledgement or a failure changes, then which holders to audit, and the report at the
//! end. It sends nothing itself; the node turns each [`StoreRequest`] and each audit into a
//! datagram and feeds the answers back.
//!
//! An acknowledgement proves nothing: a node may acknowledge a store and discard it. So once
//! every store is answered, each node that acknowledged every record is audited: asked for
//! the key's values from the audit socket, under an identity it cannot tell from a stranger's
//! (see [`super::Endpoint::Audit`]). Only a holder that serves the record back counts as
//! verified, and the put reports that count beside its acknowledgements.

use crate::id::Id;
use crate::lookup::LookupReport;
use crate::record::{RecordId, SignedRecord};
use crate::wire::{Contact, StoreStatus, Token};

use super::PutReport;

/// One STORE to send: `record` under `key` to `to`, with the token `to` gave us during the
/// lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoreRequest<A> {
    pub(super) to: Contact<A>,
    pub(super) token: Token,
    pub(super) key: Id,
    pub(super) record: SignedRecord,
}

/// A store not yet sent: target, token and which record.
#[derive(Debug, Clone, Copy)]
struct Queued<A> {
    to: Contact<A>,
    token: Token,
    record: usize,
}

/// Progress of the store phase of one put.
#[derive(Debug)]
pub(super) struct StorePlan<A> {
    key: Id,
    records: Vec<SignedRecord>,
    /// Stores not yet sent, popped from the end (closest node first).
    queue: Vec<Queued<A>>,
    in_flight: usize,
    /// Per target node: records it acknowledged.
    acked: Vec<(Id, usize)>,
    /// Every target, closest first (to find a holder's address for its audit).
    targets: Vec<Contact<A>>,
    refused: u32,
    failed: u32,
    stored_locally: bool,
    /// Whether holders are audited once the stores are answered.
    audit: Audits<A>,
}

/// The audit phase: holders still to ask, asks out, and the holders verified.
#[derive(Debug)]
enum Audits<A> {
    /// This put does not audit (re-replication of records held for others).
    Off,
    /// The stores are not all answered yet.
    Waiting,
    /// Auditing.
    Running {
        queue: Vec<Contact<A>>,
        in_flight: usize,
        verified: Vec<Id>,
    },
}

impl<A: Copy> StorePlan<A> {
    /// A plan storing each of `records` under `key` at every target, closest target first
    /// (`targets` in closest-first order, each with its token). `stored_locally` says whether
    /// this node kept a copy itself.
    pub(super) fn new(
        key: Id,
        records: Vec<SignedRecord>,
        targets: &[(Contact<A>, Token)],
        stored_locally: bool,
        audit: bool,
    ) -> StorePlan<A> {
        let mut queue = Vec::with_capacity(targets.len() * records.len());
        for &(to, token) in targets.iter().rev() {
            for record in (0..records.len()).rev() {
                queue.push(Queued { to, token, record });
            }
        }
        StorePlan {
            key,
            records,
            queue,
            in_flight: 0,
            acked: targets.iter().map(|(c, _)| (c.id, 0)).collect(),
            targets: targets.iter().map(|(c, _)| *c).collect(),
            refused: 0,
            failed: 0,
            stored_locally,
            audit: if audit { Audits::Waiting } else { Audits::Off },
        }
    }

    /// The key.
    pub(super) fn key(&self) -> Id {
        self.key
    }

    /// The record an audit asks a holder for: the first in record-id order, so it heads the
    /// page an audit starting there gets back.
    pub(super) fn audited_record(&self) -> RecordId {
        self.records
            .iter()
            .map(SignedRecord::id)
            .min()
            .unwrap_or(RecordId([0; 32]))
    }

    /// The next holder to audit while fewer than `max_in_flight` audits are out; starts the
    /// audit phase once every store is answered.
    pub(super) fn next_audit(&mut self, max_in_flight: usize) -> Option<Contact<A>> {
        if matches!(self.audit, Audits::Waiting) && self.stores_finished() {
            let full = self.records.len();
            let queue = self
                .targets
                .iter()
                .rev()
                .filter(|c| self.acked.iter().any(|(id, n)| id == &c.id && *n == full))
                .copied()
                .collect();
            self.audit = Audits::Running {
                queue,
                in_flight: 0,
                verified: Vec::new(),
            };
        }
        let Audits::Running {
            queue, in_flight, ..
        } = &mut self.audit
        else {
            return None;
        };
        if *in_flight >= max_in_flight {
            return None;
        }
        let next = queue.pop()?;
        *in_flight += 1;
        Some(next)
    }

    /// The audit of `holder` ended: it served the audited record (`served`) or did not (it
    /// answered with nodes, without the record, or not at all).
    pub(super) fn on_audit(&mut self, holder: &Id, served: bool) {
        let Audits::Running {
            in_flight,
            verified,
            ..
        } = &mut self.audit
        else {
            return;
        };
        *in_flight = in_flight.saturating_sub(1);
        if served && !verified.contains(holder) {
            verified.push(*holder);
        }
    }

    /// Holders verified so far.
    pub(super) fn verified(&self) -> u32 {
        match &self.audit {
            Audits::Running { verified, .. } => verified.len() as u32,
            _ => 0,
        }
    }

    /// The next store to send while fewer than `max_in_flight` are outstanding.
    pub(super) fn next_store(&mut self, max_in_flight: usize) -> Option<StoreRequest<A>> {
        if self.in_flight >= max_in_flight {
            return None;
        }
        let next = self.queue.pop()?;
        self.in_flight += 1;
        Some(StoreRequest {
            to: next.to,
            token: next.token,
            key: self.key,
            record: self.records[next.record].clone(),
        })
    }

    /// `from` answered a store.
    pub(super) fn on_ack(&mut self, from: &Id, status: StoreStatus) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match status {
            StoreStatus::Stored => {
                if let Some(entry) = self.acked.iter_mut().find(|(id, _)| id == from) {
                    entry.1 = (entry.1 + 1).min(self.records.len());
                }
            }
            StoreStatus::Refused(_) => self.refused += 1,
        }
    }

    /// A store got no answer after all attempts.
    pub(super) fn on_failure(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.failed += 1;
    }

    /// True once every store was sent and answered or given up on.
    fn stores_finished(&self) -> bool {
        self.in_flight == 0 && self.queue.is_empty()
    }

    /// True once every store is answered and, if this plan audits, every audit too.
    pub(super) fn is_finished(&self) -> bool {
        self.stores_finished()
            && match &self.audit {
                Audits::Off => true,
                Audits::Waiting => self.full_acks() == 0,
                Audits::Running {
                    queue, in_flight, ..
                } => queue.is_empty() && *in_flight == 0,
            }
    }

    /// Nodes that acknowledged every record.
    pub(super) fn full_acks(&self) -> u32 {
        self.acked
            .iter()
            .filter(|(_, n)| *n == self.records.len())
            .count() as u32
    }

    /// The put's report, once finished.
    pub(super) fn report(&self, lookup: LookupReport<A>) -> PutReport<A> {
        PutReport {
            key: self.key,
            lookup,
            acks: self.full_acks(),
            verified: self.verified(),
            refused: self.refused,
            failed: self.failed,
            stored_locally: self.stored_locally,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::SimAddr;
    use crate::record::RecordKind;
    use crate::time::Duration;
    use crate::wire::StoreRefusal;

    fn records(n: usize) -> Vec<SignedRecord> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        (0..n)
            .map(|i| SignedRecord::sign(&key, RecordKind::Raw, 1, vec![i as u8]).unwrap())
            .collect()
    }

    fn contact(n: u8) -> (Contact<SimAddr>, Token) {
        let id = Id::from_bytes([n; 32]);
        (
            Contact {
                id,
                addr: SimAddr(u32::from(n)),
            },
            Token([n; 8]),
        )
    }

    const KEY: Id = Id::from_bytes([9; 32]);

    /// A lookup report with nothing in it, for plans' reports.
    fn no_lookup() -> LookupReport<SimAddr> {
        LookupReport {
            target: KEY,
            closest: Vec::new(),
            hops: 0,
            rounds: 0,
            requests: 0,
            answered: 0,
            failed: 0,
            elapsed: Duration::ZERO,
            rtts: Vec::new(),
        }
    }

    #[test]
    fn stores_go_closest_first_within_the_in_flight_bound() {
        let targets = [contact(1), contact(2), contact(3)];
        let mut plan = StorePlan::new(KEY, records(2), &targets, false, false);
        let first = plan.next_store(2).unwrap();
        let second = plan.next_store(2).unwrap();
        let all = records(2);
        assert_eq!((first.to.id, &first.record), (targets[0].0.id, &all[0]));
        assert_eq!((second.to.id, &second.record), (targets[0].0.id, &all[1]));
        assert_eq!(first.key, KEY);
        assert_eq!(plan.next_store(2), None, "two in flight at most");
        plan.on_ack(&targets[0].0.id, StoreStatus::Stored);
        plan.on_ack(&targets[0].0.id, StoreStatus::Stored);
        assert_eq!(plan.full_acks(), 1);
        assert!(!plan.is_finished());
    }

    #[test]
    fn a_node_counts_only_once_it_acknowledged_every_record() {
        let targets = [contact(1), contact(2)];
        let mut plan = StorePlan::new(KEY, records(2), &targets, true, false);
        while let Some(store) = plan.next_store(usize::MAX) {
            let refused = store.to.id == targets[1].0.id && store.record.payload == [1];
            let status = if refused {
                StoreStatus::Refused(StoreRefusal::Full)
            } else {
                StoreStatus::Stored
            };
            plan.on_ack(&store.to.id, status);
        }
        assert!(plan.is_finished());
        assert_eq!(
            plan.full_acks(),
            1,
            "the second node refused one of two records"
        );
        assert_eq!(plan.refused, 1);
        let report = plan.report(no_lookup());
        assert!(report.stored_locally);
        assert_eq!((report.acks, report.refused, report.failed), (1, 1, 0));
    }

    #[test]
    fn failures_end_the_phase_and_are_reported() {
        let mut plan = StorePlan::new(KEY, records(1), &[contact(1)], false, false);
        assert!(plan.next_store(8).is_some());
        plan.on_failure();
        assert!(plan.is_finished());
        assert_eq!((plan.full_acks(), plan.failed), (0, 1));
    }

    #[test]
    fn only_holders_that_acknowledged_everything_are_audited_and_only_servers_verified() {
        let targets = [contact(1), contact(2), contact(3)];
        let mut plan = StorePlan::new(KEY, records(1), &targets, false, true);
        assert_eq!(
            plan.next_audit(8),
            None,
            "no audit before the stores are answered"
        );
        while let Some(store) = plan.next_store(8) {
            if store.to.id == targets[2].0.id {
                plan.on_failure();
            } else {
                plan.on_ack(&store.to.id, StoreStatus::Stored);
            }
        }
        assert!(!plan.is_finished(), "the audits are still to run");
        let first = plan.next_audit(8).unwrap();
        let second = plan.next_audit(8).unwrap();
        assert_eq!((first.id, second.id), (targets[0].0.id, targets[1].0.id));
        assert_eq!(
            plan.next_audit(8),
            None,
            "the node that never answered is not audited"
        );
        plan.on_audit(&first.id, true);
        plan.on_audit(&second.id, false);
        assert!(plan.is_finished());
        let report = plan.report(no_lookup());
        assert_eq!((report.acks, report.verified), (2, 1));
    }

    #[test]
    fn a_plan_without_audits_never_asks_for_one() {
        let mut plan = StorePlan::new(KEY, records(1), &[contact(1)], false, false);
        let store = plan.next_store(8).unwrap();
        plan.on_ack(&store.to.id, StoreStatus::Stored);
        assert_eq!(plan.next_audit(8), None);
        assert!(plan.is_finished());
        assert_eq!(plan.verified(), 0);
    }
}
