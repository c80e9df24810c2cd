//! Retrieval modelled as key → values: one real [`RecordStore`] stands for the holders of every
//! key (the discrete-event network is not needed to ask what a key holds). Packets go under
//! their real semantic keys with the store's real limits (4,096 values per key, 8 per publisher
//! per key) and the real ranking by the reproductions the store holds (a full key evicts its
//! biggest publisher's least confirmed packet), so what a query finds is what a node would
//! serve.

use crate::world::Context;
use qis_core::{Id, PublicKey, RecordId, RecordStore, StoreLimits, Time};
use qis_outcomes::{
    OutcomeBody, OutcomePacket, OutcomePolicy, Query, Reproduced, Reproduction, SemanticKey,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A packet as a query finds it: decoded once, shared by every query.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The packet id.
    pub id: RecordId,
    /// Its publisher.
    pub publisher: PublicKey,
    /// Its creation time.
    pub created: u64,
    /// Its body.
    pub body: Arc<OutcomeBody>,
    /// The index of its context ([`Context::index`]), for memoising similarities.
    pub context: Option<usize>,
}

/// What the network holds.
pub struct Network {
    store: RecordStore,
    /// Decoded packets by id: a query reads them without decoding again.
    bodies: HashMap<RecordId, Found>,
    /// Packets published by adversaries, liars or squatters (for the report only: no strategy
    /// reads this).
    lies: HashSet<RecordId>,
    /// Honest packets watched under one key (the squatted one): key, record id.
    watched: Vec<(Id, RecordId)>,
    /// Decoded reproduction reports by id.
    reports: HashMap<RecordId, Reproduced>,
    /// The packet or report id (a content id) of each record id the store holds: the store
    /// pages by record id.
    ids: HashMap<RecordId, RecordId>,
}

impl Default for Network {
    fn default() -> Network {
        Network::new()
    }
}

impl Network {
    /// An empty network with the store's default per-key limits and room for every packet.
    pub fn new() -> Network {
        let mut limits = StoreLimits::with_capacity(usize::MAX / 4);
        limits.max_per_publisher = usize::MAX / 4;
        limits.max_per_prefix = usize::MAX / 4;
        Network {
            store: RecordStore::with_policy(limits, Arc::new(OutcomePolicy::strict())),
            bodies: HashMap::new(),
            lies: HashSet::new(),
            watched: Vec::new(),
            reports: HashMap::new(),
            ids: HashMap::new(),
        }
    }

    /// Stores `packet` under each of its keys, charged to `prefix`. Rounds are not time:
    /// publishers republish, so nothing expires during a run.
    pub fn publish(&mut self, packet: &OutcomePacket, prefix: u128, liar: bool) {
        let id = packet.id();
        let mut stored = false;
        for key in packet.keys() {
            // A refusal (full key, publisher over its quota) is the store's answer, as on a node.
            stored |= self
                .store
                .put(key.id, packet.record.clone(), Time::ZERO, Some(prefix))
                .is_ok();
        }
        if stored {
            self.ids.insert(packet.record.id(), id);
            self.bodies.insert(
                id,
                Found {
                    id,
                    publisher: packet.publisher(),
                    created: packet.created(),
                    body: Arc::new(packet.body.clone()),
                    context: Context::of_body(&packet.body).map(|c| c.index()),
                },
            );
            if liar {
                self.lies.insert(id);
            }
        }
    }

    /// Stores reproduction `report` under each of its keys (the reproduced packet's), charged
    /// to `prefix`, as a node would: it competes for the same per-key room as packets.
    pub fn publish_reproduction(&mut self, report: &Reproduction, prefix: u128) {
        let mut stored = false;
        for key in report.keys() {
            stored |= self
                .store
                .put(key.id, report.record.clone(), Time::ZERO, Some(prefix))
                .is_ok();
        }
        if stored {
            self.ids.insert(report.record.id(), report.id());
            self.reports
                .insert(report.id(), Reproduced::of_report(report));
        }
    }

    /// The distinct reproduction reports held under the keys of `query`, in id order.
    pub fn reproductions(&self, query: &Query) -> Vec<Reproduced> {
        let mut ids = self.ids_under(&query.keys());
        ids.retain(|id| self.reports.contains_key(id));
        ids.into_iter()
            .filter_map(|id| self.reports.get(&id).cloned())
            .collect()
    }

    /// Distinct packet and report ids held under `keys`, in id order.
    fn ids_under(&self, keys: &[SemanticKey]) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = Vec::new();
        for key in keys {
            ids.extend(
                self.store
                    .page_from(&key.id, RecordId([0; 32]))
                    .filter_map(|(record_id, _)| self.ids.get(record_id).copied()),
            );
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Reproduction reports held.
    pub fn reports(&self) -> usize {
        self.reports.len()
    }

    /// The distinct packets held under `keys`, in id order.
    pub fn found(&self, keys: &[SemanticKey]) -> Vec<Found> {
        self.ids_under(keys)
            .into_iter()
            .filter_map(|id| self.bodies.get(&id).cloned())
            .collect()
    }

    /// The packets a query finds: every key of the query.
    pub fn query(&self, query: &Query) -> Vec<Found> {
        self.found(&query.keys())
    }

    /// Watches the honest packet of record id `id` (its record's, not its packet id) under
    /// `key`: [`watched_held`](Self::watched_held) reports the share still held.
    pub fn watch(&mut self, key: Id, id: RecordId) {
        self.watched.push((key, id));
    }

    /// The share of watched packets still held under their key (`None` when none is watched).
    pub fn watched_held(&self) -> Option<f64> {
        if self.watched.is_empty() {
            return None;
        }
        let held = self
            .watched
            .iter()
            .filter(|(key, id)| {
                self.store
                    .page_from(key, *id)
                    .next()
                    .is_some_and(|(found, _)| found == id)
            })
            .count();
        Some(held as f64 / self.watched.len() as f64)
    }

    /// Values held under `key`.
    pub fn values_under(&self, key: &Id) -> usize {
        self.store.count(key)
    }

    /// Whether an adversary (a liar or a squatter) published `id`.
    pub fn is_lie(&self, id: &RecordId) -> bool {
        self.lies.contains(id)
    }

    /// Distinct packets held.
    pub fn packets(&self) -> usize {
        self.bodies.len()
    }
}
