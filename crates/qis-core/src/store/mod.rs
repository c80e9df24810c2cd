//! The record store: values held for others, many per key, bounded per key and in total, each
//! expiring [`RECORD_TTL`] after it was last stored. Values under a key are kept in record-id
//! order so that every holder pages through them the same way.
//!
//! Quotas keep one party from taking the store: a publisher key may hold at most
//! [`StoreLimits::max_per_publisher_per_key`] values under one key and
//! [`StoreLimits::max_per_publisher`] in all; the wide prefix (IPv4 /24, IPv6 /48) a store
//! came from at most [`StoreLimits::max_per_prefix`]. A store re-replicated by a peer of our
//! routing table is charged to its publisher only (the peer is passing on what others
//! published, not spending its own share). A full store (in total or under one key) makes room
//! by policy instead of refusing everyone: an expired record first, else the oldest record of
//! the publisher holding the most (every publisher has the same quota, so that is the one most
//! over its fair share); it refuses only when the newcomer's publisher is itself (tied for) the
//! one holding the most.
//!
//! A publisher who signs the same statement again (the same content at a later time) does not
//! add a second value: a key holds one record per [content id](SignedRecord::content_id), the
//! one created last. A newer signing replaces the held one (charged as a new store); an older
//! or equally old one is acknowledged and changes nothing, so what is held never goes back.
//!
//! # Rank
//!
//! A holder ranks the values of a key only by what it can check itself: the signed reports it
//! holds under the same key on each value ([`RecordPolicy::subject_of`]: a reproduction names
//! the packet it re-ran). A value's *support* is the number of distinct report publishers
//! (other than its own) whose newest report confirms it, minus those whose newest report
//! contradicts it ([`RecordPolicy::supports`]); its rank is its support, then how recently it
//! was signed. Nothing else moves it: no score a peer sends is believed, and every holder of the
//! same records computes the same rank (replication carries the reports, so nothing extra is
//! sent). Two things follow the rank:
//!
//! * a FIND_VALUE starting at [`RecordId::BEST_FIRST`] (what a get sends first) is answered
//!   with the best-ranked values that fit, and paging on from [`RecordId::LOWEST`] goes through
//!   every value in record-id order (the order holders split between them to page in
//!   parallel);
//! * a full key or store that evicts from the publisher holding the most takes that
//!   publisher's lowest-ranked value, so a squatter pushes out only its own least supported
//!   packets, and a publisher's packets that others reproduced outlast the ones nobody did.
//!
//! Report publishers are keys, and keys are free: a crowd of fresh keys confirming a packet
//! lifts it within its publisher's own share and onto the first page, no further. Whom a client
//! believes is its own synthesis's business (standing, in `qis-outcomes`).
//!
//! A node that keeps what it holds across restarts turns on the store's journal
//! ([`RecordStore::enable_journal`]): every change to the held records is queued as a
//! [`HeldChange`] for the driver to write down, and [`RecordStore::restore`] takes the records
//! back after a restart with their age.

use crate::constants::{
    DEFAULT_MAX_RECORDS, DEFAULT_MAX_VALUES_PER_KEY, JOURNAL_REFRESH_INTERVAL,
    MAX_VALUES_PER_PUBLISHER_PER_KEY, PREFIX_SHARE_PERCENT, PUBLISHER_SHARE_PERCENT, RECORD_TTL,
};
use crate::id::Id;
use crate::record::{PublicKey, RecordId, RecordPolicy, SignedRecord};
use crate::time::{Duration, Time};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

mod rank;

/// Store limits.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Values one key may hold.
    pub max_values_per_key: usize,
    /// Records in all.
    pub max_records: usize,
    /// Values one publisher key may hold under one key.
    pub max_per_publisher_per_key: usize,
    /// Records one publisher key may hold in all.
    pub max_per_publisher: usize,
    /// Records stored from one wide source prefix (IPv4 /24, IPv6 /48) in all; re-replications
    /// by peers of our routing table are not charged.
    pub max_per_prefix: usize,
    /// Lifetime of a record after its last store.
    pub ttl: Duration,
}

