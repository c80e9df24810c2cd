//! The journal of records a node holds for others, so that a restart (a crash, `kill -9`, an
//! upgrade) does not empty the node's share of the network until republish or replication.
//!
//! One append-only file, `<data dir>/held.log`: a header (magic and [`JOURNAL_VERSION`]), then
//! entries, each `length (u32 LE) · postcard body · first 8 bytes of its blake3 hash`. An entry
//! says a record is newly held (the whole record, its wall-clock store time and charged
//! prefix), was stored again (its new store time) or was dropped. The driver appends what one
//! batch of input changed and syncs it **before** it sends the datagrams that batch produced,
//! so a store is acknowledged only once it is durable (group commit: one `fdatasync` per batch,
//! however many stores it held). Reading stops at the first entry that is cut short or fails
//! its checksum (a write torn by a crash or a power cut) and the file is cut back there; every
//! entry synced before is kept. When the file has grown past twice its last compacted size
//! (and [`COMPACT_AFTER_BYTES`]), it is rewritten from the node's held records through
//! [`write_atomically`], so it is always either the old file or the whole new one.
//!
//! What is read back is checked again by the core ([`qis_core::Node::restore_held`]) as any
//! store would be: a journal is no more trusted than a datagram.

mod storage;
mod write_down;

pub use storage::{DiskFile, JournalFile};
pub use write_down::Commit;

use super::durable::DurableError;
use qis_core::{HeldChange, HeldRecord, Id, RecordId, SignedRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the journal inside a data directory.
pub const JOURNAL_FILE: &str = "held.log";

/// Version of the journal's format, after the magic. A journal of another version is refused
/// with a reason (never misread, never overwritten).
pub const JOURNAL_VERSION: u8 = 1;

/// The journal is compacted once it is larger than this and than twice its last compacted
/// size.
pub const COMPACT_AFTER_BYTES: u64 = 1 << 20;

/// The first bytes of a journal: what it is, then its version byte.
const MAGIC: &[u8; 12] = b"qis-held-log";

/// Bytes of an entry's checksum.
const CHECKSUM_BYTES: usize = 8;

/// Largest entry body read back (a record of at most `MAX_RECORD` bytes and its bookkeeping);
/// a larger length is damage.
const MAX_ENTRY_BYTES: usize = 2048;

/// Errors opening or writing the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file is not a journal (it does not start with the magic).
    #[error("{}: not a qis journal of held records (left as it is; move it away to start afresh)", path.display())]
    NotAJournal {
        /// The file.
        path: PathBuf,
    },
    /// The journal was written by another version of qis.
    #[error("{}: journal format version {found}, this qis reads version {JOURNAL_VERSION} (left as it is: run the qis that wrote it, or move it away to start afresh)", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it holds.
        found: u8,
    },
    /// Writing failed (the disk is full, or another file-system error).
    #[error(transparent)]
    Write(#[from] DurableError),
}

/// What one journal entry says.
#[derive(Debug, Serialize, Deserialize)]
enum Entry {
    /// A record newly held.
    Stored {
        key: [u8; 32],
        /// The record's encoding ([`SignedRecord::encode`]).
        record: Vec<u8>,
        /// When it was stored, seconds since the Unix epoch.
        stored_unix: u64,
        source: Option<u128>,
    },
    /// A held record stored again.
    Refreshed {
        key: [u8; 32],
        record: [u8; 32],
        stored_unix: u64,
    },
    /// A record dropped.
    Removed { key: [u8; 32], record: [u8; 32] },
}

/// What [`Journal::open`] read back.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The records the journal says are held, with their ages now.
    pub records: Vec<HeldRecord>,
    /// Entries read.
    pub entries: usize,
    /// Bytes after the last whole entry (a torn write), cut off.
    pub torn_bytes: u64,
    /// Entries whose record did not decode (skipped).
    pub undecodable: usize,
}

