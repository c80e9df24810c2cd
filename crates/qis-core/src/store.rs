//! The record store: values held for others, many per key, bounded per key and in total, each
//! expiring [`RECORD_TTL`] after it was last stored. Values under a key are kept in record-id
//! order so that every holder pages through them the same way.

use crate::constants::{DEFAULT_MAX_RECORDS, DEFAULT_MAX_VALUES_PER_KEY, RECORD_TTL};
use crate::id::Id;
use crate::record::{RecordId, SignedRecord};
use crate::time::{Duration, Time};
use std::collections::BTreeMap;

/// Store limits.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Values one key may hold.
    pub max_values_per_key: usize,
    /// Records in all.
    pub max_records: usize,
    /// Lifetime of a record after its last store.
    pub ttl: Duration,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            max_values_per_key: DEFAULT_MAX_VALUES_PER_KEY,
            max_records: DEFAULT_MAX_RECORDS,
            ttl: RECORD_TTL,
        }
    }
}

/// A record and its bookkeeping.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The record.
    pub record: SignedRecord,
    /// When it was last stored (by anyone, including a replication).
    pub stored_at: Time,
    /// When this node last replicated it.
    pub replicated_at: Time,
}

/// Why a record was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key already holds the maximum number of values.
    #[error("key holds the maximum of {0} values")]
    KeyFull(usize),
    /// The store holds the maximum number of records.
    #[error("store holds the maximum of {0} records")]
    StoreFull(usize),
}

/// Records by key, then by record id.
#[derive(Debug, Clone, Default)]
pub struct RecordStore {
    limits: StoreLimits,
    keys: BTreeMap<Id, BTreeMap<RecordId, Stored>>,
    count: usize,
}

impl RecordStore {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> RecordStore {
        RecordStore {
            limits,
            keys: BTreeMap::new(),
            count: 0,
        }
    }

    /// Records held in all.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Stores `record` (already validated) under `key`, or refreshes its time if held. A full
    /// store refuses new records and never drops what it holds.
    pub fn put(&mut self, key: Id, record: SignedRecord, now: Time) -> Result<(), StoreError> {
        let rid = record.id();
        let values = self.keys.get(&key);
        let held = values.is_some_and(|v| v.contains_key(&rid));
        if !held {
            if values.map_or(0, BTreeMap::len) >= self.limits.max_values_per_key {
                return Err(StoreError::KeyFull(self.limits.max_values_per_key));
            }
            if self.count >= self.limits.max_records {
                return Err(StoreError::StoreFull(self.limits.max_records));
            }
        }
        let values = self.keys.entry(key).or_default();
        match values.get_mut(&rid) {
            Some(stored) => stored.stored_at = now,
            None => {
                values.insert(
                    rid,
                    Stored {
                        record,
                        stored_at: now,
                        replicated_at: now,
                    },
                );
                self.count += 1;
            }
        }
        Ok(())
    }

    /// Number of values under `key`.
    pub fn count(&self, key: &Id) -> usize {
        self.keys.get(key).map_or(0, BTreeMap::len)
    }

