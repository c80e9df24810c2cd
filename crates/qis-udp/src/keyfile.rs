//! Key files: a node's (or publisher's) secret key in its data directory, with a node's id
//! work beside it, so a restarted node keeps its id; and fresh keys and secrets from the
//! operating system's randomness.
//!
//! # Format
//!
//! Version 2 ([`KEY_FILE_VERSION`]) is text, one item a line:
//!
//! ```text
//! qis-key v2
//! <the 32-byte secret key as 64 hex characters>
//! work <the id work's nonce, a u64 in decimal>
//! ```
//!
//! The `work` line is optional: a node writes it once it has solved its id work (see
//! [`load_or_create_credentials`] and [`qis_core::work`]); publisher and client key files
//! carry none. The node's id comes out of the key *and* the work, so the line is what keeps a
//! restarted node's id. Version 1 is the first two lines alone; version 0, written before key
//! files had a version, is the 64 hex characters alone. Both are still read, and rewritten as
//! version 2 in place (keeping the key).
//!
//! Every write is crash-safe (a temporary file, synced, then renamed over the old one, so the
//! file is never half written); a damaged file (anything but the lines above, a malformed
//! `work` line included) is handled by [`KeyRole`]. A file that names another version is
//! refused with a message naming the version and the file, and left as it is: it was written
//! by a newer qis, which may still need it.

use crate::durable::{DurableError, create_atomically, write_atomically};
use qis_core::{Credentials, Difficulty, Id, IdWork, Identity, ProofError, PublicKey, WorkHasher};
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::{info, warn};

/// File name of the secret key inside a data directory.
pub const KEY_FILE: &str = "node.key";

/// The key file format this build writes (and the newest it reads).
pub const KEY_FILE_VERSION: u32 = 2;

/// The first word of a versioned key file's first line (`qis-key v2`).
const KEY_FILE_MAGIC: &str = "qis-key";

/// The first word of a version-2 file's optional third line (`work 1234`).
const WORK_WORD: &str = "work";

/// Most threads one id-work solve runs, however many cores the machine has: the solve is
/// bounded work at start-up, not something to take over a large host with.
pub const MAX_SOLVER_THREADS: usize = 16;

/// Nonces a solver thread tries between looks at the others' progress: small enough that
/// the threads stop within a few milliseconds of a solution, large enough that the shared
/// counter costs nothing.
const SOLVE_CHUNK: u64 = 16;

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
        "{path}: not a qis key file ({reason}; expected a line \"qis-key v{KEY_FILE_VERSION}\", 64 hex characters and an optional \"work <number>\" line)"
    )]
    BadKeyFile {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key file names a format version this build does not read.
    #[error(
        "{path}: key file format {version:?} is not one this qis reads (it reads v{KEY_FILE_VERSION} and v1, and bare hex as v0); a newer qis wrote it, so use that one or another --data-dir"
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
    /// Freshly solved id work did not give valid credentials (a bug: it is checked as solved).
    #[error("the node's id work: {0}")]
    Credentials(#[from] ProofError),
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
    /// A node's key. A damaged file (empty, or a partial or invalid write of any version) is
    /// moved aside to `node.key.broken-<unix time>` and replaced by a new key, with a warning:
    /// the node gets a new id, which costs it one id-work solve and its place in others'
    /// routing tables.
    Node,
    /// A publisher's key (or a client's, which signs records too). A damaged file is an error
    /// ([`KeyFileError::Damaged`]) and is left as it is: the publisher's identity is what
    /// readers trust, so it is never replaced silently.
    Publisher,
}

/// What a key file holds: the key, and a node's id work once it has been solved.
#[derive(Debug, Clone)]
struct StoredKey {
    identity: Identity,
    work: Option<IdWork>,
}

/// Loads `dir/node.key`, creating the directory and a new key (mode 0600, format
/// [`KEY_FILE_VERSION`]) if absent. Every write is crash-safe ([`write_atomically`]): a
/// temporary file, synced, renamed into place. A version-0 or version-1 file is rewritten as
/// version 2, keeping the key; a file naming another version is refused
/// ([`KeyFileError::UnknownVersion`]) and left as it is. A damaged file (empty, or not a key
/// in a known format) is handled by `role` (see [`KeyRole`]). A node's stored id work is read
/// and ignored here: [`load_or_create_credentials`] is the node's way in.
pub fn load_or_create_identity(dir: &Path, role: KeyRole) -> Result<Identity, KeyFileError> {
    Ok(load_or_create_key(dir, role)?.identity)
}

/// A node's credentials from `dir/node.key`: the key is loaded or created as by
/// [`load_or_create_identity`] with [`KeyRole::Node`]; if the file holds no id work, or work
/// that does not meet `difficulty` (the network asks for more than when it was solved), the
/// work is solved on up to `threads` threads ([`solve_id_work`]), saved in the file, and the
/// node's id is the new one. Work that meets `difficulty` is kept, so the id survives
/// restarts (and a network lowering its difficulty). Saving is crash-safe; a failed save is
/// logged and the node runs with the solved work anyway (it solves again at its next start).
///
/// A solve blocks the calling thread for about `2^d ÷ threads` Argon2id evaluations (at the
/// default difficulty 12, half a second on two cores of a server; see `bench/grind.rs`):
/// call it before starting the runtime, or in `spawn_blocking`.
pub fn load_or_create_credentials(
    dir: &Path,
    difficulty: Difficulty,
    threads: NonZeroUsize,
) -> Result<Credentials, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let stored = load_or_create_key(dir, KeyRole::Node)?;
    if let Some(work) = stored.work {
        match Credentials::real(&stored.identity, work, difficulty) {
            Ok(credentials) => return Ok(credentials),
            Err(error) => info!(
                path = %path.display(),
                %error,
                "the stored id work does not meet this network's difficulty: solving it again (the node id changes)"
            ),
        }
    }
    let work = solve_and_log(&stored.identity.public_key(), difficulty, threads);
    save_work(&path, &stored.identity, work);
    Ok(Credentials::real(&stored.identity, work, difficulty)?)
}

