//! What the routing tables' prefix limits cost honest nodes: refused offers as the nodes counted
//! them, and, from the ground truth at the end of the run, the tables left smaller because the
//! limits kept a live node out of a bucket with room.

use super::addresses::slash_24;
use super::membership::sibling_range;
use super::report::PrefixLimits;
use super::truth::prefix_range;
use super::world::Simulation;
use qis_core::{Id, Node, SimAddr, TableConfig};
use std::collections::BTreeSet;

/// A bucket whose id range holds more live nodes than this is not examined: with that many
/// candidates, room in it is not the limits' doing (and scanning it would cost O(N) a node).
const MAX_RANGE_EXAMINED: usize = 1024;

/// A live node: its id and its address.
type Live = (Id, SimAddr);

/// A bucket with room and the live nodes of its range that its table does not hold.
struct Unfilled {
    bucket: usize,
    room: usize,
    absent: Vec<Live>,
}

/// The /24 of every entry of one table and its bucket, sorted by /24.
struct TableCrowding(Vec<(u32, usize)>);

impl TableCrowding {
    fn of(node: &Node<SimAddr>) -> TableCrowding {
        let table = node.table();
        let mut blocks: Vec<(u32, usize)> = table
            .entries()
            .map(|e| (slash_24(e.addr), table.bucket_index(&e.id)))
            .collect();
        blocks.sort_unstable();
        TableCrowding(blocks)
    }

    /// True if the limits refuse another node of `block` in `bucket`.
    fn full(&self, limits: &TableConfig, bucket: usize, block: u32) -> bool {
        let start = self.0.partition_point(|&(b, _)| b < block);
        let end = self.0.partition_point(|&(b, _)| b <= block);
        let in_table = end - start;
        let in_bucket = self.0[start..end]
            .iter()
            .filter(|&&(_, at)| at == bucket)
            .count();
        let over = |limit: usize, count: usize| limit > 0 && count >= limit;
        over(limits.max_per_prefix_in_bucket, in_bucket)
            || over(limits.max_per_prefix_in_table, in_table)
    }
}

/// One table's shortfall: places left empty, and the live nodes kept out of them.
#[derive(Default)]
struct Shortfall {
    missing: usize,
    kept_out: Vec<Id>,
}

impl Simulation {
    /// The address model's figures and what the prefix limits turned away.
    pub(super) fn prefix_report(&self) -> PrefixLimits {
        let model = self.addresses.config();
        let per_block = self.addresses.slots_per_slash_24();
        let limits = &self.node_config.table;
        let mut report = PrefixLimits {
            clustered: model.clustered,
            cluster_size: model.cluster_size as u64,
            slash_24s: per_block.len() as u64,
            nodes_sharing: per_block
                .values()
                .filter(|&&n| n > 1)
                .map(|&n| u64::from(n))
                .sum(),
            largest_slash_24: per_block.values().copied().max().map_or(0, u64::from),
            max_per_prefix_in_bucket: limits.max_per_prefix_in_bucket as u64,
            max_per_prefix_in_table: limits.max_per_prefix_in_table as u64,
            refused_admissions: self.stats.refused_prefix_departed,
            ..PrefixLimits::default()
        };
        let live = self.live_sorted();
        let mut kept_out = BTreeSet::new();
        let nodes = self.joined.iter();
        for node in nodes.filter_map(|&i| self.slots[i as usize].node.as_ref()) {
            let refused = node.metrics().table_refused_prefix;
            report.refused_admissions += refused;
            report.nodes_refusing += u64::from(refused > 0);
            let shortfall = self.shortfall(node, &live);
            if shortfall.missing > 0 {
                report.tables_short += 1;
                report.entries_missing += shortfall.missing as u64;
                kept_out.extend(shortfall.kept_out);
            }
        }
        report.nodes_kept_out = kept_out.len() as u64;
        report
    }

