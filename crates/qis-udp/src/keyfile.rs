//! Key files: a node's (or publisher's) secret key in its data directory, so a restarted node
//! keeps its id, and fresh keys and secrets from the operating system's randomness.
//!
//! # Format
//!
//! Version 1 ([`KEY_FILE_VERSION`]) is two lines of text: `qis-key v1`, then the 32-byte
//! secret key as 64 hex characters. Version 0, written before key files had a version, is the
//! 64 hex characters alone; it is still read, and rewritten as version 1 in place. Every write
//! is crash-safe (a temporary file, synced, then renamed over the old one, so the file is never
//! half written); a damaged file from an older qis is handled by [`KeyRole`]. A file
//! that names another version is refused with a message naming the version and the file, and
//! left as it is: it was written by a newer qis, which may still need it.

use crate::durable::{DurableError, create_atomically, write_atomically};
use qis_core::Identity;
use std::fs;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// File name of the secret key inside a data directory.
pub const KEY_FILE: &str = "node.key";

/// The key file format this build writes (and the newest it reads).
pub const KEY_FILE_VERSION: u32 = 1;

/// The first word of a versioned key file's first line (`qis-key v1`).
const KEY_FILE_MAGIC: &str = "qis-key";

/// Errors loading or creating an identity.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file does not hold a 32-byte key in a format this build knows.
    #[error(
        "{path}: not a qis key file ({reason}; expected a line \"qis-key v{KEY_FILE_VERSION}\" and 64 hex characters)"
    )]
    BadKeyFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file names a format version this build does not read.
    #[error(
        "{path}: key file format {version:?} is not one this qis reads (it reads v{KEY_FILE_VERSION}, and bare hex as v0); a newer qis wrote it, so use that one or another --data-dir"
    )]
    UnknownVersion {
        /// The file concerned.
        path: PathBuf,
        /// The version it names, as written.
        version: String,
    },
    /// A publisher's key file is damaged (see [`KeyRole::Publisher`]); it was left as it is.
    #[error(
        "{path}: the publisher key file is damaged ({reason}) and was left as it is; restore it from a backup, or move it away to start a new publisher identity (records signed with the old key stay under the old id)"
    )]
    Damaged {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A crash-safe write failed (a full disk included); nothing was changed.
    #[error(transparent)]
    Write(#[from] DurableError),
    /// No OS randomness was available.
    #[error("no OS randomness: {0}")]
    Random(String),
}

/// A fresh identity from OS randomness.
pub fn generate_identity() -> Result<Identity, KeyFileError> {
    let mut secret = [0u8; 32];
    os_entropy(&mut secret)?;
    Ok(Identity::from_secret_key(secret))
}

/// Whose key a key file holds: what happens when it is damaged depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// A node's key. A damaged file (empty, or a partial or invalid v0/v1 write) is moved
    /// aside to `node.key.broken-<unix time>` and replaced by a new key, with a warning: the
    /// node gets a new id, which costs it nothing but its place in others' routing tables.
    Node,
    /// A publisher's key (or a client's, which signs records too). A damaged file is an error
    /// ([`KeyFileError::Damaged`]) and is left as it is: the publisher's identity is what
    /// readers trust, so it is never replaced silently.
    Publisher,
}