    /// Values under `key` with record id ≥ `start`, in record-id order.
    pub fn page_from<'a>(
        &'a self,
        key: &Id,
        start: RecordId,
    ) -> impl Iterator<Item = (&'a RecordId, &'a Stored)> + 'a {
        self.keys
            .get(key)
            .into_iter()
            .flat_map(move |v| v.range(start..))
    }

    /// All records under `key`.
    pub fn records(&self, key: &Id) -> Vec<SignedRecord> {
        self.keys
            .get(key)
            .map(|v| v.values().map(|s| s.record.clone()).collect())
            .unwrap_or_default()
    }

    /// Drops records not stored for longer than the TTL; returns how many.
    pub fn expire(&mut self, now: Time) -> usize {
        let ttl = self.limits.ttl;
        let mut dropped = 0;
        self.keys.retain(|_, values| {
            let before = values.len();
            values.retain(|_, s| now.saturating_since(s.stored_at) < ttl);
            dropped += before - values.len();
            !values.is_empty()
        });
        self.count -= dropped;
        dropped
    }

    /// Keys with a record that nobody has stored or replicated within `interval`: those this
    /// node should re-replicate. Marks them replicated as of `now`.
    pub fn due_for_replication(
        &mut self,
        now: Time,
        interval: Duration,
    ) -> Vec<(Id, Vec<SignedRecord>)> {
        let mut due = Vec::new();
        for (key, values) in &mut self.keys {
            let mut records = Vec::new();
            for stored in values.values_mut() {
                let last = stored.stored_at.max(stored.replicated_at);
                if now.saturating_since(last) >= interval {
                    stored.replicated_at = now;
                    records.push(stored.record.clone());
                }
            }
            if !records.is_empty() {
                due.push((*key, records));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordKind;
    use ed25519_dalek::SigningKey;

    fn record(n: u32) -> SignedRecord {
        SignedRecord::sign(
            &SigningKey::from_bytes(&[1; 32]),
            RecordKind::Raw,
            1,
            n.to_le_bytes().to_vec(),
        )
        .unwrap()
    }

    fn limits(per_key: usize, total: usize) -> StoreLimits {
        StoreLimits {
            max_values_per_key: per_key,
            max_records: total,
            ttl: Duration::from_secs(100),
        }
    }

    #[test]
    fn limits_refuse_new_records_and_keep_old_ones() {
        let mut s = RecordStore::new(limits(2, 3));
        let (a, b) = (Id::hash(b"a"), Id::hash(b"b"));
        s.put(a, record(1), Time::ZERO).unwrap();
        s.put(a, record(2), Time::ZERO).unwrap();
        assert_eq!(s.put(a, record(3), Time::ZERO), Err(StoreError::KeyFull(2)));
        s.put(a, record(1), Time::ZERO).unwrap(); // a refresh is always allowed
        s.put(b, record(4), Time::ZERO).unwrap();
        assert_eq!(
            s.put(b, record(5), Time::ZERO),
            Err(StoreError::StoreFull(3))
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s.count(&a), 2);
    }

    #[test]
    fn records_expire_after_ttl_unless_restored() {
        let mut s = RecordStore::new(limits(10, 10));
        let k = Id::hash(b"k");
        s.put(k, record(1), Time::ZERO).unwrap();
        s.put(k, record(2), Time::ZERO).unwrap();
        s.put(k, record(2), Time::from_millis(60_000)).unwrap();
        assert_eq!(s.expire(Time::from_millis(100_000)), 1);
        assert_eq!(s.records(&k), vec![record(2)]);
        assert_eq!(s.expire(Time::from_millis(170_000)), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn pages_follow_record_id_order() {
        let mut s = RecordStore::new(limits(100, 100));
        let k = Id::hash(b"k");
        for n in 0..20 {
            s.put(k, record(n), Time::ZERO).unwrap();
        }
        let ids: Vec<RecordId> = s
            .page_from(&k, RecordId([0; 32]))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(ids.len(), 20);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let tail: Vec<RecordId> = s.page_from(&k, ids[15]).map(|(id, _)| *id).collect();
        assert_eq!(tail, ids[15..].to_vec());
    }

    #[test]
    fn replication_skips_recently_stored_records() {
        let mut s = RecordStore::new(limits(10, 10));
        let k = Id::hash(b"k");
        s.put(k, record(1), Time::ZERO).unwrap();
        let hour = Duration::from_secs(3600);
        assert!(
            s.due_for_replication(Time::from_millis(1000), hour)
                .is_empty()
        );
        let later = Time::ZERO + hour;
        assert_eq!(s.due_for_replication(later, hour).len(), 1);
        assert!(
            s.due_for_replication(later, hour).is_empty(),
            "marked as replicated"
        );
    }
}