impl StoreLimits {
    /// The default limits for a store of `max_records`: the publisher and prefix quotas are
    /// [`PUBLISHER_SHARE_PERCENT`] and [`PREFIX_SHARE_PERCENT`] of it (at least 1).
    pub fn with_capacity(max_records: usize) -> StoreLimits {
        let share = |percent: usize| (max_records.saturating_mul(percent) / 100).max(1);
        StoreLimits {
            max_values_per_key: DEFAULT_MAX_VALUES_PER_KEY,
            max_records,
            max_per_publisher_per_key: MAX_VALUES_PER_PUBLISHER_PER_KEY,
            max_per_publisher: share(PUBLISHER_SHARE_PERCENT),
            max_per_prefix: share(PREFIX_SHARE_PERCENT),
            ttl: RECORD_TTL,
        }
    }
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits::with_capacity(DEFAULT_MAX_RECORDS)
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
    /// The wide source prefix charged for it when it was first stored; `None` for a
    /// re-replication by a peer of our table or a store of our own.
    pub source: Option<u128>,
    /// When its store time was last journaled (see [`HeldChange::Refreshed`]).
    pub journaled_at: Time,
    /// The content id of the record it reports on, if it is a report
    /// ([`RecordPolicy::subject_of`]).
    pub subject: Option<RecordId>,
    /// For a report whose subject has been held: whether it confirms it (`None`: not judged,
    /// or nothing to judge).
    pub verdict: Option<bool>,
    /// Distinct report publishers confirming it minus those contradicting it (the module
    /// documentation's *support*).
    pub support: i32,
}

/// A record held for others, as kept across a restart: where it is stored, what it is, how
/// long ago it was last stored, and the source prefix it is charged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// The key it is stored under.
    pub key: Id,
    /// The record.
    pub record: SignedRecord,
    /// Time since it was last stored (it expires when this reaches the TTL).
    pub age: Duration,
    /// The wide source prefix charged for it (`None`: a re-replication by a peer of the table,
    /// or a store of the node's own).
    pub source: Option<u128>,
}

/// A change to the records a store holds, queued while its journal is on
/// ([`RecordStore::enable_journal`]) for a driver that keeps them on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldChange {
    /// A record newly held (its age is zero).
    Stored(HeldRecord),
    /// A held record was stored again: its lifetime starts over. Queued at most once per
    /// [`JOURNAL_REFRESH_INTERVAL`] per record, so a record replicated by all its holders
    /// costs one entry an hour, not one per replication; restored, it is then at most that
    /// much older than it was (it expires that much sooner unless stored again).
    Refreshed {
        /// The key.
        key: Id,
        /// The record.
        record: RecordId,
    },
    /// A record dropped (expired or evicted to make room).
    Removed {
        /// The key.
        key: Id,
        /// The record.
        record: RecordId,
    },
}

/// Why a record was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key holds the maximum number of values and the newcomer's publisher holds the most
    /// of them.
    #[error("key holds the maximum of {0} values")]
    KeyFull(usize),
    /// The store holds the maximum number of records and the newcomer's publisher holds the
    /// most of them.
    #[error("store holds the maximum of {0} records")]
    StoreFull(usize),
    /// The publisher already holds its quota of values under this key.
    #[error("the publisher holds its quota of {0} values under this key")]
    PublisherKeyQuota(usize),
    /// The publisher already holds its quota of records.
    #[error("the publisher holds its quota of {0} records")]
    PublisherQuota(usize),
    /// The source prefix already has its quota of records stored.
    #[error("the source prefix has its quota of {0} records stored")]
    PrefixQuota(usize),
}

/// Where a record sits: its age, key and id (ordered oldest first).
type Slot = (Time, Id, RecordId);