/// Counters of a journal, for the status line and the metrics endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JournalStats {
    /// Entries appended since start.
    pub entries: u64,
    /// Group commits (one write and one sync each).
    pub commits: u64,
    /// Compactions.
    pub compactions: u64,
    /// Commits that failed (the batch's datagrams were not sent, see the driver).
    pub failures: u64,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// An open journal, appended to by the node's driver.
#[derive(Debug)]
pub struct Journal {
    file: Box<dyn JournalFile>,
    /// Size of the file as last synced (a failed append is cut back to it).
    len: u64,
    /// Size right after the last compaction (or the open).
    compacted_len: u64,
    stats: JournalStats,
}

impl Journal {
    /// Opens (or creates) the journal in `data_dir` and reads back what it holds, with ages
    /// as of `now_unix` (seconds since the Unix epoch). A torn tail is cut off.
    pub fn open(data_dir: &Path, now_unix: u64) -> Result<(Journal, Replayed), JournalError> {
        Journal::open_on(
            Box::new(DiskFile::new(data_dir.join(JOURNAL_FILE))),
            now_unix,
        )
    }

    /// [`Journal::open`] on any [`JournalFile`] (a test's fault-injecting one).
    pub fn open_on(
        mut file: Box<dyn JournalFile>,
        now_unix: u64,
    ) -> Result<(Journal, Replayed), JournalError> {
        let bytes = file.read_all().map_err(|e| io_error(file.path(), e))?;
        // A missing or empty file (never one of ours: we create it whole) starts a new one.
        if bytes.is_empty() {
            file.replace(&header())?;
            return Ok((
                Journal::new(file, header().len() as u64),
                Replayed::default(),
            ));
        }
        check_header(file.path(), &bytes)?;
        let (replayed, good_len) = replay(&bytes, now_unix);
        if good_len < bytes.len() as u64 {
            file.truncate(good_len)
                .map_err(|e| io_error(file.path(), e))?;
        }
        Ok((Journal::new(file, good_len), replayed))
    }

    fn new(file: Box<dyn JournalFile>, len: u64) -> Journal {
        Journal {
            file,
            len,
            compacted_len: len,
            stats: JournalStats {
                bytes: len,
                ..JournalStats::default()
            },
        }
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Its counters.
    pub fn stats(&self) -> JournalStats {
        self.stats
    }

    /// Appends `changes` (made at `now_unix`) and syncs them: one group commit. On failure
    /// the file is cut back to what it was, so no half entry is left before later ones.
    pub fn commit(&mut self, changes: &[HeldChange], now_unix: u64) -> Result<(), JournalError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(changes.len() * 600);
        for change in changes {
            push_entry(&mut bytes, &entry_of(change, now_unix));
        }
        let written = self.file.append(&bytes).and_then(|()| self.file.sync());
        if let Err(error) = written {
            self.stats.failures += 1;
            // Best effort: a failed cut leaves a torn entry, which the next open cuts off.
            let _ = self.file.truncate(self.len);
            return Err(io_error(self.file.path(), error));
        }
        self.len += bytes.len() as u64;
        self.stats.entries += changes.len() as u64;
        self.stats.commits += 1;
        self.stats.bytes = self.len;
        Ok(())
    }

    /// True when the journal has grown enough to be rewritten from the held records.
    pub fn wants_compaction(&self) -> bool {
        self.len > COMPACT_AFTER_BYTES && self.len > 2 * self.compacted_len
    }

    /// Rewrites the journal as exactly `held` (the node's records now, at `now_unix`),
    /// atomically: a crash leaves the old journal or the new one.
    pub fn compact(&mut self, held: &[HeldRecord], now_unix: u64) -> Result<(), JournalError> {
        let mut bytes = header();
        for record in held {
            let stored_unix = now_unix.saturating_sub(record.age.as_secs());
            push_entry(&mut bytes, &stored_entry(record, stored_unix));
        }
        self.file.replace(&bytes)?;
        self.len = bytes.len() as u64;
        self.compacted_len = self.len;
        self.stats.compactions += 1;
        self.stats.bytes = self.len;
        Ok(())
    }
}

fn io_error(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Write(DurableError::new(path, source))
}

