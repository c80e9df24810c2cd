//! Crash-safe files: every key and record file is written to a temporary file beside it,
//! synced, renamed into place and the directory synced, so a file is either the old one or
//! the whole new one, whatever happens (a `kill -9`, a power cut, a full disk); and the lock
//! that keeps a second process off a data directory.
//!
//! Temporary files are named `.<name>.tmp-<pid>-<n>`; [`remove_stale_temporaries`] removes
//! the ones a killed process left behind (and `*.tmp` files of the older naming).

use std::fs;
use std::io::{ErrorKind, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Errors writing a file durably.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// The disk (or the user's quota) is full. Nothing was changed.
    #[error(
        "{path}: disk full ({source}); nothing was written and the existing file, if any, is unchanged"
    )]
    DiskFull {
        /// The file that was to be written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file already exists (only from [`create_atomically`]).
    #[error("{path}: already exists")]
    Exists {
        /// The file concerned.
        path: PathBuf,
    },
    /// Another file-system failure. Nothing was changed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl DurableError {
    pub(crate) fn new(path: &Path, source: std::io::Error) -> DurableError {
        let path = path.to_path_buf();
        // ENOSPC and EDQUOT.
        if matches!(
            source.kind(),
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded
        ) {
            DurableError::DiskFull { path, source }
        } else {
            DurableError::Io { path, source }
        }
    }
}

/// Replaces (or creates) `path` with `bytes`, durably: a temporary file in the same directory
/// (permissions `mode` on Unix), written, synced, renamed over `path`, then the directory
/// synced. On any error the temporary file is removed and `path` is left as it was: it is
/// never truncated or half written.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DurableError> {
    let tmp = write_temporary(path, bytes, mode)?;
    let renamed = fs::rename(&tmp, path).map_err(|e| DurableError::new(path, e));
    finish(path, &tmp, renamed)
}

/// Like [`write_atomically`], but never replaces an existing file: if `path` exists (another
/// process created it first), [`DurableError::Exists`] and nothing is changed.
pub fn create_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DurableError> {
    let tmp = write_temporary(path, bytes, mode)?;
    // A hard link fails if the target exists, so two creators never overwrite each other.
    let linked = match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(DurableError::Exists {
            path: path.to_path_buf(),
        }),
        // A file system without hard links: a rename, after checking.
        Err(_) if !path.exists() => fs::rename(&tmp, path).map_err(|e| DurableError::new(path, e)),
        Err(e) => Err(DurableError::new(path, e)),
    };
    finish(path, &tmp, linked)
}

/// Removes the temporary file (whatever happened), and syncs the directory after a success.
fn finish(path: &Path, tmp: &Path, result: Result<(), DurableError>) -> Result<(), DurableError> {
    let _ = fs::remove_file(tmp);
    result?;
    sync_dir(path)
}

/// Writes `bytes` to a fresh temporary file beside `path` and syncs it; removes it on error.
fn write_temporary(path: &Path, bytes: &[u8], mode: u32) -> Result<PathBuf, DurableError> {
    let name = path.file_name().ok_or_else(|| {
        DurableError::new(
            path,
            std::io::Error::new(ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let n = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = open_new(&tmp, mode)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(DurableError::new(path, e))
        }
    }
}

/// Syncs the directory holding `path`, so a rename into it is durable.
fn sync_dir(path: &Path) -> Result<(), DurableError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| DurableError::new(dir, e))
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened (nor synced) this way elsewhere.
        let _ = dir;
        Ok(())
    }
}

#[cfg(unix)]
fn open_new(path: &Path, mode: u32) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

#[cfg(not(unix))]
fn open_new(path: &Path, _mode: u32) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Whether `name` is one of our temporary files: `.<name>.tmp-<pid>-<n>`, or `<name>.tmp`
/// (the older naming of key and published-record temporaries).
fn is_temporary(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix('.')
        && let Some((_, tail)) = rest.rsplit_once(".tmp-")
        && let Some((pid, n)) = tail.split_once('-')
    {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        return digits(pid) && digits(n);
    }
    name.len() > ".tmp".len() && name.ends_with(".tmp")
}

/// Removes the temporary files a killed process left in `dir` (not its subdirectories);
/// returns how many. A missing directory has none. Call it only while no other process
/// writes there (the data directory's [`DataDirLock`] held).
pub fn remove_stale_temporaries(dir: &Path) -> Result<usize, DurableError> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(DurableError::new(dir, e)),
    };
    let mut removed = 0;
    for entry in listing {
        let entry = entry.map_err(|e| DurableError::new(dir, e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && is_temporary(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(DurableError::new(&path, e)),
            }
        }
    }
    Ok(removed)
}

/// File name of the lock inside a data directory.
pub const LOCK_FILE: &str = "lock";