/// Loads `dir/node.key`, creating the directory and a new key (mode 0600, format
/// [`KEY_FILE_VERSION`]) if absent. Every write is crash-safe ([`write_atomically`]): a
/// temporary file, synced, renamed into place. A version-0 file (the hex alone) is rewritten
/// as version 1, keeping the key; a file naming another version is refused
/// ([`KeyFileError::UnknownVersion`]) and left as it is. A damaged file (empty, or not a key
/// in a known format) is handled by `role` (see [`KeyRole`]).
pub fn load_or_create_identity(dir: &Path, role: KeyRole) -> Result<Identity, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    // Two tries: a creation can lose the race to another process, whose key is then read.
    for _ in 0..2 {
        match fs::read(&path) {
            Ok(bytes) => match parse_key_file(&path, &bytes) {
                Ok((identity, version)) => {
                    if version == 0 {
                        migrate(&path, &identity);
                    }
                    return Ok(identity);
                }
                Err(KeyFileError::BadKeyFile { reason, .. }) if role == KeyRole::Node => {
                    return replace_broken(&path, reason);
                }
                Err(KeyFileError::BadKeyFile { path, reason }) => {
                    return Err(KeyFileError::Damaged { path, reason });
                }
                Err(other) => return Err(other),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
                let identity = generate_identity()?;
                match create_atomically(&path, key_file_text(&identity).as_bytes(), 0o600) {
                    Ok(()) => return Ok(identity),
                    Err(DurableError::Exists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other(
        "created and removed by another process while being read",
    )))
}

/// Moves a damaged node key aside and writes a new one in its place.
fn replace_broken(path: &Path, reason: &'static str) -> Result<Identity, KeyFileError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // A name not taken yet (two damaged keys within one second keep both).
    let mut aside = path.with_file_name(format!("{KEY_FILE}.broken-{now}"));
    for n in 1..100 {
        if !aside.exists() {
            break;
        }
        aside = path.with_file_name(format!("{KEY_FILE}.broken-{now}-{n}"));
    }
    fs::rename(path, &aside).map_err(|source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let identity = generate_identity()?;
    write_atomically(path, key_file_text(&identity).as_bytes(), 0o600)?;
    warn!(
        path = %path.display(),
        moved_to = %aside.display(),
        new_id = %identity.id(),
        "the node key file was damaged ({reason}; an interrupted write, or a full disk, in an older qis): the node id changed to a new key"
    );
    Ok(identity)
}

/// The text of a version-1 key file.
fn key_file_text(identity: &Identity) -> String {
    format!(
        "{KEY_FILE_MAGIC} v{KEY_FILE_VERSION}\n{}\n",
        qis_core::hex(&identity.secret_key())
    )
}

/// Reads a key file of any version this build knows; returns the identity and the version.
fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<(Identity, u32), KeyFileError> {
    let bad = |reason| KeyFileError::BadKeyFile {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("empty"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not text"))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let Some(version) = first.strip_prefix(KEY_FILE_MAGIC) else {
        // Version 0: the hex alone.
        let identity = parse_key(text.trim()).ok_or_else(|| bad("no \"qis-key\" line"))?;
        return Ok((identity, 0));
    };
    let version = version.trim();
    if version != format!("v{KEY_FILE_VERSION}") {
        return Err(KeyFileError::UnknownVersion {
            path: path.to_path_buf(),
            version: version.to_string(),
        });
    }
    let key = lines.next().map(str::trim).unwrap_or("");
    let identity = parse_key(key).ok_or_else(|| bad("the second line is not 64 hex characters"))?;
    if lines.any(|line| !line.trim().is_empty()) {
        return Err(bad("text after the key"));
    }
    Ok((identity, KEY_FILE_VERSION))
}

fn parse_key(text: &str) -> Option<Identity> {
    let bytes = qis_core::Id::from_hex(text)?;
    Some(Identity::from_secret_key(*bytes.as_bytes()))
}

/// Rewrites a version-0 key file as version 1, atomically. A failure (a read-only data
/// directory, say) is logged and leaves the old file, which stays readable: the node runs
/// with the same key either way.
fn migrate(path: &Path, identity: &Identity) {
    match write_atomically(path, key_file_text(identity).as_bytes(), 0o600) {
        Ok(()) => {
            info!(path = %path.display(), "key file rewritten in format v{KEY_FILE_VERSION} (was v0, bare hex)")
        }
        Err(error) => {
            warn!(path = %path.display(), %error, "key file kept in format v0: rewriting it failed")
        }
    }
}

/// Fills `buf` from the operating system's randomness.
pub fn os_entropy(buf: &mut [u8]) -> Result<(), KeyFileError> {
    use rand::TryRng;
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|e| KeyFileError::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qis-keyfile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_restarted_node_keeps_its_id() {
        let dir = scratch("restart");
        let first = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        let second = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        assert_eq!(first.id(), second.id());
        assert_eq!(first.id(), first.public_key().id());
        fs::write(dir.join(KEY_FILE), "nonsense").unwrap();
        assert!(matches!(
            load_or_create_identity(&dir, KeyRole::Publisher),
            Err(KeyFileError::Damaged { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_key_file_is_version_1_and_round_trips() {
        let dir = scratch("v1");
        let identity = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        let hex = qis_core::hex(&identity.secret_key());
        assert_eq!(text, format!("qis-key v1\n{hex}\n"));
        assert_eq!(
            load_or_create_identity(&dir, KeyRole::Node).unwrap().id(),
            identity.id()
        );
        // The file is left untouched by a read.
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), text);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_0_key_file_migrates_and_keeps_its_id() {
        let dir = scratch("v0");
        fs::create_dir_all(&dir).unwrap();
        let identity = Identity::from_secret_key([5; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        fs::write(dir.join(KEY_FILE), format!("{hex}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        }
        let loaded = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        assert_eq!(loaded.id(), identity.id());
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("qis-key v1\n{hex}\n"));
        assert_eq!(
            load_or_create_identity(&dir, KeyRole::Node).unwrap().id(),
            identity.id()
        );
        // No temporary file left behind, and the key is still private.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(KEY_FILE)]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unknown_version_is_refused_naming_the_version_and_the_file() {
        let dir = scratch("v9");
        fs::create_dir_all(&dir).unwrap();
        let hex = qis_core::hex(&[5; 32]);
        let written = format!("qis-key v9\n{hex}\n");
        fs::write(dir.join(KEY_FILE), &written).unwrap();
        let error = load_or_create_identity(&dir, KeyRole::Node).unwrap_err();
        assert!(
            matches!(&error, KeyFileError::UnknownVersion { version, .. } if version == "v9"),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains("\"v9\""), "{message}");
        assert!(
            message.contains(&dir.join(KEY_FILE).display().to_string()),
            "{message}"
        );
        // Left as it was, for the newer qis that wrote it.
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), written);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_version_1_files_are_refused_with_the_reason() {
        let dir = scratch("bad");
        fs::create_dir_all(&dir).unwrap();
        let hex = qis_core::hex(&[5; 32]);
        for (text, reason) in [
            ("qis-key v1\nnot hex\n".to_string(), "the second line"),
            ("qis-key v1\n".to_string(), "the second line"),
            (format!("qis-key v1\n{hex}\nmore\n"), "text after the key"),
            (format!("{hex}{hex}"), "no \"qis-key\" line"),
        ] {
            fs::write(dir.join(KEY_FILE), &text).unwrap();
            let error = load_or_create_identity(&dir, KeyRole::Publisher).unwrap_err();
            assert!(
                matches!(&error, KeyFileError::Damaged { reason: r, .. } if r.starts_with(reason)),
                "{text:?}: {error}"
            );
        }
        fs::write(dir.join(KEY_FILE), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            load_or_create_identity(&dir, KeyRole::Publisher),
            Err(KeyFileError::Damaged {
                reason: "not text",
                ..
            })
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_node_key_is_moved_aside_and_replaced_by_a_new_one() {
        let dir = scratch("node-broken");
        fs::create_dir_all(&dir).unwrap();
        let old = Identity::from_secret_key([5; 32]);
        let hex = qis_core::hex(&old.secret_key());
        for damaged in [
            String::new(),
            "qis-key v1\n".to_string(),
            format!("qis-key v1\n{}", &hex[..40]),
            hex[..17].to_string(),
        ] {
            for name in crate::durable::tests::names(&dir) {
                fs::remove_file(dir.join(name)).unwrap();
            }
            fs::write(dir.join(KEY_FILE), &damaged).unwrap();
            let (logged, new) = capture_warnings(|| load_or_create_identity(&dir, KeyRole::Node));
            let new = new.unwrap();
            assert_ne!(new.id(), old.id());
            assert!(
                logged.contains("the node id changed"),
                "{damaged:?}: {logged}"
            );
            assert!(logged.contains(&new.id().to_string()), "{logged}");
            // The new key is the one kept, and the damaged file is still there to look at.
            assert_eq!(
                load_or_create_identity(&dir, KeyRole::Node).unwrap().id(),
                new.id()
            );
            let names = crate::durable::tests::names(&dir);
            assert_eq!(names.len(), 2, "{names:?}");
            assert_eq!(names[0], KEY_FILE);
            assert!(names[1].starts_with("node.key.broken-"), "{names:?}");
            assert_eq!(fs::read_to_string(dir.join(&names[1])).unwrap(), damaged);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_zero_byte_publisher_key_is_refused_and_left_as_it_is() {
        let dir = scratch("publisher-empty");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(KEY_FILE), b"").unwrap();
        let error = load_or_create_identity(&dir, KeyRole::Publisher).unwrap_err();
        assert!(
            matches!(
                &error,
                KeyFileError::Damaged {
                    reason: "empty",
                    ..
                }
            ),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "{}: the publisher key file is damaged (empty)",
                dir.join(KEY_FILE).display()
            )),
            "{message}"
        );
        assert!(message.contains("restore it from a backup"), "{message}");
        assert_eq!(
            crate::durable::tests::names(&dir),
            vec![KEY_FILE.to_string()]
        );
        assert_eq!(fs::read(dir.join(KEY_FILE)).unwrap(), b"");
        let _ = fs::remove_dir_all(&dir);
    }

    /// Runs `f` with a subscriber recording warnings on this thread; returns them and its result.
    fn capture_warnings<T>(f: impl FnOnce() -> T) -> (String, T) {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, f);
        let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        (logged, result)
    }
}
