//! Outcome packets and reproduction reports over a running node: publish under every semantic
//! key, and fetch what a query's keys hold.

use qis_core::{Id, RecordKind, SignedRecord};
use qis_outcomes::{OutcomePacket, Reproduction};
use qis_udp::NodeHandle;
use std::collections::HashSet;

/// How one key of a packet was stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyStored {
    /// Nodes that acknowledged the store.
    pub acks: u32,
    /// Of those, nodes that served the packet back to an audit from another identity and
    /// socket: the holders the publisher can vouch for.
    pub verified: u32,
}

/// Stores `packet` under each of its semantic keys, in parallel. Returns how each key was
/// stored, in the order of [`OutcomePacket::keys`].
pub async fn publish_packet(node: &NodeHandle, packet: &OutcomePacket) -> Vec<KeyStored> {
    let keys: Vec<Id> = packet.keys().iter().map(|k| k.id).collect();
    publish_record(node, &packet.record, &keys).await
}

/// Stores `report` under each key of the packet it reproduces, in parallel. Returns how each
/// key was stored, in the order of [`Reproduction::keys`].
pub async fn publish_reproduction(node: &NodeHandle, report: &Reproduction) -> Vec<KeyStored> {
    let keys: Vec<Id> = report.keys().iter().map(|k| k.id).collect();
    publish_record(node, &report.record, &keys).await
}

/// Stores `record` under each of `keys`, in parallel; how each was stored, in key order.
async fn publish_record(node: &NodeHandle, record: &SignedRecord, keys: &[Id]) -> Vec<KeyStored> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, id) in keys.iter().copied().enumerate() {
        let (node, record) = (node.clone(), record.clone());
        tasks.spawn(async move {
            let stored = node
                .put(id, record)
                .await
                .map_or(KeyStored::default(), |r| KeyStored {
                    acks: r.acks,
                    verified: r.verified,
                });
            (index, stored)
        });
    }
    let mut stored = vec![KeyStored::default(); keys.len()];
    while let Some(Ok((index, key_stored))) = tasks.join_next().await {
        stored[index] = key_stored;
    }
    stored
}

/// What a query's keys hold, checked again here (a holder may be hostile).
#[derive(Debug, Default)]
pub struct Fetched {
    /// The valid packets (duplicates by id are left for ranking to merge).
    pub packets: Vec<OutcomePacket>,
    /// The valid reproduction reports, each once.
    pub reproductions: Vec<Reproduction>,
    /// Records refused: bad signature, undecodable, invalid, or of a kind a query does not read.
    pub refused: usize,
}

/// Everything the network holds under `keys`: packets and reproductions (signature and contents
/// checked again) and the number of records refused.
pub async fn fetch(node: &NodeHandle, keys: &[Id]) -> Fetched {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.iter().enumerate() {
        let (node, key) = (node.clone(), *key);
        tasks.spawn(async move {
            (
                index,
                node.get(key).await.map(|r| r.records).unwrap_or_default(),
            )
        });
    }
    // Joined in completion order; sorted back by key so the result is deterministic.
    let mut by_key = Vec::new();
    while let Some(Ok(found)) = tasks.join_next().await {
        by_key.push(found);
    }
    by_key.sort_by_key(|(index, _)| *index);
    let mut fetched = Fetched::default();
    let mut reports_seen = HashSet::new();
    for record in by_key.into_iter().flat_map(|(_, records)| records) {
        match record.kind {
            RecordKind::Outcome => match OutcomePacket::from_record(record) {
                Ok(packet) => fetched.packets.push(packet),
                Err(_) => fetched.refused += 1,
            },
            RecordKind::Reproduction => {
                // Stored under several of the query's keys, and maybe signed again: verified
                // and counted once per content.
                if !reports_seen.insert(record.content_id()) {
                    continue;
                }
                match Reproduction::from_record(record) {
                    Ok(report) => fetched.reproductions.push(report),
                    Err(_) => fetched.refused += 1,
                }
            }
            RecordKind::Raw => fetched.refused += 1,
        }
    }
    fetched
}

/// The packets under `keys` and the number of records refused (reproductions are left out:
/// see [`fetch`]).
pub async fn fetch_packets(node: &NodeHandle, keys: &[Id]) -> (Vec<OutcomePacket>, usize) {
    let fetched = fetch(node, keys).await;
    (fetched.packets, fetched.refused)
}
