//! The tokio + socket2 driver: a thin loop that runs one sans-IO [`qis_core::Node`] on a UDP
//! socket. It receives or sleeps until the core's deadline, feeds the core, and drains its
//! transmits and events. All protocol logic stays in the core. Beside it: the node's key file
//! ([`load_or_create_identity`]) and the records it publishes, kept on disk ([`PublishedDir`]),
//! each read by its format version; and the peers that speak another protocol version or run
//! another network ([`NodeStats::mismatches`]), remembered so an application can say so; and an
//! opt-in Prometheus endpoint for the node's counters ([`serve_metrics`], [`prometheus`]).

mod driver;
mod durable;
mod handle;
mod journal;
mod keyfile;
mod metrics_http;
mod mismatch;
pub mod portmap;
pub mod prometheus;
mod published;
mod socket;

pub use durable::{
    DataDirLock, DurableError, LOCK_FILE, LockError, create_atomically, remove_stale_temporaries,
    write_atomically,
};
pub use handle::{NodeHandle, NodeStats};
pub use journal::{
    COMPACT_AFTER_BYTES, Commit, DiskFile, JOURNAL_FILE, JOURNAL_VERSION, Journal, JournalError,
    JournalFile, JournalStats, Replayed,
};
pub use keyfile::{
    KEY_FILE, KEY_FILE_VERSION, KeyFileError, KeyRole, MAX_SOLVER_THREADS, default_solver_threads,
    generate_identity, load_or_create_credentials, load_or_create_identity, os_entropy,
    solve_id_work,
};
pub use metrics_http::{MetricsLimits, MetricsServer, serve_metrics, serve_metrics_with};
pub use mismatch::{MAX_MISMATCHED_PEERS, Mismatch, PeerMismatch, SUMMARY_EVERY};
pub use published::{
    PUBLISHED_DIR, PUBLISHED_FORMAT_VERSION, PublishedDir, PublishedEntry, PublishedError,
    PublishedFile,
};
pub use socket::{SocketOptions, bind_udp};

use qis_core::Config;
use qis_core::Credentials;
use std::net::SocketAddr;

/// Everything needed to start a node on UDP.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Address to listen on (`0.0.0.0:0` for an ephemeral port; `[::]:PORT` is dual-stack).
    pub listen: SocketAddr,
    /// Protocol settings.
    pub config: Config,
    /// Socket buffer sizes.
    pub socket: SocketOptions,
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The operating system gave no randomness for the node's secrets.
    #[error("no OS randomness for the node's secrets: {0}")]
    Entropy(String),
    /// The node task has stopped.
    #[error("the node has shut down")]
    Stopped,
}

/// Binds the socket and starts the node task on the current tokio runtime. The node's token
/// secrets and transaction ids derive from fresh OS entropy drawn here, so two nodes never
/// share them, whatever key and configuration they were given.
pub async fn spawn(
    credentials: &Credentials,
    options: NodeOptions,
) -> Result<NodeHandle, NetError> {
    let socket = bind_udp(options.listen, &options.socket).map_err(|source| NetError::Bind {
        addr: options.listen,
        source,
    })?;
    spawn_on(socket, credentials, options.config).await
}

/// Starts the node task on a socket already bound (by [`bind_udp`]), for a caller that binds
/// first and only then creates what depends on the address (a data directory named after the
/// port, a key file). Secrets as in [`spawn`].
pub async fn spawn_on(
    socket: tokio::net::UdpSocket,
    credentials: &Credentials,
    config: Config,
) -> Result<NodeHandle, NetError> {
    spawn_with(socket, credentials, config, None).await
}

/// Like [`spawn_on`], for a node that keeps the records it holds for others across restarts:
/// it first takes back what `journal` held (`replayed`, from [`Journal::open`]), each checked
/// as a fresh store, and from then on writes every change down before it answers (a store is
/// acknowledged only once it is durable).
pub async fn spawn_keeping(
    socket: tokio::net::UdpSocket,
    credentials: &Credentials,
    config: Config,
    journal: Journal,
    replayed: Replayed,
) -> Result<NodeHandle, NetError> {
    spawn_with(socket, credentials, config, Some((journal, replayed))).await
}

async fn spawn_with(
    socket: tokio::net::UdpSocket,
    credentials: &Credentials,
    config: Config,
    journal: Option<(Journal, Replayed)>,
) -> Result<NodeHandle, NetError> {
    let mut entropy = [0u8; 32];
    os_entropy(&mut entropy).map_err(|e| NetError::Entropy(e.to_string()))?;
    let local = socket.local_addr().map_err(|source| NetError::Bind {
        addr: "0.0.0.0:0".parse().expect("a literal address"),
        source,
    })?;
    // The audit socket: another port of the same address, from which the node checks that
    // the holders of its puts serve them to a stranger (see qis_core::Endpoint).
    let audit_at = SocketAddr::new(local.ip(), 0);
    let audit = bind_udp(audit_at, &SocketOptions::default()).map_err(|source| NetError::Bind {
        addr: audit_at,
        source,
    })?;
    let sockets = driver::Sockets::new(socket, audit).map_err(|source| NetError::Bind {
        addr: local,
        source,
    })?;
    Ok(driver::start(
        sockets,
        local,
        credentials.clone(),
        qis_core::NodeSecret::from_bytes(entropy),
        config,
        journal,
    ))
}
