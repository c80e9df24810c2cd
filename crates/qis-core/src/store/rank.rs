//! The rank of a key's values: the reports a holder holds on each (see the parent module's
//! documentation, *Rank*).

use super::{RecordStore, Stored};
use crate::id::Id;
use crate::record::{PublicKey, RecordId};
use std::cmp::Reverse;
use std::collections::BTreeMap;

impl Stored {
    /// Its rank among the values of its key, higher first: support, then signing time.
    pub(super) fn rank(&self) -> (i32, u64) {
        (self.support, self.record.created)
    }
}

impl RecordStore {
    /// Judges the reports under `key` on `subject` (a content id) not judged yet, if the
    /// subject is held, and counts its support again.
    pub(super) fn judge_reports(&mut self, key: Id, subject: RecordId) {
        let (Some(policy), Some(&target)) = (&self.policy, self.contents.get(&(key, subject)))
        else {
            return;
        };
        let (Some(values), Some(reports)) =
            (self.keys.get_mut(&key), self.reports.get(&(key, subject)))
        else {
            return;
        };
        let Some(target_record) = values.get(&target).map(|s| s.record.clone()) else {
            return;
        };
        for report in reports {
            if let Some(stored) = values.get_mut(report)
                && stored.verdict.is_none()
            {
                stored.verdict = policy.supports(&stored.record, &target_record);
            }
        }
        self.count_support(key, subject);
    }

    /// Sets the support of the value under `key` of content `subject`, if held: each report
    /// publisher but its own counts once, by its newest report.
    pub(super) fn count_support(&mut self, key: Id, subject: RecordId) {
        let Some(&target) = self.contents.get(&(key, subject)) else {
            return;
        };
        let Some(values) = self.keys.get_mut(&key) else {
            return;
        };
        let Some(own) = values.get(&target).map(|s| s.record.publisher) else {
            return;
        };
        let mut newest: BTreeMap<PublicKey, (u64, RecordId, Option<bool>)> = BTreeMap::new();
        for rid in self.reports.get(&(key, subject)).into_iter().flatten() {
            let Some(report) = values.get(rid) else {
                continue;
            };
            if report.record.publisher == own {
                continue;
            }
            let entry = (report.record.created, *rid, report.verdict);
            let slot = newest.entry(report.record.publisher).or_insert(entry);
            if (entry.0, entry.1) > (slot.0, slot.1) {
                *slot = entry;
            }
        }
        let support = newest
            .values()
            .map(|(_, _, verdict)| match verdict {
                Some(true) => 1,
                Some(false) => -1,
                None => 0,
            })
            .sum();
        if let Some(stored) = values.get_mut(&target) {
            stored.support = support;
        }
    }

    /// The values under `key`, best-ranked first (ties: record-id order).
    pub fn best_first<'a>(&'a self, key: &Id) -> Vec<(&'a RecordId, &'a Stored)> {
        let mut ranked: Vec<(&RecordId, &Stored)> =
            self.keys.get(key).into_iter().flatten().collect();
        ranked.sort_by_key(|(id, stored)| (Reverse(stored.rank()), **id));
        ranked
    }
}

#[cfg(test)]
mod tests;
