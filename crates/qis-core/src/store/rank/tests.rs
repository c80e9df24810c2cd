//! Ranking by reports, with a toy policy: a record whose payload is `R`, `+` or `-`, then 32
//! bytes is a report confirming (`+`) or contradicting (`-`) the record of that content id.

use super::super::{RecordStore, StoreError, StoreLimits};
use crate::id::Id;
use crate::record::{RecordError, RecordId, RecordKind, RecordPolicy, SignedRecord};
use crate::time::{Duration, Time};
use ed25519_dalek::SigningKey;
use std::sync::Arc;

#[derive(Debug)]
struct Votes;

impl RecordPolicy for Votes {
    fn check(&self, _key: &Id, record: &SignedRecord) -> Result<(), RecordError> {
        record.verify_signature()
    }

    fn subject_of(&self, record: &SignedRecord) -> Option<RecordId> {
        let p = &record.payload;
        (p.len() == 34 && p[0] == b'R').then(|| RecordId(p[2..].try_into().unwrap()))
    }

    fn supports(&self, report: &SignedRecord, _subject: &SignedRecord) -> Option<bool> {
        match report.payload[1] {
            b'+' => Some(true),
            b'-' => Some(false),
            _ => None,
        }
    }
}

fn value(publisher: u8, n: u8) -> SignedRecord {
    signed(publisher, 1, vec![b'V', n])
}

fn signed(publisher: u8, created: u64, payload: Vec<u8>) -> SignedRecord {
    let key = SigningKey::from_bytes(&[publisher; 32]);
    SignedRecord::sign(&key, RecordKind::Raw, created, payload).unwrap()
}

fn report(reporter: u8, created: u64, vote: u8, on: &SignedRecord) -> SignedRecord {
    let mut payload = vec![b'R', vote];
    payload.extend_from_slice(&on.content_id().0);
    signed(reporter, created, payload)
}

fn store(per_key: usize) -> RecordStore {
    let limits = StoreLimits {
        max_values_per_key: per_key,
        max_records: 1000,
        max_per_publisher_per_key: usize::MAX,
        max_per_publisher: usize::MAX,
        max_per_prefix: usize::MAX,
        ttl: Duration::from_secs(100),
    };
    RecordStore::with_policy(limits, Arc::new(Votes))
}

fn support(s: &RecordStore, key: &Id, record: &SignedRecord) -> i32 {
    s.best_first(key)
        .into_iter()
        .find(|(id, _)| **id == record.id())
        .map(|(_, stored)| stored.support)
        .unwrap()
}

#[test]
fn distinct_reporters_count_once_by_their_newest_report_and_self_reports_not_at_all() {
    let mut s = store(100);
    let k = Id::hash(b"k");
    let x = value(1, 0);
    s.put(k, x.clone(), Time::ZERO, None).unwrap();
    assert_eq!(support(&s, &k, &x), 0);
    for reporter in 2..5 {
        s.put(k, report(reporter, 1, b'+', &x), Time::ZERO, None)
            .unwrap();
    }
    assert_eq!(support(&s, &k, &x), 3, "three distinct reporters confirm");
    // Reporter 2 repeats itself: still one voice. Then it changes its mind: its newest counts.
    s.put(k, report(2, 2, b'+', &x), Time::ZERO, None).unwrap();
    assert_eq!(support(&s, &k, &x), 3);
    s.put(k, report(2, 3, b'-', &x), Time::ZERO, None).unwrap();
    assert_eq!(support(&s, &k, &x), 1, "two confirm, one contradicts");
    // The publisher vouching for itself changes nothing.
    s.put(k, report(1, 1, b'+', &x), Time::ZERO, None).unwrap();
    assert_eq!(support(&s, &k, &x), 1);
}