/// Records by key, then by record id, with the charges per publisher and source prefix. Every
/// index holds exactly the records held, so none outgrows the store.
#[derive(Debug, Clone, Default)]
pub struct RecordStore {
    limits: StoreLimits,
    keys: BTreeMap<Id, BTreeMap<RecordId, Stored>>,
    count: usize,
    /// Every record, oldest `stored_at` first (expiry).
    by_age: BTreeSet<Slot>,
    /// Each publisher's records, oldest first (eviction).
    publishers: BTreeMap<PublicKey, BTreeSet<Slot>>,
    /// Publishers by records held (the last holds the most).
    ranking: BTreeSet<(usize, PublicKey)>,
    /// Values per (key, publisher).
    per_key: BTreeMap<(Id, PublicKey), usize>,
    /// The record held for each (key, content id): one per content.
    contents: BTreeMap<(Id, RecordId), RecordId>,
    /// Records charged per source prefix.
    prefixes: BTreeMap<u128, usize>,
    /// Changes not yet taken by [`RecordStore::poll_change`]; `None` while the journal is off.
    journal: Option<VecDeque<HeldChange>>,
    /// The reports held per (key, content id of their subject).
    reports: BTreeMap<(Id, RecordId), BTreeSet<RecordId>>,
    /// What tells reports and their verdicts (none: nothing is a report, every support is 0).
    policy: Option<Arc<dyn RecordPolicy>>,
}

impl RecordStore {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> RecordStore {
        RecordStore {
            limits,
            ..RecordStore::default()
        }
    }

    /// An empty store that ranks values by the reports `policy` recognises (see the module
    /// documentation).
    pub fn with_policy(limits: StoreLimits, policy: Arc<dyn RecordPolicy>) -> RecordStore {
        RecordStore {
            policy: Some(policy),
            ..RecordStore::new(limits)
        }
    }

    /// The limits.
    pub fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    /// Records held in all.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Records held from `publisher`.
    pub fn held_from(&self, publisher: &PublicKey) -> usize {
        self.publishers.get(publisher).map_or(0, BTreeSet::len)
    }

    /// Records charged to the source prefix `prefix`.
    pub fn charged_to(&self, prefix: u128) -> usize {
        self.prefixes.get(&prefix).copied().unwrap_or(0)
    }

    /// Stores `record` (already validated) under `key`, or refreshes its time if held (always
    /// allowed, charged nothing more). A new record is charged to its publisher and to
    /// `source`, the wide prefix it came from (`None` for a re-replication by a peer of our
    /// table, or our own store); over a quota it is refused. A full store makes room as the
    /// module documentation describes. Returns how many records were evicted to make room.
    pub fn put(
        &mut self,
        key: Id,
        record: SignedRecord,
        now: Time,
        source: Option<u128>,
    ) -> Result<usize, StoreError> {
        self.put_stored_at(key, record, now, now, source)
    }

    /// Takes back a record held before a restart (already validated again), `held.age` old:
    /// charged and bounded like any store (quotas may have changed), not journaled (it is
    /// on disk already). An expired record is not restored (`Ok(None)`); otherwise returns
    /// how many records were evicted to make room.
    pub fn restore(&mut self, held: HeldRecord, now: Time) -> Result<Option<usize>, StoreError> {
        if held.age >= self.limits.ttl {
            return Ok(None);
        }
        let journal = self.journal.take();
        let stored_at = now - held.age;
        let result = self.put_stored_at(held.key, held.record, stored_at, now, held.source);
        self.journal = journal;
        result.map(Some)
    }

