//! What the routing tables' prefix limits cost honest nodes: refused offers as the nodes counted
//! them, and, from the ground truth at the end of the run, the tables left smaller because the
//! limits kept a live node out of a bucket with room.

use super::addresses::slash_24;
use super::membership::sibling_range;
use super::report::PrefixLimits;
use super::truth::prefix_range;
use super::world::Simulation;
use qis_core::{Id, Node, SimAddr, TableConfig};
use std::collections::{BTreeMap, BTreeSet};

/// A bucket whose id range holds more live nodes than this is not examined: with that many
/// candidates, room in it is not the limits' doing (and scanning it would cost O(N) a node).
const MAX_RANGE_EXAMINED: usize = 1024;

/// A live node: its id and its address.
type Live = (Id, SimAddr);

/// The /24 counts of one routing table.
struct TableCrowding {
    in_table: BTreeMap<u32, usize>,
    in_bucket: BTreeMap<(usize, u32), usize>,
}

impl TableCrowding {
    fn of(node: &Node<SimAddr>) -> TableCrowding {
        let table = node.table();
        let mut crowding = TableCrowding {
            in_table: BTreeMap::new(),
            in_bucket: BTreeMap::new(),
        };
        for entry in table.entries() {
            let block = slash_24(entry.addr);
            *crowding.in_table.entry(block).or_insert(0) += 1;
            let bucket = table.bucket_index(&entry.id);
            *crowding.in_bucket.entry((bucket, block)).or_insert(0) += 1;
        }
        crowding
    }

    /// True if the limits refuse another node of `block` in `bucket`.
    fn full(&self, limits: &TableConfig, bucket: usize, block: u32) -> bool {
        let over = |limit: usize, count: Option<&usize>| limit > 0 && count >= Some(&limit);
        over(
            limits.max_per_prefix_in_bucket,
            self.in_bucket.get(&(bucket, block)),
        ) || over(limits.max_per_prefix_in_table, self.in_table.get(&block))
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
            max_per_prefix_in_bucket: self.node_config.table.max_per_prefix_in_bucket as u64,
            max_per_prefix_in_table: self.node_config.table.max_per_prefix_in_table as u64,
            refused_admissions: self.stats.refused_prefix_departed,
            ..PrefixLimits::default()
        };
        let live = self.live_sorted();
        let mut kept_out = BTreeSet::new();
        for node in self
            .joined
            .iter()
            .filter_map(|&i| self.slots[i as usize].node.as_ref())
        {
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
        let (table, limits) = (node.table(), &self.node_config.table);
        let crowding = TableCrowding::of(node);
        let own = node.id();
        let mut shortfall = Shortfall::default();
        for bucket in 0..qis_core::constants::ID_BITS - 1 {
            let room = limits.bucket_size.saturating_sub(table.bucket_len(bucket));
            let candidates = range(live, sibling_range(&own, bucket));
            if room > 0 && candidates.len() <= MAX_RANGE_EXAMINED {
                let blocked: Vec<Id> = candidates
                    .iter()
                    .filter(|(id, addr)| {
                        table.get(id).is_none() && crowding.full(limits, bucket, slash_24(*addr))
                    })
                    .map(|(id, _)| *id)
                    .collect();
                shortfall.missing += room.min(blocked.len());
                shortfall.kept_out.extend(blocked);
            }
            // Deeper buckets lie inside the range sharing `bucket + 1` bits: stop once only
            // this node is left there.
            if range(live, prefix_range(&own, bucket + 1)).len() <= 1 {
                break;
            }
        }
        shortfall
    }
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
