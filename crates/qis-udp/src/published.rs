//! Records this user published, kept on disk so that a node republishes them across restarts
//! (a `kill -9` included): each record is one file in `<data dir>/published/`, written to a
//! temporary name, synced, then renamed into place, so a file is either whole or absent.
//!
//! # Format
//!
//! `qis-pub` and one ASCII digit, the format version ([`PUBLISHED_FORMAT_VERSION`]: the file
//! starts `qis-pub1`), then the postcard encoding of a [`PublishedEntry`]. A file of another
//! version, or one that is not a published record at all, is skipped with the reason; a newer
//! qis that wrote it can still read it.
//!
//! # One file per content
//!
//! A file is named by the record's [content id](SignedRecord::content_id) (`<id>.rec`), so the
//! same statement published again is the same file, and the folder lists each thing this
//! publisher republishes once. Files of an earlier qis were named by record id, so two of them
//! may hold one content signed at two times: [`PublishedDir::list`] keeps the newest as the
//! entry and reports the others with it, and [`PublishedDir::withdraw`] removes them all.

use crate::durable::{DurableError, remove_stale_temporaries, write_atomically};
use qis_core::Id;
use qis_core::{RecordId, SignedRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Name of the folder inside a data directory.
pub const PUBLISHED_DIR: &str = "published";

/// The format version this build writes and reads: the digit after `qis-pub`.
pub const PUBLISHED_FORMAT_VERSION: u8 = 1;

/// How every published-record file starts, whatever its version, so a stray file is never
/// mistaken for a record.
const MAGIC_PREFIX: &[u8; 7] = b"qis-pub";

/// The whole magic of this version: `qis-pub1`.
const MAGIC: [u8; 8] = magic();

// The version is one ASCII digit.
const _: () = assert!(PUBLISHED_FORMAT_VERSION <= 9);

const fn magic() -> [u8; 8] {
    let mut magic = [0u8; 8];
    let mut i = 0;
    while i < MAGIC_PREFIX.len() {
        magic[i] = MAGIC_PREFIX[i];
        i += 1;
    }
    magic[7] = b'0' + PUBLISHED_FORMAT_VERSION;
    magic
}

/// A published record and the keys it is stored under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedEntry {
    /// The DHT keys.
    pub keys: Vec<Id>,
    /// The signed record.
    pub record: SignedRecord,
}

impl PublishedEntry {
    /// The content id its file is named by (see [`SignedRecord::content_id`]).
    pub fn content_id(&self) -> RecordId {
        self.record.content_id()
    }
}

/// One published content as found in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// The entry (of the newest signing, when several files hold the content).
    pub entry: PublishedEntry,
    /// Its file.
    pub path: PathBuf,
    /// When the file was last written (first published, or published again since).
    pub saved: Option<SystemTime>,
    /// Files of older signings of the same content (left by an earlier qis, which named files
    /// by record id): not republished, removed by [`PublishedDir::withdraw`].
    pub superseded: Vec<PathBuf>,
}

/// Errors reading or writing published records.
#[derive(Debug, thiserror::Error)]
pub enum PublishedError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A crash-safe write failed (a full disk included); nothing was changed.
    #[error(transparent)]
    Write(#[from] DurableError),
    /// Nothing in the folder has this id.
    #[error("{dir}: no published record has id {id}")]
    NotFound {
        /// The published folder.
        dir: PathBuf,
        /// The id asked for.
        id: RecordId,
    },
}

/// Why a file in the published folder is not a record this build can republish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unreadable {
    /// It does not start with [`MAGIC_PREFIX`].
    #[error("not a qis published record (the file does not start with \"qis-pub\")")]
    NotPublished,
    /// Another format version.
    #[error(
        "published-record format version {0} is not one this qis reads (it reads version {PUBLISHED_FORMAT_VERSION}); a newer qis wrote it"
    )]
    Version(String),
    /// The right version, but the entry does not decode.
    #[error("a version-{PUBLISHED_FORMAT_VERSION} published record that does not decode: {0}")]
    Corrupt(String),
    /// The record's signature does not verify.
    #[error("the record's signature does not verify: {0}")]
    BadSignature(qis_core::RecordError),
}

/// The folder of published records.
#[derive(Debug, Clone)]
pub struct PublishedDir {
    dir: PathBuf,
}