#[test]
fn reports_held_before_their_subject_count_once_it_arrives_and_stop_when_they_go() {
    let mut s = store(100);
    let k = Id::hash(b"k");
    let x = value(1, 0);
    let early = report(2, 1, b'+', &x);
    s.put(k, early.clone(), Time::ZERO, None).unwrap();
    s.put(k, x.clone(), Time::ZERO, None).unwrap();
    assert_eq!(support(&s, &k, &x), 1);
    // A report under another key says nothing about the value under this one.
    s.put(Id::hash(b"other"), report(3, 1, b'+', &x), Time::ZERO, None)
        .unwrap();
    assert_eq!(support(&s, &k, &x), 1);
    // The report expires before the value (it was stored earlier): support falls back.
    s.put(k, x.clone(), Time::from_millis(50_000), None)
        .unwrap();
    assert_eq!(s.expire(Time::from_millis(120_000)), 2);
    assert_eq!(support(&s, &k, &x), 0);
}

#[test]
fn the_best_supported_values_come_first_then_the_newest() {
    let mut s = store(100);
    let k = Id::hash(b"k");
    let old = signed(1, 10, vec![b'V', 0]);
    let new = signed(2, 20, vec![b'V', 1]);
    let confirmed = signed(3, 5, vec![b'V', 2]);
    let disputed = signed(4, 30, vec![b'V', 3]);
    for v in [&old, &new, &confirmed, &disputed] {
        s.put(k, v.clone(), Time::ZERO, None).unwrap();
    }
    s.put(k, report(9, 1, b'+', &confirmed), Time::ZERO, None)
        .unwrap();
    s.put(k, report(9, 1, b'-', &disputed), Time::ZERO, None)
        .unwrap();
    let order: Vec<RecordId> = s
        .best_first(&k)
        .into_iter()
        .filter(|(_, stored)| stored.subject.is_none())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        order,
        vec![confirmed.id(), new.id(), old.id(), disputed.id()]
    );
}

#[test]
fn a_full_key_evicts_the_biggest_publishers_least_supported_value() {
    let mut s = store(5);
    let k = Id::hash(b"k");
    // The squatter (publisher 1) holds three values; its oldest one is confirmed by two others.
    let squats: Vec<SignedRecord> = (0..3).map(|n| value(1, n)).collect();
    for (n, v) in squats.iter().enumerate() {
        s.put(k, v.clone(), Time::from_millis(n as u64), None)
            .unwrap();
    }
    s.put(k, report(2, 1, b'+', &squats[0]), Time::ZERO, None)
        .unwrap();
    s.put(k, report(3, 1, b'+', &squats[0]), Time::ZERO, None)
        .unwrap();
    // Full (5 values). A newcomer from publisher 4 evicts the squatter's least supported,
    // least recently stored value, not its oldest (which others confirmed).
    assert_eq!(s.put(k, value(4, 0), Time::ZERO, None), Ok(1));
    let held = s.records(&k);
    assert!(held.contains(&squats[0]), "the confirmed value stays");
    assert!(!held.contains(&squats[1]), "the unsupported oldest goes");
    assert!(held.contains(&squats[2]) && held.contains(&value(4, 0)));
    // The squatter itself cannot push anyone else out.
    assert_eq!(
        s.put(k, value(1, 9), Time::ZERO, None),
        Err(StoreError::KeyFull(5))
    );
}

#[test]
fn a_store_without_a_policy_ranks_by_signing_time_alone() {
    let mut s = RecordStore::new(StoreLimits::default());
    let k = Id::hash(b"k");
    let x = signed(1, 10, vec![b'V', 0]);
    let newer = signed(2, 20, vec![b'V', 1]);
    s.put(k, x.clone(), Time::ZERO, None).unwrap();
    s.put(k, newer.clone(), Time::ZERO, None).unwrap();
    s.put(k, report(3, 1, b'+', &x), Time::ZERO, None).unwrap();
    let order: Vec<RecordId> = s.best_first(&k).into_iter().map(|(id, _)| *id).collect();
    assert_eq!(order[0], newer.id());
    assert_eq!(support(&s, &k, &x), 0);
}
