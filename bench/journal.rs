//! What keeping held records across restarts costs (`cargo bench --bench journal`, ~20 s).
//!
//! A `qis node` writes every change to the records it holds for others to its journal
//! (`held.log`) and syncs it before it sends what that input produced, so a store is
//! acknowledged only once durable; a batch of datagrams shares one sync (group commit).
//! Measured on the disk holding `QIS_JOURNAL_DIR` (default `target/bench-journal`):
//! - a commit of one new record (~300 B entry) with its `fdatasync`, against the peer that
//!   acknowledges before it is durable (the same write, no sync), median and p90;
//! - group commits of 8 and 64 records: time per record;
//! - the restart: reading back 10,000 records and checking each again (signature, size,
//!   policy), per record;
//! - bytes on disk per record.
//!
//! Prints a table and one JSON line (starting `{"bench":"journal"`).

#[path = "harness.rs"]
mod harness;

use harness::{Measured, human, measure, versus};
use qis_core::{
    Config, Credentials, HeldChange, HeldRecord, Id, Identity, Node, NodeSecret, RecordKind,
    SignedRecord, SimAddr, Time,
};
use qis_udp::{JOURNAL_FILE, Journal};
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const NOW_UNIX: u64 = 1_800_000_000;

/// Records read back at the restart measurement.
const RESTORED: usize = 10_000;

fn scratch() -> PathBuf {
    let base = std::env::var_os("QIS_JOURNAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-journal"));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).expect("create the bench directory");
    base
}

/// A record like an outcome packet's (about 250 payload bytes), under its own key.
fn stored(n: u64, publisher: &Identity) -> HeldChange {
    let record = SignedRecord::sign(
        publisher.signing_key(),
        RecordKind::Raw,
        NOW_UNIX - 60,
        vec![(n % 251) as u8; 250],
    )
    .expect("fits");
    HeldChange::Stored(HeldRecord {
        key: Id::hash(&n.to_le_bytes()),
        record,
        age: Duration::ZERO,
        source: Some(u128::from(n % 97)),
    })
}

/// One commit of `batch` new records per call, with its sync.
fn group_commit(batch: usize, samples: usize, publisher: &Identity) -> Measured {
    let dir = scratch().join(format!("batch-{batch}"));
    fs::create_dir_all(&dir).unwrap();
    let (mut journal, _) = Journal::open(&dir, NOW_UNIX).unwrap();
    // Signed beforehand: only the journal is timed (one warm-up call, then the samples).
    let mut batches: Vec<Vec<HeldChange>> = (0..=samples as u64)
        .map(|b| {
            (0..batch as u64)
                .map(|i| stored(b * batch as u64 + i, publisher))
                .collect()
        })
        .collect();
    let mut per_commit = measure(
        &format!("commit {batch} record(s) + fdatasync"),
        samples,
        1,
        || {
            let changes = batches.pop().unwrap_or_default();
            journal.commit(&changes, NOW_UNIX).unwrap();
        },
    );
    per_commit.median_ns /= batch as f64;
    per_commit.p90_ns /= batch as f64;
    per_commit.name = format!("  per record, batches of {batch}");
    println!(
        "{:<44} median {:>12} p90 {:>12}",
        per_commit.name,
        human(per_commit.median_ns),
        human(per_commit.p90_ns)
    );
    per_commit
}

/// The peer: the same bytes appended without a sync (acknowledged before durable).
fn unsynced_append(samples: usize, entry_bytes: usize) -> Measured {
    let path = scratch().join("unsynced.log");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let bytes = vec![0x5a; entry_bytes];
    measure("peer: the same append, no sync", samples, 1, || {
        file.write_all(&bytes).unwrap();
    })
}

fn node() -> Node<SimAddr> {
    let mut node = Node::new(
        Config::default(),
        NodeSecret::from_bytes([3; 32]),
        Credentials::modelled(Identity::from_secret_key([3; 32]).public_key()),
        Time::ZERO + Duration::from_secs(30 * 3600),
    );
    node.set_unix_time(Time::ZERO + Duration::from_secs(30 * 3600), NOW_UNIX);
    node
}

fn main() {
    let publisher = Identity::from_secret_key([9; 32]);
    println!("journal of held records, on {}", scratch().display());
    let single = group_commit(1, 200, &publisher);
    let eight = group_commit(8, 100, &publisher);
    let sixty_four = group_commit(64, 50, &publisher);
    let entry_bytes = {
        let dir = scratch().join("size");
        fs::create_dir_all(&dir).unwrap();
        let (mut journal, _) = Journal::open(&dir, NOW_UNIX).unwrap();
        let before = journal.stats().bytes;
        journal.commit(&[stored(1, &publisher)], NOW_UNIX).unwrap();
        (journal.stats().bytes - before) as usize
    };
    let peer = unsynced_append(200, entry_bytes);
    let ratio = versus(&single, &peer);

    // The restart: write RESTORED records, then read them back and restore them into a node.
    let dir = scratch().join("restore");
    fs::create_dir_all(&dir).unwrap();
    let (mut journal, _) = Journal::open(&dir, NOW_UNIX).unwrap();
    let changes: Vec<HeldChange> = (0..RESTORED as u64)
        .map(|n| stored(n, &Identity::from_secret_key([(n % 200) as u8; 32])))
        .collect();
    for chunk in changes.chunks(512) {
        journal.commit(chunk, NOW_UNIX).unwrap();
    }
    drop(journal);
    let file_bytes = fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len();
    let started = Instant::now();
    let (mut journal, replayed) = Journal::open(&dir, NOW_UNIX + 60).unwrap();
    let read = started.elapsed();
    let mut restarted = node();
    let now = Time::ZERO + Duration::from_secs(30 * 3600);
    let (report, rewritten) =
        journal.restore_into(&mut restarted, replayed.records, now, NOW_UNIX + 60);
    rewritten.unwrap();
    let total = started.elapsed();
    assert_eq!(report.restored, RESTORED, "{report:?}");
    let per_record_ns = total.as_nanos() as f64 / RESTORED as f64;
    println!(
        "restart: {RESTORED} records read in {}, restored (checked again) and rewritten in {} total: {} per record",
        human(read.as_nanos() as f64),
        human(total.as_nanos() as f64),
        human(per_record_ns)
    );
    println!(
        "disk: {entry_bytes} B per journal entry, {} B per record held",
        file_bytes / RESTORED as u64
    );
    println!(
        "{{\"bench\":\"journal\",\"commit_1_median_ns\":{:.0},\"commit_1_p90_ns\":{:.0},\"per_record_batch_8_ns\":{:.0},\"per_record_batch_64_ns\":{:.0},\"unsynced_peer_ns\":{:.0},\"ratio_vs_unsynced\":{ratio:.2},\"restore_per_record_ns\":{per_record_ns:.0},\"entry_bytes\":{entry_bytes}}}",
        single.median_ns, single.p90_ns, eight.median_ns, sixty_four.median_ns, peer.median_ns
    );
    let _ = fs::remove_dir_all(scratch());
}