/// The threads a node solves its id work on by default: the machine's cores, at most
/// [`MAX_SOLVER_THREADS`].
pub fn default_solver_threads() -> NonZeroUsize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(cores.min(MAX_SOLVER_THREADS)).unwrap_or(NonZeroUsize::MIN)
}

/// The id work of `key`: the smallest nonce whose work meets `difficulty`, with the id it
/// gives, searched on `threads` threads (at most [`MAX_SOLVER_THREADS`]), each with its own
/// [`WorkHasher`]. The threads take chunks of nonces in increasing order and stop once a
/// solution below their next chunk is known, so the answer is the same on any number of
/// threads (the one a single thread finds from nonce 0) and costs about `2^d / threads`
/// evaluations' time.
pub fn solve_id_work(
    key: &PublicKey,
    difficulty: Difficulty,
    threads: NonZeroUsize,
) -> (IdWork, Id) {
    let next_chunk = AtomicU64::new(0);
    let best = Mutex::new(None);
    let threads = threads.get().min(MAX_SOLVER_THREADS);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| search_chunks(key, difficulty, &next_chunk, &best));
        }
    });
    best.into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .expect("the threads search until one finds a solution")
}

/// One solver thread: takes chunks of nonces until the best known solution is below the next
/// one (no later chunk can beat it), or until it finds one itself.
fn search_chunks(
    key: &PublicKey,
    difficulty: Difficulty,
    next_chunk: &AtomicU64,
    best: &Mutex<Option<(IdWork, Id)>>,
) {
    let mut hasher = WorkHasher::new();
    loop {
        let first = next_chunk.fetch_add(SOLVE_CHUNK, Ordering::Relaxed);
        if best_nonce(best).is_some_and(|nonce| nonce < first) {
            return;
        }
        if let Some(found) = hasher.solve(key, difficulty, IdWork(first), SOLVE_CHUNK) {
            let mut best = best.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if best.is_none_or(|(nonce, _)| found.0 < nonce) {
                *best = Some(found);
            }
            return;
        }
    }
}

fn best_nonce(best: &Mutex<Option<(IdWork, Id)>>) -> Option<u64> {
    let best = best.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    best.map(|(nonce, _)| nonce.0)
}

