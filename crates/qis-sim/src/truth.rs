//! Ground truth the simulator knows and nodes do not: every live node id, and the true k
//! closest of them to any target (for recall).
//!
//! The k XOR-closest ids to a target all lie in the smallest aligned prefix range around the
//! target that holds at least k ids (any id sharing p leading bits with the target is closer
//! than any id sharing fewer), and that range is contiguous in sorted order. So the search
//! narrows the prefix while the range still holds k ids, then sorts that range by distance.

use qis_core::Id;
use std::collections::BTreeSet;

/// The ids of live nodes, sorted.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveIndex {
    ids: BTreeSet<Id>,
}

/// The lowest and highest ids that share the first `prefix` bits with `target`.
pub(super) fn prefix_range(target: &Id, prefix: usize) -> (Id, Id) {
    let mut lo = *target.as_bytes();
    let mut hi = lo;
    for bit in prefix..256 {
        let mask = 0x80u8 >> (bit % 8);
        lo[bit / 8] &= !mask;
        hi[bit / 8] |= mask;
    }
    (Id::from_bytes(lo), Id::from_bytes(hi))
}

impl LiveIndex {
    /// An empty index.
    pub(crate) fn new() -> LiveIndex {
        LiveIndex::default()
    }

    /// Adds a live node.
    pub(crate) fn insert(&mut self, id: Id) {
        self.ids.insert(id);
    }

    /// Removes a node that went away.
    pub(crate) fn remove(&mut self, id: &Id) {
        self.ids.remove(id);
    }

    /// The `k` live ids closest to `target`, closest first.
    pub(crate) fn closest(&self, target: &Id, k: usize) -> Vec<Id> {
        let count_at = |prefix: usize| {
            let (lo, hi) = prefix_range(target, prefix);
            self.ids.range(lo..=hi).take(k).count()
        };
        let mut prefix = 0;
        while prefix < 256 && count_at(prefix + 1) >= k {
            prefix += 1;
        }
        let (lo, hi) = prefix_range(target, prefix);
        let mut found: Vec<Id> = self.ids.range(lo..=hi).copied().collect();
        found.sort_unstable_by_key(|id| id.distance(target));
        found.truncate(k);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_full_sort() {
        let mut index = LiveIndex::new();
        let all: Vec<Id> = (0..3000u32).map(|i| Id::hash(&i.to_le_bytes())).collect();
        for id in &all {
            index.insert(*id);
        }
        for t in 0..50u32 {
            let target = Id::hash(&(t + 100_000).to_le_bytes());
            let mut truth = all.clone();
            truth.sort_by_key(|id| id.distance(&target));
            truth.truncate(20);
            assert_eq!(index.closest(&target, 20), truth);
        }
        assert_eq!(index.closest(&all[0], 1), vec![all[0]]);
        let small = LiveIndex::new();
        assert!(small.closest(&all[0], 20).is_empty());
    }
}