/// Errors taking a data directory's lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("{} is in use by another qis {holder}", dir.display())]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// Who holds it, as it wrote in the lock file (e.g. `node (pid 1234)`).
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("{}: cannot lock: {source}", path.display())]
    Io {
        /// The lock file or the directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An exclusive advisory lock on `<dir>/lock`, held while this value lives (and released by
/// the operating system when the process ends, `kill -9` included). The file holds the
/// holder's role and pid, for the message a second process shows.
#[derive(Debug)]
pub struct DataDirLock {
    _file: fs::File,
    dir: PathBuf,
}

impl DataDirLock {
    /// Creates `dir` if needed and takes its lock for `role` (a word such as `node`, named in
    /// the message another process shows); [`LockError::InUse`] at once if another process
    /// holds it.
    pub fn acquire(dir: &Path, role: &str) -> Result<DataDirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.take(256).read_to_string(&mut text);
                let holder = match text.split_whitespace().collect::<Vec<_>>()[..] {
                    [role, pid] if pid.bytes().all(|b| b.is_ascii_digit()) => {
                        format!("{role} (pid {pid})")
                    }
                    _ => "process (pid unknown)".to_string(),
                };
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let stamp = format!("{role} {}\n", std::process::id());
        let written = (|| {
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(stamp.as_bytes())
        })();
        // The pid is only for a message; failing to write it is not a reason to stop.
        let _ = written;
        Ok(DataDirLock {
            _file: file,
            dir: dir.to_path_buf(),
        })
    }

    /// Takes the lock like [`DataDirLock::acquire`], waiting up to `patience` (in short steps)
    /// while another process holds it.
    pub fn acquire_waiting(
        dir: &Path,
        role: &str,
        patience: std::time::Duration,
    ) -> Result<DataDirLock, LockError> {
        let step = std::time::Duration::from_millis(50);
        let tries = (patience.as_millis() / step.as_millis()).max(1);
        let mut last = None;
        for _ in 0..tries {
            match DataDirLock::acquire(dir, role) {
                Err(e @ LockError::InUse { .. }) => last = Some(e),
                other => return other,
            }
            std::thread::sleep(step);
        }
        Err(last.expect("at least one try"))
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qis-durable-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names in `dir`, sorted (shared with the key-file tests).
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("write");
        let path = dir.join("f");
        write_atomically(&path, b"one", 0o600).unwrap();
        write_atomically(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(names(&dir), vec!["f"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn create_never_replaces() {
        let dir = scratch("create");
        let path = dir.join("f");
        create_atomically(&path, b"one", 0o600).unwrap();
        assert!(matches!(
            create_atomically(&path, b"two", 0o600),
            Err(DurableError::Exists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(names(&dir), vec!["f"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_names_the_path_and_changes_nothing() {
        let dir = scratch("fail");
        // The parent is a file: nothing can be written under it.
        let parent = dir.join("plain");
        fs::write(&parent, b"kept").unwrap();
        let error = write_atomically(&parent.join("f"), b"x", 0o600).unwrap_err();
        assert!(error.to_string().contains("plain"), "{error}");
        assert_eq!(fs::read(&parent).unwrap(), b"kept");
        assert_eq!(names(&dir), vec!["plain"]);
        // A read-only directory (unless we are root, who may write anyway).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let ro = dir.join("ro");
            fs::create_dir(&ro).unwrap();
            let path = ro.join("f");
            write_atomically(&path, b"old", 0o600).unwrap();
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).unwrap();
            if let Err(error) = write_atomically(&path, b"new", 0o600) {
                assert!(error.to_string().contains("ro/f"), "{error}");
                assert_eq!(fs::read(&path).unwrap(), b"old");
                assert_eq!(names(&ro), vec!["f"]);
            }
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o700)).unwrap();
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        let error = DurableError::new(
            Path::new("/d/node.key"),
            std::io::Error::from(ErrorKind::StorageFull),
        );
        assert!(matches!(error, DurableError::DiskFull { .. }));
        let message = error.to_string();
        assert!(message.starts_with("/d/node.key: disk full"), "{message}");
        // /dev/full, where there is one, fails every write with ENOSPC; the target is a
        // directory entry we cannot create there, so only the classification is checked.
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = scratch("stale");
        for name in [
            ".node.key.tmp-123-0",
            ".x.rec.tmp-9-17",
            "old.tmp",
            "node.key",
            "a.rec",
            ".hidden",
            ".x.tmp-12",
            "lock",
        ] {
            fs::write(dir.join(name), b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(&dir).unwrap(), 3);
        assert_eq!(
            names(&dir),
            vec![".hidden", ".x.tmp-12", "a.rec", "lock", "node.key"]
        );
        assert_eq!(remove_stale_temporaries(&dir.join("missing")).unwrap(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_locked_directory_refuses_a_second_holder_naming_the_first() {
        let dir = scratch("lock");
        let first = DataDirLock::acquire(&dir, "node").unwrap();
        assert_eq!(first.dir(), dir);
        let error = DataDirLock::acquire(&dir, "node").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} is in use by another qis node (pid {})",
                dir.display(),
                std::process::id()
            )
        );
        let waited =
            DataDirLock::acquire_waiting(&dir, "node", std::time::Duration::from_millis(100));
        assert!(matches!(waited, Err(LockError::InUse { .. })));
        drop(first);
        let again = DataDirLock::acquire(&dir, "publish").unwrap();
        drop(again);
        let _ = fs::remove_dir_all(&dir);
    }
}