impl PublishedDir {
    /// The `published/` folder of a data directory.
    pub fn in_data_dir(data_dir: &Path) -> PublishedDir {
        PublishedDir {
            dir: data_dir.join(PUBLISHED_DIR),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file_for(&self, id: &RecordId) -> PathBuf {
        self.dir.join(format!("{id}.rec"))
    }

    /// Saves an entry durably (idempotent: the file name is the content id), crash-safe
    /// ([`write_atomically`]): a file is either whole or absent, and a full disk changes
    /// nothing.
    pub fn save(&self, entry: &PublishedEntry) -> Result<PathBuf, PublishedError> {
        fs::create_dir_all(&self.dir).map_err(|source| PublishedError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.file_for(&entry.content_id());
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(
            &postcard::to_stdvec(entry).expect("an entry of ids and a record encodes into a Vec"),
        );
        write_atomically(&path, &bytes, 0o644)?;
        Ok(path)
    }

    /// Removes the temporary files a killed writer left in the folder (see
    /// [`remove_stale_temporaries`]); returns how many. Call it only while holding the data
    /// directory's lock.
    pub fn remove_stale_temporaries(&self) -> Result<usize, PublishedError> {
        Ok(remove_stale_temporaries(&self.dir)?)
    }

    /// Every readable entry, one per content (the newest signing), in content-id order, and
    /// the files that could not be read (with why) so the caller can log them. A missing
    /// folder is simply empty.
    pub fn load_all(&self) -> (Vec<PublishedEntry>, Vec<(PathBuf, String)>) {
        let (files, bad) = self.list();
        (files.into_iter().map(|f| f.entry).collect(), bad)
    }

    /// Every readable content with its file(s), in content-id order, and the unreadable
    /// files with why.
    pub fn list(&self) -> (Vec<PublishedFile>, Vec<(PathBuf, String)>) {
        let mut by_content: BTreeMap<RecordId, PublishedFile> = BTreeMap::new();
        let mut bad = Vec::new();
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return (Vec::new(), bad);
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rec"))
            .collect();
        paths.sort();
        for path in paths {
            let entry = match fs::read(&path) {
                Ok(bytes) => match decode(&bytes) {
                    Ok(entry) => entry,
                    Err(why) => {
                        bad.push((path, why.to_string()));
                        continue;
                    }
                },
                Err(e) => {
                    bad.push((path, e.to_string()));
                    continue;
                }
            };
            let saved = fs::metadata(&path).and_then(|m| m.modified()).ok();
            let file = PublishedFile {
                entry,
                path,
                saved,
                superseded: Vec::new(),
            };
            match by_content.entry(file.entry.content_id()) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(file);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let held = slot.get_mut();
                    if file.entry.record.created > held.entry.record.created {
                        let older = std::mem::replace(held, file);
                        held.superseded.push(older.path);
                        held.superseded.extend(older.superseded);
                    } else {
                        held.superseded.push(file.path);
                    }
                }
            }
        }
        (by_content.into_values().collect(), bad)
    }

    /// Removes the content `id` (every file holding it), so no node republishes it after its
    /// next scan of the folder; returns the entry removed. An id nothing has is
    /// [`PublishedError::NotFound`].
    pub fn withdraw(&self, id: &RecordId) -> Result<PublishedFile, PublishedError> {
        let (files, _) = self.list();
        let file = files
            .into_iter()
            .find(|f| f.entry.content_id() == *id)
            .ok_or_else(|| PublishedError::NotFound {
                dir: self.dir.clone(),
                id: *id,
            })?;
        for path in std::iter::once(&file.path).chain(&file.superseded) {
            fs::remove_file(path).map_err(|source| PublishedError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(file)
    }
}

/// Reads a file's bytes by their version.
fn decode(bytes: &[u8]) -> Result<PublishedEntry, Unreadable> {
    let rest = bytes
        .strip_prefix(MAGIC_PREFIX)
        .ok_or(Unreadable::NotPublished)?;
    let (&version, body) = rest
        .split_first()
        .ok_or_else(|| Unreadable::Version("(none: the file ends after \"qis-pub\")".into()))?;
    if version != MAGIC[7] {
        let shown = if version.is_ascii_graphic() {
            format!("{:?}", char::from(version))
        } else {
            format!("byte {version:#04x}")
        };
        return Err(Unreadable::Version(shown));
    }
    let entry: PublishedEntry =
        postcard::from_bytes(body).map_err(|e| Unreadable::Corrupt(e.to_string()))?;
    entry
        .record
        .verify_signature()
        .map_err(Unreadable::BadSignature)?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qis_core::Identity;
    use qis_core::RecordKind;

    #[test]
    fn saved_entries_load_back_and_junk_is_reported() {
        let dir = std::env::temp_dir().join(format!("qis-published-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let published = PublishedDir::in_data_dir(&dir);
        assert!(published.load_all().0.is_empty());
        let key = Identity::from_secret_key([1; 32]);
        let record =
            SignedRecord::sign(key.signing_key(), RecordKind::Raw, 5, b"x".to_vec()).unwrap();
        let entry = PublishedEntry {
            keys: vec![Id::hash(b"a"), Id::hash(b"b")],
            record,
        };
        published.save(&entry).unwrap();
        published.save(&entry).unwrap();
        fs::write(published.path().join("junk.rec"), b"nope").unwrap();
        fs::write(published.path().join("half.tmp"), b"partial").unwrap();
        let (entries, bad) = published.load_all();
        assert_eq!(entries, vec![entry]);
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].1.starts_with("not a qis published record"),
            "{bad:?}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    fn entry() -> PublishedEntry {
        let key = Identity::from_secret_key([2; 32]);
        PublishedEntry {
            keys: vec![Id::hash(b"k")],
            record: SignedRecord::sign(key.signing_key(), RecordKind::Raw, 7, b"v".to_vec())
                .unwrap(),
        }
    }

    #[test]
    fn one_content_is_one_entry_and_withdrawing_removes_every_copy() {
        let dir = std::env::temp_dir().join(format!("qis-published-one-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let published = PublishedDir::in_data_dir(&dir);
        let key = Identity::from_secret_key([3; 32]);
        let at = |created| PublishedEntry {
            keys: vec![Id::hash(b"k")],
            record: SignedRecord::sign(key.signing_key(), RecordKind::Raw, created, b"v".into())
                .unwrap(),
        };
        let (first, later) = (at(5), at(9));
        let path = published.save(&first).unwrap();
        assert_eq!(
            published.save(&later).unwrap(),
            path,
            "one file per content"
        );
        assert_eq!(published.load_all().0, vec![later.clone()]);
        // A file an earlier qis named by record id, holding an older signing.
        let legacy = published.path().join(format!("{}.rec", first.record.id()));
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&postcard::to_stdvec(&first).unwrap());
        fs::write(&legacy, bytes).unwrap();
        let (files, bad) = published.list();
        assert!(bad.is_empty());
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].entry, later);
        assert_eq!(files[0].superseded, vec![legacy.clone()]);
        let unknown = RecordId([7; 32]);
        assert!(matches!(
            published.withdraw(&unknown),
            Err(PublishedError::NotFound { id, .. }) if id == unknown
        ));
        let removed = published.withdraw(&later.content_id()).unwrap();
        assert_eq!(removed.entry, later);
        assert!(!path.exists() && !legacy.exists());
        assert!(published.load_all().0.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn version_1_files_start_with_the_magic_and_round_trip() {
        let dir = std::env::temp_dir().join(format!("qis-published-v1-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let published = PublishedDir::in_data_dir(&dir);
        let path = published.save(&entry()).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"qis-pub1"));
        assert_eq!(MAGIC, *b"qis-pub1");
        assert_eq!(decode(&bytes), Ok(entry()));
        assert_eq!(published.load_all(), (vec![entry()], vec![]));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn other_versions_and_broken_files_are_refused_with_the_reason() {
        let mut good = MAGIC.to_vec();
        good.extend_from_slice(&postcard::to_stdvec(&entry()).unwrap());
        let mut v2 = good.clone();
        v2[7] = b'2';
        assert_eq!(decode(&v2), Err(Unreadable::Version("'2'".into())));
        assert_eq!(
            Unreadable::Version("'2'".into()).to_string(),
            "published-record format version '2' is not one this qis reads (it reads version 1); a newer qis wrote it"
        );
        let mut binary = good.clone();
        binary[7] = 0;
        assert_eq!(
            decode(&binary),
            Err(Unreadable::Version("byte 0x00".into()))
        );
        assert!(matches!(decode(b"qis-pub"), Err(Unreadable::Version(_))));
        assert_eq!(decode(b"qis-pu"), Err(Unreadable::NotPublished));
        assert_eq!(decode(b""), Err(Unreadable::NotPublished));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(Unreadable::Corrupt(_))
        ));
        let mut forged = entry();
        forged.record.payload[0] ^= 1;
        let mut forged_bytes = MAGIC.to_vec();
        forged_bytes.extend_from_slice(&postcard::to_stdvec(&forged).unwrap());
        assert!(matches!(
            decode(&forged_bytes),
            Err(Unreadable::BadSignature(_))
        ));
    }
}
