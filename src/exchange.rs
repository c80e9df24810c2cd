//! Outcome packets over a running node: publish under every semantic key, and fetch what a
//! query's keys hold.

use qis_core::Id;
use qis_outcomes::OutcomePacket;
use qis_udp::NodeHandle;

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
    let keys = packet.keys();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.iter().enumerate() {
        let (node, record, id) = (node.clone(), packet.record.clone(), key.id);
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

/// Everything the network holds under `keys`: the valid packets (signature and contents are
/// checked again here, since a holder may be hostile; duplicates are left for ranking to
/// merge) and the number of records refused.
pub async fn fetch_packets(node: &NodeHandle, keys: &[Id]) -> (Vec<OutcomePacket>, usize) {
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
    let mut packets = Vec::new();
    let mut refused = 0;
    for record in by_key.into_iter().flat_map(|(_, records)| records) {
        match OutcomePacket::from_record(record) {
            Ok(packet) => packets.push(packet),
            Err(_) => refused += 1,
        }
    }
    (packets, refused)
}