    /// [`RecordStore::put`] of a record last stored at `stored_at` (`now` but for a restore).
    fn put_stored_at(
        &mut self,
        key: Id,
        record: SignedRecord,
        stored_at: Time,
        now: Time,
        source: Option<u128>,
    ) -> Result<usize, StoreError> {
        let rid = record.id();
        if let Some(stored) = self.keys.get_mut(&key).and_then(|v| v.get_mut(&rid)) {
            if stored_at <= stored.stored_at {
                return Ok(0);
            }
            let old = (stored.stored_at, key, rid);
            stored.stored_at = stored_at;
            let new = (stored_at, key, rid);
            self.by_age.remove(&old);
            self.by_age.insert(new);
            if let Some(slots) = self.publishers.get_mut(&stored.record.publisher) {
                slots.remove(&old);
                slots.insert(new);
            }
            if let Some(journal) = &mut self.journal
                && stored_at.saturating_since(stored.journaled_at) >= JOURNAL_REFRESH_INTERVAL
            {
                stored.journaled_at = stored_at;
                journal.push_back(HeldChange::Refreshed { key, record: rid });
            }
            return Ok(0);
        }
        // The content index holds exactly the records held, so `held` is found.
        if let Some(&held) = self.contents.get(&(key, record.content_id()))
            && let Some(stored) = self.keys.get(&key).and_then(|v| v.get(&held))
        {
            if record.created <= stored.record.created {
                return Ok(0);
            }
            self.remove((stored.stored_at, key, held));
        }
        let publisher = record.publisher;
        let limits = self.limits;
        let mine_here = self.per_key.get(&(key, publisher)).copied().unwrap_or(0);
        if mine_here >= limits.max_per_publisher_per_key {
            return Err(StoreError::PublisherKeyQuota(
                limits.max_per_publisher_per_key,
            ));
        }
        let mine = self.held_from(&publisher);
        if mine >= limits.max_per_publisher {
            return Err(StoreError::PublisherQuota(limits.max_per_publisher));
        }
        if let Some(prefix) = source
            && self.charged_to(prefix) >= limits.max_per_prefix
        {
            return Err(StoreError::PrefixQuota(limits.max_per_prefix));
        }
        let mut evicted = 0;
        if self.count(&key) >= limits.max_values_per_key {
            let victim = self
                .key_victim(&key, &publisher, mine_here, now)
                .ok_or(StoreError::KeyFull(limits.max_values_per_key))?;
            self.remove(victim);
            evicted += 1;
        }
        if self.count >= limits.max_records {
            let victim = self
                .store_victim(&publisher, mine, now)
                .ok_or(StoreError::StoreFull(limits.max_records))?;
            self.remove(victim);
            evicted += 1;
        }
        self.insert(key, rid, record, stored_at, source);
        Ok(evicted)
    }