/// [`solve_id_work`], logged at its start and end with the time it took.
fn solve_and_log(key: &PublicKey, difficulty: Difficulty, threads: NonZeroUsize) -> IdWork {
    info!(
        difficulty = difficulty.bits(),
        expected_evaluations = difficulty.expected_evaluations(),
        threads = threads.get().min(MAX_SOLVER_THREADS),
        "solving the node's id work (once: it is kept in the key file)"
    );
    let started = Instant::now();
    let (work, id) = solve_id_work(key, difficulty, threads);
    info!(
        nonce = work.0,
        %id,
        "id work solved in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    work
}

/// Writes `work` beside the key, crash-safely. A failure is logged, not returned: the node
/// can run with the work it holds in memory.
fn save_work(path: &Path, identity: &Identity, work: IdWork) {
    let text = key_file_text(identity, Some(work));
    if let Err(error) = write_atomically(path, text.as_bytes(), 0o600) {
        warn!(
            path = %path.display(),
            %error,
            "the solved id work could not be saved: the node will solve it again (and get another id) at its next start"
        );
    }
}

/// Loads or creates the key file (see [`load_or_create_identity`]), work included.
fn load_or_create_key(dir: &Path, role: KeyRole) -> Result<StoredKey, KeyFileError> {
    let path = dir.join(KEY_FILE);
    let io = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    // Two tries: a creation can lose the race to another process, whose key is then read.
    for _ in 0..2 {
        match fs::read(&path) {
            Ok(bytes) => match parse_key_file(&path, &bytes) {
                Ok((stored, version)) => {
                    if version < KEY_FILE_VERSION {
                        migrate(&path, &stored, version);
                    }
                    return Ok(stored);
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
                match create_atomically(&path, key_file_text(&identity, None).as_bytes(), 0o600) {
                    Ok(()) => {
                        return Ok(StoredKey {
                            identity,
                            work: None,
                        });
                    }
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
fn replace_broken(path: &Path, reason: &'static str) -> Result<StoredKey, KeyFileError> {
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
    write_atomically(path, key_file_text(&identity, None).as_bytes(), 0o600)?;
    warn!(
        path = %path.display(),
        moved_to = %aside.display(),
        "the node key file was damaged ({reason}; an interrupted write, or a full disk, in an older qis): it was replaced by a new key, so the node gets a new id (logged when it starts)"
    );
    Ok(StoredKey {
        identity,
        work: None,
    })
}

/// The text of a version-2 key file.
fn key_file_text(identity: &Identity, work: Option<IdWork>) -> String {
    let mut text = format!(
        "{KEY_FILE_MAGIC} v{KEY_FILE_VERSION}\n{}\n",
        qis_core::hex(&identity.secret_key())
    );
    if let Some(IdWork(nonce)) = work {
        text.push_str(&format!("{WORK_WORD} {nonce}\n"));
    }
    text
}

/// Reads a key file of any version this build knows; returns what it holds and the version.
fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<(StoredKey, u32), KeyFileError> {
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
        return Ok((
            StoredKey {
                identity,
                work: None,
            },
            0,
        ));
    };
    let version = match version.trim() {
        "v1" => 1,
        "v2" => 2,
        other => {
            return Err(KeyFileError::UnknownVersion {
                path: path.to_path_buf(),
                version: other.to_string(),
            });
        }
    };
    let key = lines.next().map(str::trim).unwrap_or("");
    let identity = parse_key(key).ok_or_else(|| bad("the second line is not 64 hex characters"))?;
    let mut rest = lines.map(str::trim).filter(|line| !line.is_empty());
    let work =
        match (version, rest.next()) {
            (_, None) => None,
            (1, Some(_)) => return Err(bad("text after the key")),
            (_, Some(line)) => Some(parse_work(line).ok_or_else(|| {
                bad("the line after the key is not \"work\" and a decimal number")
            })?),
        };
    if rest.next().is_some() {
        return Err(bad("text after the work"));
    }
    Ok((StoredKey { identity, work }, version))
}

fn parse_key(text: &str) -> Option<Identity> {
    let bytes = qis_core::Id::from_hex(text)?;
    Some(Identity::from_secret_key(*bytes.as_bytes()))
}

/// `work <digits>`: the nonce, if the line is exactly that and it fits a u64.
fn parse_work(line: &str) -> Option<IdWork> {
    let digits = line.strip_prefix(WORK_WORD)?.strip_prefix(' ')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(IdWork)
}

/// Rewrites an older key file as version 2, atomically, keeping what it holds. A failure (a
/// read-only data directory, say) is logged and leaves the old file, which stays readable:
/// the node runs with the same key either way.
fn migrate(path: &Path, stored: &StoredKey, from_version: u32) {
    let text = key_file_text(&stored.identity, stored.work);
    match write_atomically(path, text.as_bytes(), 0o600) {
        Ok(()) => {
            info!(path = %path.display(), "key file rewritten in format v{KEY_FILE_VERSION} (was v{from_version})")
        }
        Err(error) => {
            warn!(path = %path.display(), %error, "key file kept in format v{from_version}: rewriting it failed")
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
    fn a_new_key_file_is_version_2_without_work_and_round_trips() {
        let dir = scratch("v2");
        let identity = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        let hex = qis_core::hex(&identity.secret_key());
        assert_eq!(text, format!("qis-key v2\n{hex}\n"));
        assert_eq!(
            load_or_create_identity(&dir, KeyRole::Node).unwrap().id(),
            identity.id()
        );
        // The file is left untouched by a read.
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), text);
        let _ = fs::remove_dir_all(&dir);
    }

    /// Writes `text` as the key file of `dir` (created), private as qis writes it.
    fn write_key_file(dir: &Path, text: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(KEY_FILE), text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// No temporary file left behind in `dir`, and the key is still private.
    fn assert_only_a_private_key_file(dir: &Path) {
        assert_eq!(
            crate::durable::tests::names(dir),
            vec![KEY_FILE.to_string()]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_version_0_key_file_migrates_to_version_2_and_keeps_its_id() {
        let dir = scratch("v0");
        let identity = Identity::from_secret_key([5; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        write_key_file(&dir, &format!("{hex}\n"));
        let loaded = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        assert_eq!(loaded.id(), identity.id());
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("qis-key v2\n{hex}\n"));
        assert_eq!(
            load_or_create_identity(&dir, KeyRole::Node).unwrap().id(),
            identity.id()
        );
        assert_only_a_private_key_file(&dir);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_1_key_file_migrates_to_version_2_and_keeps_its_key() {
        let dir = scratch("v1");
        let identity = Identity::from_secret_key([6; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        write_key_file(&dir, &format!("qis-key v1\n{hex}\n"));
        let loaded = load_or_create_identity(&dir, KeyRole::Publisher).unwrap();
        assert_eq!(loaded.public_key(), identity.public_key());
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(
            text,
            format!("qis-key v2\n{hex}\n"),
            "a publisher's has no work"
        );
        let again = load_or_create_identity(&dir, KeyRole::Publisher).unwrap();
        assert_eq!(again.public_key(), identity.public_key());
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), text);
        assert_only_a_private_key_file(&dir);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_1_node_key_is_kept_and_gets_its_work() {
        let dir = scratch("v1-node");
        let identity = Identity::from_secret_key([7; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        write_key_file(&dir, &format!("qis-key v1\n{hex}\n"));
        let difficulty = Difficulty::new(3).unwrap();
        let credentials = load_or_create_credentials(&dir, difficulty, TWO_THREADS).unwrap();
        assert_eq!(credentials.public_key(), identity.public_key());
        let IdWork(nonce) = credentials.work();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("qis-key v2\n{hex}\nwork {nonce}\n"));
        assert_eq!(
            WorkHasher::new().check(&identity.public_key(), credentials.work(), difficulty),
            Ok(credentials.id())
        );
        assert_only_a_private_key_file(&dir);
        let _ = fs::remove_dir_all(&dir);
    }

    const TWO_THREADS: NonZeroUsize = NonZeroUsize::new(2).unwrap();

    #[test]
    fn a_new_node_solves_its_work_once_and_keeps_its_id() {
        let dir = scratch("credentials");
        let difficulty = Difficulty::new(4).unwrap();
        let first = load_or_create_credentials(&dir, difficulty, TWO_THREADS).unwrap();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        let identity = load_or_create_identity(&dir, KeyRole::Node).unwrap();
        let hex = qis_core::hex(&identity.secret_key());
        let IdWork(nonce) = first.work();
        assert_eq!(text, format!("qis-key v2\n{hex}\nwork {nonce}\n"));
        assert_eq!(first.public_key(), identity.public_key());
        assert_ne!(first.id(), identity.id(), "the id comes out of the work");
        let (logged, second) = capture_logs(tracing::Level::INFO, || {
            load_or_create_credentials(&dir, difficulty, TWO_THREADS)
        });
        let second = second.unwrap();
        assert_eq!((second.id(), second.work()), (first.id(), first.work()));
        assert!(!logged.contains("solving"), "solved once only: {logged}");
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), text);
        assert_only_a_private_key_file(&dir);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn stored_work_is_solved_again_only_when_the_difficulty_rises() {
        let dir = scratch("difficulty");
        let identity = Identity::from_secret_key([8; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        let strength = WorkHasher::new()
            .evaluate(&identity.public_key(), IdWork(0))
            .leading_zeros() as u8;
        write_key_file(&dir, &format!("qis-key v2\n{hex}\nwork 0\n"));
        let load = |bits| {
            let difficulty = Difficulty::new(bits).unwrap();
            load_or_create_credentials(&dir, difficulty, TWO_THREADS).unwrap()
        };
        let kept = load(strength);
        assert_eq!(kept.work(), IdWork(0));
        assert_eq!(load(0).id(), kept.id(), "a lower difficulty keeps the id");
        let (logged, raised) = capture_logs(tracing::Level::INFO, || load(strength + 1));
        assert!(logged.contains("does not meet"), "{logged}");
        assert_ne!(raised.work(), IdWork(0));
        assert_ne!(raised.id(), kept.id());
        assert_eq!(raised.public_key(), identity.public_key());
        let IdWork(nonce) = raised.work();
        let text = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(text, format!("qis-key v2\n{hex}\nwork {nonce}\n"));
        assert_eq!(load(strength + 1).id(), raised.id());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn solving_finds_the_smallest_nonce_on_any_number_of_threads() {
        let mut hasher = WorkHasher::new();
        for bits in 0..=4 {
            let difficulty = Difficulty::new(bits).unwrap();
            let key = Identity::from_secret_key([bits + 1; 32]).public_key();
            let single = hasher.solve(&key, difficulty, IdWork(0), 10_000).unwrap();
            for threads in [1, 2, 3] {
                let threads = NonZeroUsize::new(threads).unwrap();
                assert_eq!(
                    solve_id_work(&key, difficulty, threads),
                    single,
                    "{bits} bits, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn solving_is_logged_at_its_start_and_end_with_the_time_it_took() {
        let dir = scratch("solve-log");
        let (logged, credentials) = capture_logs(tracing::Level::INFO, || {
            load_or_create_credentials(&dir, Difficulty::new(2).unwrap(), TWO_THREADS)
        });
        let IdWork(nonce) = credentials.unwrap().work();
        assert!(logged.contains("solving the node's id work"), "{logged}");
        assert!(logged.contains("difficulty=2"), "{logged}");
        assert!(logged.contains("id work solved in "), "{logged}");
        assert!(logged.contains(&format!("nonce={nonce}")), "{logged}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_publisher_reads_a_key_file_with_work_and_leaves_it_as_it_is() {
        let dir = scratch("publisher-work");
        let identity = Identity::from_secret_key([9; 32]);
        let hex = qis_core::hex(&identity.secret_key());
        let text = format!("qis-key v2\n{hex}\nwork 42\n");
        write_key_file(&dir, &text);
        let loaded = load_or_create_identity(&dir, KeyRole::Publisher).unwrap();
        assert_eq!(loaded.public_key(), identity.public_key());
        assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), text);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_work_lines_are_refused_with_the_reason() {
        let dir = scratch("bad-work");
        fs::create_dir_all(&dir).unwrap();
        let hex = qis_core::hex(&[5; 32]);
        let not_work = "the line after the key is not";
        for (work, reason) in [
            ("work abc", not_work),
            ("work", not_work),
            ("work ", not_work),
            ("work -1", not_work),
            ("work +1", not_work),
            ("work  1", not_work),
            ("worked 1", not_work),
            ("work 18446744073709551616", not_work),
            ("work 1\nmore", "text after the work"),
        ] {
            let text = format!("qis-key v2\n{hex}\n{work}\n");
            fs::write(dir.join(KEY_FILE), &text).unwrap();
            let error = load_or_create_identity(&dir, KeyRole::Publisher).unwrap_err();
            assert!(
                matches!(&error, KeyFileError::Damaged { reason: r, .. } if r.starts_with(reason)),
                "{text:?}: {error}"
            );
        }
        let largest = format!("qis-key v2\n{hex}\nwork {}\n", u64::MAX);
        fs::write(dir.join(KEY_FILE), &largest).unwrap();
        assert!(load_or_create_identity(&dir, KeyRole::Publisher).is_ok());
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
            format!("qis-key v2\n{hex}\nwork 12x\n"),
            hex[..17].to_string(),
        ] {
            for name in crate::durable::tests::names(&dir) {
                fs::remove_file(dir.join(name)).unwrap();
            }
            fs::write(dir.join(KEY_FILE), &damaged).unwrap();
            let (logged, new) = capture_logs(tracing::Level::WARN, || {
                load_or_create_identity(&dir, KeyRole::Node)
            });
            let new = new.unwrap();
            assert_ne!(new.id(), old.id());
            assert!(
                logged.contains("the node gets a new id"),
                "{damaged:?}: {logged}"
            );
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

    /// Runs `f` with a subscriber recording events up to `level` on this thread; returns them
    /// and its result.
    fn capture_logs<T>(level: tracing::Level, f: impl FnOnce() -> T) -> (String, T) {
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
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, f);
        let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        (logged, result)
    }
}