    /// Every live node, by id.
    fn live_sorted(&self) -> Vec<Live> {
        let mut live: Vec<Live> = self
            .joined
            .iter()
            .filter_map(|&i| {
                let node = self.slots[i as usize].node.as_ref()?;
                Some((node.id(), self.addresses.of(i)))
            })
            .collect();
        live.sort_unstable();
        live
    }

    /// The places `node`'s buckets have free while live nodes of their ranges, not in its
    /// table, are kept out by the prefix limits.
    fn shortfall(&self, node: &Node<SimAddr>, live: &[Live]) -> Shortfall {
        let unfilled = unfilled_buckets(node, live, self.node_config.table.bucket_size);
        let mut shortfall = Shortfall::default();
        if unfilled.is_empty() {
            // The common case: every bucket with room holds its whole range.
            return shortfall;
        }
        let crowding = TableCrowding::of(node);
        let limits = &self.node_config.table;
        for Unfilled {
            bucket,
            room,
            absent,
        } in unfilled
        {
            let blocked: Vec<Id> = absent
                .iter()
                .filter(|(_, addr)| crowding.full(limits, bucket, slash_24(*addr)))
                .map(|(id, _)| *id)
                .collect();
            shortfall.missing += room.min(blocked.len());
            shortfall.kept_out.extend(blocked);
        }
        shortfall
    }
}

/// The buckets of `node`'s table with room while live nodes of their ranges are absent from it.
fn unfilled_buckets(node: &Node<SimAddr>, live: &[Live], bucket_size: usize) -> Vec<Unfilled> {
    let (table, own) = (node.table(), node.id());
    let mut unfilled = Vec::new();
    for bucket in 0..qis_core::constants::ID_BITS - 1 {
        let room = bucket_size.saturating_sub(table.bucket_len(bucket));
        let candidates = range(live, sibling_range(&own, bucket));
        if room > 0 && candidates.len() <= MAX_RANGE_EXAMINED {
            let absent: Vec<Live> = candidates
                .iter()
                .filter(|(id, _)| table.get(id).is_none())
                .copied()
                .collect();
            if !absent.is_empty() {
                unfilled.push(Unfilled {
                    bucket,
                    room,
                    absent,
                });
            }
        }
        // Deeper buckets lie inside the range sharing `bucket + 1` bits: stop once only this
        // node is left there.
        if range(live, prefix_range(&own, bucket + 1)).len() <= 1 {
            break;
        }
    }
    unfilled
}

/// The live nodes whose ids lie in `lo..=hi`.
fn range(live: &[Live], (lo, hi): (Id, Id)) -> &[Live] {
    let start = live.partition_point(|(id, _)| *id < lo);
    let end = live.partition_point(|(id, _)| *id <= hi);
    &live[start..end]
}

#[cfg(test)]
mod tests {
    use crate::{AddressConfig, SimConfig, simulate};

    /// Half of 400 nodes in /24s of 100: the limits bind, and the report says where.
    fn crowded(limits: (usize, usize)) -> crate::SimReport {
        let mut config = SimConfig::new(400, 50, 3);
        config.addresses = AddressConfig {
            clustered: 0.5,
            cluster_size: 100,
        };
        (
            config.max_per_prefix_in_bucket,
            config.max_per_prefix_in_table,
        ) = limits;
        simulate(config)
    }

    #[test]
    fn crowded_slash_24s_are_refused_and_counted() {
        let limited = crowded((2, 10)).prefixes;
        assert!(limited.largest_slash_24 >= 50, "{limited:?}");
        assert!(limited.refused_admissions > 0 && limited.nodes_refusing > 0);
        assert!(limited.entries_missing >= limited.tables_short);
        assert!(limited.nodes_kept_out <= limited.nodes_sharing);
        let open = crowded((0, 0)).prefixes;
        assert_eq!(
            (
                open.refused_admissions,
                open.tables_short,
                open.nodes_kept_out
            ),
            (0, 0, 0),
            "{open:?}"
        );
        assert_eq!(open.largest_slash_24, limited.largest_slash_24);
    }
}
