//! The journal's format: round trips, torn and damaged tails, versions, compaction.

use super::*;
use qis_core::{Identity, RecordKind};
use std::fs;

const NOW: u64 = 1_800_000_000;

/// Reads a whole file, to look at a journal's bytes.
fn read_all(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qis-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn held(n: u8) -> HeldRecord {
    let key = Identity::from_secret_key([n; 32]);
    let record = SignedRecord::sign(key.signing_key(), RecordKind::Raw, 5, vec![n; 40]).unwrap();
    HeldRecord {
        key: Id::hash(&[n]),
        record,
        age: Duration::ZERO,
        source: Some(u128::from(n)),
    }
}

fn removed(n: u8) -> HeldChange {
    let h = held(n);
    HeldChange::Removed {
        key: h.key,
        record: h.record.id(),
    }
}

fn keys(replayed: &Replayed) -> Vec<Id> {
    let mut keys: Vec<Id> = replayed.records.iter().map(|r| r.key).collect();
    keys.sort();
    keys
}

fn sorted(ns: &[u8]) -> Vec<Id> {
    let mut keys: Vec<Id> = ns.iter().map(|&n| held(n).key).collect();
    keys.sort();
    keys
}

#[test]
fn what_was_committed_comes_back_with_its_age() {
    let dir = scratch("round-trip");
    let (mut journal, replayed) = Journal::open(&dir, NOW).unwrap();
    assert!(replayed.records.is_empty());
    let stored: Vec<HeldChange> = (1..=3).map(|n| HeldChange::Stored(held(n))).collect();
    journal.commit(&stored, NOW - 7200).unwrap();
    let refreshed = HeldChange::Refreshed {
        key: held(2).key,
        record: held(2).record.id(),
    };
    journal
        .commit(&[refreshed, removed(3)], NOW - 3600)
        .unwrap();
    assert_eq!(journal.stats().commits, 2);
    assert_eq!(journal.stats().entries, 5);
    drop(journal);
    let (_, replayed) = Journal::open(&dir, NOW).unwrap();
    assert_eq!(replayed.entries, 5);
    assert_eq!(keys(&replayed), sorted(&[1, 2]));
    for r in &replayed.records {
        let expected = if r.key == held(1).key { 7200 } else { 3600 };
        assert_eq!(r.age, Duration::from_secs(expected));
        assert_eq!(
            r.record,
            held(if r.key == held(1).key { 1 } else { 2 }).record
        );
    }
    assert_eq!(replayed.torn_bytes, 0);
}

#[test]
fn a_journal_cut_anywhere_keeps_every_whole_entry_and_is_cut_back() {
    let dir = scratch("torn");
    let (mut journal, _) = Journal::open(&dir, NOW).unwrap();
    let path = journal.path().to_path_buf();
    let mut ends = vec![fs::metadata(&path).unwrap().len()];
    for n in 1..=4 {
        journal.commit(&[HeldChange::Stored(held(n))], NOW).unwrap();
        ends.push(fs::metadata(&path).unwrap().len());
    }
    drop(journal);
    let full = read_all(&path);
    // Every length from the bare header to the whole file: what a crash can leave.
    for len in ends[0]..=full.len() as u64 {
        fs::write(&path, &full[..len as usize]).unwrap();
        let whole = ends.iter().filter(|&&end| end <= len).count() - 1;
        let (_, replayed) = Journal::open(&dir, NOW).unwrap();
        let expected: Vec<u8> = (1..=whole as u8).collect();
        assert_eq!(keys(&replayed), sorted(&expected), "cut at {len}");
        assert_eq!(replayed.torn_bytes, len - ends[whole]);
        assert_eq!(fs::metadata(&path).unwrap().len(), ends[whole], "cut back");
    }
}

#[test]
fn a_damaged_entry_ends_the_replay_there() {
    let dir = scratch("flip");
    let (mut journal, _) = Journal::open(&dir, NOW).unwrap();
    journal.commit(&[HeldChange::Stored(held(1))], NOW).unwrap();
    let first_end = journal.stats().bytes as usize;
    journal.commit(&[HeldChange::Stored(held(2))], NOW).unwrap();
    let path = journal.path().to_path_buf();
    drop(journal);
    let mut bytes = read_all(&path);
    bytes[first_end + 20] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let (_, replayed) = Journal::open(&dir, NOW).unwrap();
    assert_eq!(keys(&replayed), sorted(&[1]));
    assert!(replayed.torn_bytes > 0);
}

#[test]
fn another_version_or_another_file_is_refused_and_left_alone() {
    let dir = scratch("version");
    let path = dir.join(JOURNAL_FILE);
    let mut newer = header();
    *newer.last_mut().unwrap() = JOURNAL_VERSION + 1;
    newer.extend_from_slice(b"entries of a later format");
    fs::write(&path, &newer).unwrap();
    let error = Journal::open(&dir, NOW).unwrap_err();
    assert!(matches!(error, JournalError::Version { found, .. } if found == JOURNAL_VERSION + 1));
    assert!(error.to_string().contains("version 2"), "{error}");
    assert_eq!(read_all(&path), newer, "untouched");
    fs::write(&path, b"something else entirely").unwrap();
    assert!(matches!(
        Journal::open(&dir, NOW).unwrap_err(),
        JournalError::NotAJournal { .. }
    ));
    assert_eq!(read_all(&path), b"something else entirely");
}

#[test]
fn compaction_keeps_exactly_the_held_records() {
    let dir = scratch("compact");
    let (mut journal, _) = Journal::open(&dir, NOW).unwrap();
    for round in 0..3 {
        let changes: Vec<HeldChange> = (1..=50)
            .flat_map(|n| [HeldChange::Stored(held(n)), removed(n)])
            .collect();
        journal.commit(&changes, NOW + round).unwrap();
    }
    journal.commit(&[HeldChange::Stored(held(7))], NOW).unwrap();
    let before = journal.stats().bytes;
    let mut kept = held(7);
    kept.age = Duration::from_secs(60);
    journal.compact(&[kept], NOW).unwrap();
    assert!(journal.stats().bytes < before / 50);
    assert_eq!(journal.stats().compactions, 1);
    journal.commit(&[HeldChange::Stored(held(8))], NOW).unwrap();
    drop(journal);
    let (_, replayed) = Journal::open(&dir, NOW).unwrap();
    assert_eq!(keys(&replayed), sorted(&[7, 8]));
    let seven = replayed
        .records
        .iter()
        .find(|r| r.key == held(7).key)
        .unwrap();
    assert_eq!(seven.age, Duration::from_secs(60));
}