    /// Turns the journal on: from now on every change to the held records is queued for
    /// [`RecordStore::poll_change`].
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(VecDeque::new);
    }

    /// The oldest change not yet taken (always `None` while the journal is off).
    pub fn poll_change(&mut self) -> Option<HeldChange> {
        self.journal.as_mut()?.pop_front()
    }

    /// Every record held, with its age at `now`: what a driver writes down to start its
    /// journal afresh (compaction), or what a simulated crash keeps.
    pub fn held(&self, now: Time) -> Vec<HeldRecord> {
        self.keys
            .iter()
            .flat_map(|(key, values)| {
                values.values().map(move |stored| HeldRecord {
                    key: *key,
                    record: stored.record.clone(),
                    age: now.saturating_since(stored.stored_at),
                    source: stored.source,
                })
            })
            .collect()
    }

    /// The record to drop to make room under a full `key` for a newcomer from `publisher`
    /// (holding `mine_here` values there): an expired one, else the lowest-ranked (then
    /// least recently stored) of the publisher holding the most values there, unless that is
    /// (tied with) the newcomer's.
    fn key_victim(
        &self,
        key: &Id,
        publisher: &PublicKey,
        mine_here: usize,
        now: Time,
    ) -> Option<Slot> {
        let values = self.keys.get(key)?;
        let ttl = self.limits.ttl;
        let oldest = |s: &Stored| (s.stored_at, *key, s.record.id());
        if let Some(expired) = values
            .values()
            .find(|s| now.saturating_since(s.stored_at) >= ttl)
        {
            return Some(oldest(expired));
        }
        let (top, held) = self
            .per_key
            .range((*key, PublicKey([0; 32]))..=(*key, PublicKey([0xff; 32])))
            .map(|((_, p), n)| (*p, *n))
            .max_by_key(|(_, n)| *n)?;
        if top == *publisher || held <= mine_here {
            return None;
        }
        values
            .values()
            .filter(|s| s.record.publisher == top)
            .min_by_key(|s| (s.rank(), s.stored_at))
            .map(oldest)
    }

    /// The record to drop to make room in a full store for a newcomer from `publisher`
    /// (holding `mine`): the oldest expired record, else the oldest of the publisher holding
    /// the most (its lowest-ranked, then least recently stored record), unless that is (tied
    /// with) the newcomer's.
    fn store_victim(&self, publisher: &PublicKey, mine: usize, now: Time) -> Option<Slot> {
        if let Some(oldest) = self.by_age.first()
            && now.saturating_since(oldest.0) >= self.limits.ttl
        {
            return Some(*oldest);
        }
        let (held, top) = self.ranking.last()?;
        if top == publisher || *held <= mine {
            return None;
        }
        let slots = self.publishers.get(top)?;
        slots
            .iter()
            .min_by_key(|(stored_at, key, rid)| {
                let rank = self
                    .keys
                    .get(key)
                    .and_then(|v| v.get(rid))
                    .map(Stored::rank);
                (rank, *stored_at)
            })
            .copied()
    }

    fn insert(
        &mut self,
        key: Id,
        rid: RecordId,
        record: SignedRecord,
        now: Time,
        source: Option<u128>,
    ) {
        let publisher = record.publisher;
        let content = record.content_id();
        let subject = self.policy.as_ref().and_then(|p| p.subject_of(&record));
        let slot = (now, key, rid);
        if let Some(journal) = &mut self.journal {
            journal.push_back(HeldChange::Stored(HeldRecord {
                key,
                record: record.clone(),
                age: Duration::ZERO,
                source,
            }));
        }
        self.keys.entry(key).or_default().insert(
            rid,
            Stored {
                record,
                stored_at: now,
                replicated_at: now,
                source,
                journaled_at: now,
                subject,
                verdict: None,
                support: 0,
            },
        );
        self.count += 1;
        self.contents.insert((key, content), rid);
        if let Some(subject) = subject {
            self.reports.entry((key, subject)).or_default().insert(rid);
            self.judge_reports(key, subject);
        }
        if self.reports.contains_key(&(key, content)) {
            self.judge_reports(key, content);
        }
        self.by_age.insert(slot);
        let slots = self.publishers.entry(publisher).or_default();
        let before = slots.len();
        slots.insert(slot);
        self.ranking.remove(&(before, publisher));
        self.ranking.insert((before + 1, publisher));
        *self.per_key.entry((key, publisher)).or_default() += 1;
        if let Some(prefix) = source {
            *self.prefixes.entry(prefix).or_default() += 1;
        }
    }

    /// Drops the record at `slot` and every charge it carries.
    fn remove(&mut self, slot: Slot) {
        let (_, key, rid) = slot;
        let Some(values) = self.keys.get_mut(&key) else {
            return;
        };
        let Some(stored) = values.remove(&rid) else {
            return;
        };
        if values.is_empty() {
            self.keys.remove(&key);
        }
        self.count -= 1;
        self.contents.remove(&(key, stored.record.content_id()));
        if let Some(subject) = stored.subject {
            if let Some(reports) = self.reports.get_mut(&(key, subject)) {
                reports.remove(&rid);
                if reports.is_empty() {
                    self.reports.remove(&(key, subject));
                }
            }
            self.count_support(key, subject);
        }
        let slot = (stored.stored_at, key, rid);
        self.by_age.remove(&slot);
        let publisher = stored.record.publisher;
        if let Some(slots) = self.publishers.get_mut(&publisher) {
            let before = slots.len();
            slots.remove(&slot);
            self.ranking.remove(&(before, publisher));
            if slots.is_empty() {
                self.publishers.remove(&publisher);
            } else {
                self.ranking.insert((before - 1, publisher));
            }
        }
        decrement(&mut self.per_key, (key, publisher));
        if let Some(prefix) = stored.source {
            decrement(&mut self.prefixes, prefix);
        }
        if let Some(journal) = &mut self.journal {
            journal.push_back(HeldChange::Removed { key, record: rid });
        }
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
        while let Some(oldest) = self.by_age.first().copied()
            && now.saturating_since(oldest.0) >= ttl
        {
            self.remove(oldest);
            dropped += 1;
        }
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

/// Takes one from the count at `key`, dropping the entry at zero.
fn decrement<K: Ord>(map: &mut BTreeMap<K, usize>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordKind;
    use ed25519_dalek::SigningKey;

    fn signed(publisher: u8, n: u32) -> SignedRecord {
        SignedRecord::sign(
            &SigningKey::from_bytes(&[publisher; 32]),
            RecordKind::Raw,
            1,
            n.to_le_bytes().to_vec(),
        )
        .unwrap()
    }

    fn record(n: u32) -> SignedRecord {
        signed(1, n)
    }

    fn limits(per_key: usize, total: usize) -> StoreLimits {
        StoreLimits {
            max_values_per_key: per_key,
            max_records: total,
            max_per_publisher_per_key: usize::MAX,
            max_per_publisher: usize::MAX,
            max_per_prefix: usize::MAX,
            ttl: Duration::from_secs(100),
        }
    }

    fn signed_at(created: u64, payload: &[u8]) -> SignedRecord {
        let key = SigningKey::from_bytes(&[1; 32]);
        SignedRecord::sign(&key, RecordKind::Raw, created, payload.to_vec()).unwrap()
    }

    #[test]
    fn one_content_is_held_once_and_the_newest_signing_wins() {
        let mut s = RecordStore::new(limits(10, 10));
        s.enable_journal();
        let k = Id::hash(b"k");
        let (first, later) = (signed_at(10, b"same"), signed_at(20, b"same"));
        s.put(k, first.clone(), Time::ZERO, None).unwrap();
        s.put(k, later.clone(), Time::ZERO, None).unwrap();
        assert_eq!((s.len(), s.records(&k)), (1, vec![later.clone()]));
        // An older signing arriving late (replicated by a slower holder) changes nothing.
        s.put(k, first.clone(), Time::ZERO, None).unwrap();
        assert_eq!((s.len(), s.records(&k)), (1, vec![later.clone()]));
        // Other content and other keys are separate values.
        s.put(k, signed_at(10, b"other"), Time::ZERO, None).unwrap();
        s.put(Id::hash(b"k2"), first.clone(), Time::ZERO, None)
            .unwrap();
        assert_eq!(s.len(), 3);
        let changes = changes(&mut s);
        assert!(changes.contains(&HeldChange::Removed {
            key: k,
            record: first.id()
        }));
        assert_eq!(s.held_from(&first.publisher), 3);
    }

    #[test]
    fn limits_refuse_new_records_of_the_biggest_publisher_and_keep_old_ones() {
        let mut s = RecordStore::new(limits(2, 3));
        let (a, b) = (Id::hash(b"a"), Id::hash(b"b"));
        s.put(a, record(1), Time::ZERO, None).unwrap();
        s.put(a, record(2), Time::ZERO, None).unwrap();
        assert_eq!(
            s.put(a, record(3), Time::ZERO, None),
            Err(StoreError::KeyFull(2))
        );
        s.put(a, record(1), Time::ZERO, None).unwrap(); // a refresh is always allowed
        s.put(b, record(4), Time::ZERO, None).unwrap();
        assert_eq!(
            s.put(b, record(5), Time::ZERO, None),
            Err(StoreError::StoreFull(3))
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s.count(&a), 2);
    }

    #[test]
    fn a_flooding_publisher_cannot_push_out_an_honest_record() {
        let mut s = RecordStore::new(limits(100, 10));
        let k = Id::hash(b"k");
        s.put(k, signed(2, 0), Time::ZERO, None).unwrap();
        let mut refused = 0;
        let mut evicted = 0;
        for n in 0..50u32 {
            match s.put(
                Id::hash(&n.to_le_bytes()),
                signed(1, n),
                Time::from_millis(n.into()),
                None,
            ) {
                Ok(e) => evicted += e,
                Err(StoreError::StoreFull(10)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((refused, evicted), (41, 0), "9 stored, then refused");
        assert_eq!(s.records(&k), vec![signed(2, 0)]);
        // A newcomer from a small publisher evicts the flooder's oldest record.
        let k3 = Id::hash(b"k3");
        assert_eq!(s.put(k3, signed(3, 0), Time::from_millis(100), None), Ok(1));
        assert_eq!(s.held_from(&signed(1, 0).publisher), 8);
        assert_eq!(s.count(&Id::hash(&0u32.to_le_bytes())), 0, "oldest went");
        assert_eq!(s.len(), 10);
        assert_eq!(s.records(&k), vec![signed(2, 0)]);
    }

    #[test]
    fn a_full_key_evicts_from_the_publisher_holding_most_of_it() {
        let mut s = RecordStore::new(limits(4, 100));
        let k = Id::hash(b"k");
        for n in 0..3 {
            s.put(k, signed(1, n), Time::from_millis(n.into()), None)
                .unwrap();
        }
        s.put(k, signed(2, 0), Time::ZERO, None).unwrap();
        assert_eq!(
            s.put(k, signed(1, 9), Time::ZERO, None),
            Err(StoreError::KeyFull(4))
        );
        assert_eq!(s.put(k, signed(3, 0), Time::ZERO, None), Ok(1));
        let held = s.records(&k);
        assert_eq!(held.len(), 4);
        assert!(!held.contains(&signed(1, 0)), "the oldest of the biggest");
        assert!(held.contains(&signed(2, 0)) && held.contains(&signed(3, 0)));
    }

    #[test]
    fn expired_records_make_room_first() {
        let mut s = RecordStore::new(limits(100, 2));
        s.put(Id::hash(b"a"), signed(2, 0), Time::ZERO, None)
            .unwrap();
        s.put(
            Id::hash(b"b"),
            signed(3, 0),
            Time::from_millis(50_000),
            None,
        )
        .unwrap();
        let late = Time::from_millis(100_000);
        assert_eq!(s.put(Id::hash(b"c"), signed(3, 1), late, None), Ok(1));
        assert_eq!(s.count(&Id::hash(b"a")), 0, "the expired one went");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn per_key_and_overall_publisher_quotas() {
        let mut s = RecordStore::new(StoreLimits {
            max_per_publisher_per_key: 2,
            max_per_publisher: 3,
            ..limits(100, 100)
        });
        let (a, b) = (Id::hash(b"a"), Id::hash(b"b"));
        s.put(a, record(1), Time::ZERO, None).unwrap();
        s.put(a, record(2), Time::ZERO, None).unwrap();
        assert_eq!(
            s.put(a, record(3), Time::ZERO, None),
            Err(StoreError::PublisherKeyQuota(2))
        );
        s.put(a, signed(2, 3), Time::ZERO, None).unwrap();
        s.put(b, record(4), Time::ZERO, None).unwrap();
        assert_eq!(
            s.put(b, record(5), Time::ZERO, None),
            Err(StoreError::PublisherQuota(3))
        );
        s.put(a, record(1), Time::ZERO, None).unwrap(); // refresh
        assert_eq!((s.len(), s.held_from(&record(1).publisher)), (4, 3));
        assert_eq!(s.expire(Time::from_millis(100_000)), 4);
        assert!(s.per_key.is_empty() && s.publishers.is_empty() && s.ranking.is_empty());
    }

    #[test]
    fn prefix_quota_charges_sources_but_not_re_replication() {
        let mut s = RecordStore::new(StoreLimits {
            max_per_prefix: 2,
            ..limits(100, 100)
        });
        let k = Id::hash(b"k");
        s.put(k, signed(1, 0), Time::ZERO, Some(7)).unwrap();
        s.put(k, signed(2, 0), Time::ZERO, Some(7)).unwrap();
        assert_eq!(
            s.put(k, signed(3, 0), Time::ZERO, Some(7)),
            Err(StoreError::PrefixQuota(2))
        );
        s.put(k, signed(3, 0), Time::ZERO, Some(8)).unwrap();
        s.put(k, signed(4, 0), Time::ZERO, None).unwrap(); // re-replicated: not charged
        s.put(k, signed(1, 0), Time::ZERO, Some(7)).unwrap(); // refresh: nothing more
        assert_eq!((s.charged_to(7), s.charged_to(8), s.len()), (2, 1, 4));
        assert_eq!(
            s.held_from(&signed(4, 0).publisher),
            1,
            "still the publisher's"
        );
        assert_eq!(s.expire(Time::from_millis(100_000)), 4);
        assert!(s.prefixes.is_empty());
    }

    #[test]
    fn records_expire_after_ttl_unless_restored() {
        let mut s = RecordStore::new(limits(10, 10));
        let k = Id::hash(b"k");
        s.put(k, record(1), Time::ZERO, None).unwrap();
        s.put(k, record(2), Time::ZERO, None).unwrap();
        s.put(k, record(2), Time::from_millis(60_000), None)
            .unwrap();
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
            s.put(k, record(n), Time::ZERO, None).unwrap();
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
        s.put(k, record(1), Time::ZERO, None).unwrap();
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

    fn changes(s: &mut RecordStore) -> Vec<HeldChange> {
        std::iter::from_fn(|| s.poll_change()).collect()
    }

    #[test]
    fn the_journal_records_new_refreshed_and_removed_records() {
        let mut s = RecordStore::new(StoreLimits::with_capacity(100));
        assert!(s.poll_change().is_none(), "off until enabled");
        s.enable_journal();
        let (a, b) = (Id::hash(b"a"), Id::hash(b"b"));
        s.put(a, signed(1, 0), Time::ZERO, Some(7)).unwrap();
        let stored = changes(&mut s);
        assert_eq!(stored.len(), 1);
        assert!(matches!(&stored[0], HeldChange::Stored(h) if h.key == a && h.source == Some(7)));
        // Stored again within the interval: nothing; after it: one refresh.
        s.put(a, signed(1, 0), Time::ZERO + Duration::from_secs(60), None)
            .unwrap();
        assert!(changes(&mut s).is_empty());
        s.put(a, signed(1, 0), Time::ZERO + JOURNAL_REFRESH_INTERVAL, None)
            .unwrap();
        let rid = signed(1, 0).id();
        assert_eq!(
            changes(&mut s),
            vec![HeldChange::Refreshed {
                key: a,
                record: rid
            }]
        );
        // Expiry removes, and says so.
        s.put(b, signed(2, 1), Time::ZERO, None).unwrap();
        changes(&mut s);
        let late = Time::ZERO + RECORD_TTL + Duration::from_secs(1);
        assert_eq!(s.expire(late), 1);
        assert_eq!(
            changes(&mut s),
            vec![HeldChange::Removed {
                key: b,
                record: signed(2, 1).id()
            }]
        );
    }

    #[test]
    fn restored_records_keep_their_age_and_charges_and_expired_ones_stay_gone() {
        let mut before = RecordStore::new(StoreLimits::with_capacity(100));
        let k = Id::hash(b"k");
        before.put(k, signed(1, 0), Time::ZERO, Some(9)).unwrap();
        before
            .put(
                k,
                signed(2, 1),
                Time::ZERO + Duration::from_secs(3600),
                None,
            )
            .unwrap();
        let at = Time::ZERO + Duration::from_secs(7200);
        let held = before.held(at);
        assert_eq!(held.len(), 2);
        let mut after = RecordStore::new(StoreLimits::with_capacity(100));
        after.enable_journal();
        // Restarted later in another process, whose clock starts one TTL after its epoch (as
        // the UDP driver's does, so that restored ages fit).
        let restart = Time::ZERO + RECORD_TTL;
        for h in held.clone() {
            assert_eq!(after.restore(h, restart), Ok(Some(0)));
        }
        assert!(changes(&mut after).is_empty(), "restores are not journaled");
        assert_eq!(after.len(), 2);
        assert_eq!(after.charged_to(9), 1);
        let mut ages: Vec<Duration> = after.held(restart).iter().map(|h| h.age).collect();
        ages.sort();
        assert_eq!(
            ages,
            vec![Duration::from_secs(3600), Duration::from_secs(7200)]
        );
        let mut expired = held[0].clone();
        expired.age = RECORD_TTL;
        let mut fresh = RecordStore::new(StoreLimits::with_capacity(100));
        assert_eq!(fresh.restore(expired, restart), Ok(None));
        assert!(fresh.is_empty());
    }

    #[test]
    fn restores_are_bounded_by_the_quotas() {
        let mut s = RecordStore::new(StoreLimits::with_capacity(100_000));
        let k = Id::hash(b"k");
        let quota = s.limits().max_per_publisher_per_key;
        let mut refused = 0;
        for n in 0..(quota as u32 + 3) {
            let held = HeldRecord {
                key: k,
                record: signed(1, n),
                age: Duration::ZERO,
                source: None,
            };
            if s.restore(held, Time::ZERO).is_err() {
                refused += 1;
            }
        }
        assert_eq!(s.count(&k), quota);
        assert_eq!(refused, 3);
    }
}