fn header() -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.push(JOURNAL_VERSION);
    bytes
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    if bytes.len() <= MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
        });
    }
    match bytes[MAGIC.len()] {
        JOURNAL_VERSION => Ok(()),
        found => Err(JournalError::Version {
            path: path.to_path_buf(),
            found,
        }),
    }
}

fn entry_of(change: &HeldChange, now_unix: u64) -> Entry {
    match change {
        HeldChange::Stored(record) => stored_entry(record, now_unix),
        HeldChange::Refreshed { key, record } => Entry::Refreshed {
            key: *key.as_bytes(),
            record: record.0,
            stored_unix: now_unix,
        },
        HeldChange::Removed { key, record } => Entry::Removed {
            key: *key.as_bytes(),
            record: record.0,
        },
    }
}

fn stored_entry(record: &HeldRecord, stored_unix: u64) -> Entry {
    Entry::Stored {
        key: *record.key.as_bytes(),
        record: record.record.encode(),
        stored_unix,
        source: record.source,
    }
}

fn push_entry(bytes: &mut Vec<u8>, entry: &Entry) {
    // An entry is a few plain fields: encoding into a Vec cannot fail.
    let body = postcard::to_stdvec(entry).expect("postcard encodes a journal entry into a Vec");
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&blake3::hash(&body).as_bytes()[..CHECKSUM_BYTES]);
}

/// One held record as the replay tracks it.
struct Replaying {
    record: SignedRecord,
    stored_unix: u64,
    source: Option<u128>,
}

/// Reads every whole entry after the header; returns the records held at the end, with ages
/// as of `now_unix`, and the length of the good prefix of `bytes`.
fn replay(bytes: &[u8], now_unix: u64) -> (Replayed, u64) {
    let mut held: BTreeMap<(Id, RecordId), Replaying> = BTreeMap::new();
    let mut replayed = Replayed::default();
    let mut at = MAGIC.len() + 1;
    while let Some((entry, next)) = next_entry(bytes, at) {
        at = next;
        replayed.entries += 1;
        apply(&mut held, &mut replayed, entry);
    }
    replayed.torn_bytes = (bytes.len() - at) as u64;
    replayed.records = held
        .into_iter()
        .map(|((key, _), r)| HeldRecord {
            key,
            record: r.record,
            age: Duration::from_secs(now_unix.saturating_sub(r.stored_unix)),
            source: r.source,
        })
        .collect();
    (replayed, at as u64)
}

/// The entry at `at` and where the next one starts, if a whole, intact entry is there.
fn next_entry(bytes: &[u8], at: usize) -> Option<(Entry, usize)> {
    let rest = bytes.get(at..)?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if len > MAX_ENTRY_BYTES {
        return None;
    }
    let body = rest.get(4..4 + len)?;
    let checksum = rest.get(4 + len..4 + len + CHECKSUM_BYTES)?;
    if &blake3::hash(body).as_bytes()[..CHECKSUM_BYTES] != checksum {
        return None;
    }
    let entry = postcard::from_bytes(body).ok()?;
    Some((entry, at + 4 + len + CHECKSUM_BYTES))
}

fn apply(held: &mut BTreeMap<(Id, RecordId), Replaying>, replayed: &mut Replayed, entry: Entry) {
    match entry {
        Entry::Stored {
            key,
            record,
            stored_unix,
            source,
        } => match SignedRecord::decode(&record) {
            Ok(record) => {
                let slot = (Id::from_bytes(key), record.id());
                held.insert(
                    slot,
                    Replaying {
                        record,
                        stored_unix,
                        source,
                    },
                );
            }
            Err(_) => replayed.undecodable += 1,
        },
        Entry::Refreshed {
            key,
            record,
            stored_unix,
        } => {
            if let Some(r) = held.get_mut(&(Id::from_bytes(key), RecordId(record))) {
                r.stored_unix = r.stored_unix.max(stored_unix);
            }
        }
        Entry::Removed { key, record } => {
            held.remove(&(Id::from_bytes(key), RecordId(record)));
        }
    }
}

#[cfg(test)]
mod tests;
