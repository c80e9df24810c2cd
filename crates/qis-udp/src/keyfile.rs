//! Key files: a node's (or publisher's) secret key in its data directory, so a restarted node
//! keeps its id, and fresh keys and secrets from the operating system's randomness.
//!
//! # Format
//!
//! Version 1 ([`KEY_FILE_VERSION`]) is two lines of text: `qis-key v1`, then the 32-byte
//! secret key as 64 hex characters. Version 0, written before key files had a version, is the
//! 64 hex characters alone; it is still read, and rewritten as version 1 in place (a temporary
//! file, synced, then renamed over the old one, so the file is never half written). A file
//! that names another version is refused with a message naming the version and the file, and
//! left as it is: it was written by a newer qis, which may still need it.

use qis_core::Identity;
use std::fs;
use std::io::Write;
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

/// Loads `dir/node.key`, creating the directory and a new key (mode 0600, format
/// [`KEY_FILE_VERSION`]) if absent. A version-0 file (the hex alone) is rewritten as version 1
/// atomically, keeping the key; a file naming another version is refused
/// ([`KeyFileError::UnknownVersion`]) and left as it is.
pub fn load_or_create_identity(dir: &Path) -> Result<Identity, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    match fs::read(&path) {
        Ok(bytes) => {
            let (identity, version) = parse_key_file(&path, &bytes)?;
            if version == 0 {
                migrate(&path, &identity);
            }
            Ok(identity)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            let identity = generate_identity()?;
            let mut file = open_private(&path).map_err(io)?;
            file.write_all(key_file_text(&identity).as_bytes())
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(identity)
        }
        Err(e) => Err(io(e)),
    }
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
    match rewrite(path, &key_file_text(identity)) {
        Ok(()) => {
            info!(path = %path.display(), "key file rewritten in format v{KEY_FILE_VERSION} (was v0, bare hex)")
        }
        Err(error) => {
            warn!(path = %path.display(), %error, "key file kept in format v0: rewriting it failed")
        }
    }
}

/// Replaces `path` with `text`: a temporary file (mode 0600) beside it, synced, renamed over
/// it, and the directory synced so the rename itself is durable.
fn rewrite(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("key.tmp");
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = open_private(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
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
        let first = load_or_create_identity(&dir).unwrap();
        let second = load_or_create_identity(&dir).unwrap();
        assert_eq!(first.id(), second.id());
        assert_eq!(first.id(), first.public_key().id());
        fs::write(dir.join(KEY_FILE), "nonsense").unwrap();
        assert!(matches!(
            load_or_create_identity(&dir),
            Err(KeyFileError::BadKeyFile { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_key_file_is_version_1_and_round_trips() {
        let dir = scratch("v1");
        let identity = load_or_create_identity(&dir).unwrap();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        let hex = qis_core::hex(&identity.secret_key());
        assert_eq!(text, format!("qis-key v1\n{hex}\n"));
        assert_eq!(load_or_create_identity(&dir).unwrap().id(), identity.id());
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
        let loaded = load_or_create_identity(&dir).unwrap();
        assert_eq!(loaded.id(), identity.id());
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("qis-key v1\n{hex}\n"));
        assert_eq!(load_or_create_identity(&dir).unwrap().id(), identity.id());
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
        let error = load_or_create_identity(&dir).unwrap_err();
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
            let error = load_or_create_identity(&dir).unwrap_err();
            assert!(
                matches!(&error, KeyFileError::BadKeyFile { reason: r, .. } if r.starts_with(reason)),
                "{text:?}: {error}"
            );
        }
        fs::write(dir.join(KEY_FILE), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            load_or_create_identity(&dir),
            Err(KeyFileError::BadKeyFile {
                reason: "not text",
                ..
            })
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
