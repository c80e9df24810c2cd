//! A running node's control socket: a Unix domain socket in its data directory that answers
//! every connection with one [`StatusReport`] (a JSON line) and closes it, for `qis status`.
//! It opens no network port, and answers only its own user and root: the socket file is
//! owner-only, and the peer's uid is checked on each connection besides (the file's mode is
//! set just after it is bound). It takes no commands.

use super::status::{CONTROL_SOCKET, StatusReport};
use qis_udp::NodeHandle;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::debug;

/// Connections answered at once; further ones are closed unanswered.
const MAX_CONNECTIONS: usize = 4;

/// Deadline for one answer (a reader that does not read is cut off).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What the report says beside the node's own stats.
#[derive(Debug, Clone)]
pub(super) struct About {
    /// The network's name.
    pub network: String,
    /// The node's data directory.
    pub data_dir: PathBuf,
    /// When the node started.
    pub started: Instant,
}

/// A control socket being served; it stops, and its file is removed, when dropped.
#[derive(Debug)]
pub(super) struct ControlServer {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// The socket's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `<data dir>/control.sock` and answers on it. A socket file already there is removed
/// first: the caller holds the data directory's lock, so no live node owns it.
pub(super) fn serve(node: NodeHandle, about: About) -> std::io::Result<ControlServer> {
    let path = about.data_dir.join(CONTROL_SOCKET);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let owner = std::fs::metadata(&path)?.uid();
    let task = tokio::spawn(accept_loop(listener, node, about, owner));
    Ok(ControlServer { path, task })
}

async fn accept_loop(listener: UnixListener, node: NodeHandle, about: About, owner: u32) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let allowed = stream
            .peer_cred()
            .is_ok_and(|peer| peer.uid() == owner || peer.uid() == 0);
        if !allowed {
            debug!("control socket: a connection of another user, closed");
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let node = node.clone();
        let about = about.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tokio::time::timeout(ANSWER_WITHIN, answer(stream, &node, &about)).await;
        });
    }
}

async fn answer(mut stream: UnixStream, node: &NodeHandle, about: &About) -> std::io::Result<()> {
    let Ok(stats) = node.stats().await else {
        return Ok(());
    };
    let report = StatusReport::new(
        &stats,
        &about.network,
        &about.data_dir,
        about.started.elapsed(),
    );
    let mut line = serde_json::to_vec(&report).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    stream.shutdown().await
}
