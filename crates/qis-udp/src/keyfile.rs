//! Key files: a node's (or publisher's) secret key in its data directory, so a restarted node
//! keeps its id, and fresh keys and secrets from the operating system's randomness.

use qis_core::Identity;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the secret key inside a data directory.
pub const KEY_FILE: &str = "node.key";

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
    /// The key file does not hold a 32-byte key.
    #[error("{path}: not a qis key file (expected 64 hex characters)")]
    BadKeyFile {
        /// The file concerned.
        path: PathBuf,
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

/// Loads `dir/node.key`, creating the directory and a new key (mode 0600) if absent.
pub fn load_or_create_identity(dir: &Path) -> Result<Identity, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(text) => parse_key(text.trim()).ok_or(KeyFileError::BadKeyFile { path: path.clone() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|source| KeyFileError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            let identity = generate_identity()?;
            let mut file = open_private(&path).map_err(io)?;
            file.write_all(qis_core::hex(&identity.secret_key()).as_bytes())
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(identity)
        }
        Err(e) => Err(io(e)),
    }
}

fn parse_key(text: &str) -> Option<Identity> {
    let bytes = qis_core::Id::from_hex(text)?;
    Some(Identity::from_secret_key(*bytes.as_bytes()))
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

    #[test]
    fn a_restarted_node_keeps_its_id() {
        let dir = std::env::temp_dir().join(format!("qis-identity-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
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
}
