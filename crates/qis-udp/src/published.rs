//! Records this user published, kept on disk so that a node republishes them across restarts
//! (a `kill -9` included): each record is one file in `<data dir>/published/`, written to a
//! temporary name, synced, then renamed into place, so a file is either whole or absent.

use qis_core::Id;
use qis_core::{RecordId, SignedRecord};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the folder inside a data directory.
pub const PUBLISHED_DIR: &str = "published";

/// File magic, so a stray file is never mistaken for a record.
const MAGIC: &[u8; 8] = b"qis-pub1";

/// A published record and the keys it is stored under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedEntry {
    /// The DHT keys.
    pub keys: Vec<Id>,
    /// The signed record.
    pub record: SignedRecord,
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

    /// Saves an entry durably (idempotent: the file name is the record id).
    pub fn save(&self, entry: &PublishedEntry) -> Result<PathBuf, PublishedError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PublishedError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.file_for(&entry.record.id());
        let tmp = path.with_extension("tmp");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&postcard::to_stdvec(entry).unwrap_or_default());
        let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // Make the rename itself durable.
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(path)
    }

    /// Every readable entry, in file-name order, and the files that could not be read (with
    /// why) so the caller can log them. A missing folder is simply empty.
    pub fn load_all(&self) -> (Vec<PublishedEntry>, Vec<(PathBuf, String)>) {
        let mut entries = Vec::new();
        let mut bad = Vec::new();
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return (entries, bad);
        };
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rec"))
            .collect();
        paths.sort();
        for path in paths {
            match fs::read(&path) {
                Ok(bytes) => match decode(&bytes) {
                    Some(entry) => entries.push(entry),
                    None => bad.push((path, "not a qis published record".into())),
                },
                Err(e) => bad.push((path, e.to_string())),
            }
        }
        (entries, bad)
    }
}

fn decode(bytes: &[u8]) -> Option<PublishedEntry> {
    let body = bytes.strip_prefix(MAGIC)?;
    let entry: PublishedEntry = postcard::from_bytes(body).ok()?;
    entry.record.verify_signature().ok()?;
    Some(entry)
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
        let _ = fs::remove_dir_all(&dir);
    }
}
