//! Outcome packets over a running node: publish under every semantic key, and fetch what a
//! query's keys hold.

use qis_core::Id;
use qis_outcomes::OutcomePacket;
use qis_udp::NodeHandle;

/// Stores `packet` under each of its semantic keys, in parallel. Returns the acknowledgements
/// per key, in the order of [`OutcomePacket::keys`].
pub async fn publish_packet(node: &NodeHandle, packet: &OutcomePacket) -> Vec<u32> {
    let keys = packet.keys();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.iter().enumerate() {
        let (node, record, id) = (node.clone(), packet.record.clone(), key.id);
        tasks.spawn(async move { (index, node.put(id, record).await.map_or(0, |r| r.acks)) });
    }
    let mut acks = vec![0; keys.len()];
    while let Some(Ok((index, n))) = tasks.join_next().await {
        acks[index] = n;
    }
    acks
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
