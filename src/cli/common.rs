//! Pieces the subcommands share: errors, data directories, address resolution, the runtime.

use qis_core::wire::NetworkId;
use qis_core::{Difficulty, IdentityScheme};
use qis_udp::KeyFileError;
use qis_udp::LockError;
use qis_udp::NetError;
use qis_udp::{Mismatch, NodeHandle};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A command-line failure, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: a flag, a value, a file.
    #[error("{0}")]
    Input(String),
    /// The operation ran but did not succeed.
    #[error("{0}")]
    Failed(String),
    /// Loading or creating a key.
    #[error(transparent)]
    Identity(#[from] KeyFileError),
    /// Starting the node.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A data directory in use by another process.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The journal of held records cannot be read or written.
    #[error(transparent)]
    Journal(#[from] qis_udp::JournalError),
    /// Anything from the operating system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<super::sim::SimError> for CliError {
    fn from(error: super::sim::SimError) -> Self {
        match error {
            super::sim::SimError::InvalidArgument { .. } => CliError::Input(error.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

impl CliError {
    /// 2 for bad input, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 2,
            _ => 1,
        }
    }
}

/// `--network` as shared by every networked subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct NetworkArgs {
    /// Network name: nodes only talk to nodes of the same network ("main" is the public one).
    /// 1 to 64 ASCII letters, digits, '-', '_' or '.'; case-insensitive ("Main" is "main").
    #[arg(long, default_value = "main", value_name = "NAME")]
    pub network: String,
    /// Leading zero bits the network requires of a node id's work (its admission cost): a
    /// node solves its id once at this difficulty (2^N Argon2id evaluations on average, about
    /// 1.2 s of one core at the default) and refuses peers whose ids fall short. Every node of
    /// a network must use the same value; lower it only on test networks.
    #[arg(long, default_value_t = qis_core::constants::DEFAULT_ID_DIFFICULTY, value_name = "BITS")]
    pub id_difficulty: u8,
}

impl NetworkArgs {
    /// The network id; the one place a `--network` name is checked (by
    /// [`NetworkId::from_name`]): an empty or malformed name is bad input, one line.
    pub(super) fn id(&self) -> Result<NetworkId, CliError> {
        NetworkId::from_name(&self.network)
            .map_err(|e| CliError::Input(format!("--network {:?}: {e}", self.network)))
    }

    /// The id difficulty, checked against the most a network may set.
    pub(super) fn difficulty(&self) -> Result<Difficulty, CliError> {
        Difficulty::new(self.id_difficulty)
            .map_err(|e| CliError::Input(format!("--id-difficulty {}: {e}", self.id_difficulty)))
    }

    /// How nodes of this network prove and check identities.
    pub(super) fn scheme(&self) -> Result<IdentityScheme, CliError> {
        Ok(IdentityScheme::Real {
            difficulty: self.difficulty()?,
        })
    }
}

/// How often a client looks whether every node it asked turned out to speak another network or
/// protocol version (then there is no point waiting for an answer).
const MISMATCH_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Returns once every one of `peers` has sent `client` a datagram of another network or
/// protocol version; never, if the client stops first.
pub(super) async fn all_mismatched(client: &NodeHandle, peers: &[SocketAddr]) {
    if peers.is_empty() {
        return std::future::pending().await;
    }
    loop {
        match client.stats().await {
            Ok(stats) if peers.iter().all(|p| stats.mismatch_from(*p).is_some()) => return,
            Ok(_) => tokio::time::sleep(MISMATCH_POLL).await,
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

/// The error to show when `peers` did not answer but some spoke another network or protocol
/// version: one clause per such peer, naming what it runs and what we run. `None` when none
/// did (the silence is then just silence).
pub(super) async fn explain_silence(
    client: &NodeHandle,
    peers: &[SocketAddr],
    network: &NetworkArgs,
) -> Option<CliError> {
    let stats = client.stats().await.ok()?;
    let clauses: Vec<String> = peers
        .iter()
        .filter_map(|addr| stats.mismatch_from(*addr))
        .map(|peer| {
            let addr = peer.addr;
            match peer.mismatch {
                Mismatch::Network { theirs, ours } => format!(
                    "{addr} runs another network (id {theirs}, we use {:?} = {ours}) — check --network",
                    network.network
                ),
                Mismatch::Version { theirs, ours } if theirs > ours => format!(
                    "{addr} speaks protocol version {theirs}, we speak {ours} — it runs a newer qis; upgrade this one"
                ),
                Mismatch::Version { theirs, ours } => format!(
                    "{addr} speaks protocol version {theirs}, we speak {ours} — it runs an older qis"
                ),
            }
        })
        .collect();
    if clauses.is_empty() && stats.metrics.dropped_unproven > 0 {
        // Someone answered, but not with a proof we accept: most often a node of a network
        // that runs a lower id difficulty than ours.
        return Some(CliError::Failed(format!(
            "{} answer(s) came without a valid identity proof for --id-difficulty {}: the nodes asked may run a lower --id-difficulty (every node and client of a network must use the same value)",
            stats.metrics.dropped_unproven, network.id_difficulty
        )));
    }
    (!clauses.is_empty()).then(|| CliError::Failed(clauses.join("; ")))
}

/// Where qis keeps keys and data unless told otherwise: `$QIS_HOME`, else
/// `$XDG_DATA_HOME/qis`, else `~/.local/share/qis`, else `./.qis`.
pub(super) fn data_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("QIS_HOME") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("qis");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/qis"),
        None => PathBuf::from(".qis"),
    }
}

/// Resolves `host:port` strings (names allowed) to socket addresses: every address of every
/// name (a name may stand for several nodes), IPv4 ones first, each once.
pub(super) async fn resolve(addrs: &[String]) -> Result<Vec<SocketAddr>, CliError> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for addr in addrs {
        for found in lookup("--bootstrap", addr).await? {
            if !out.contains(&found) {
                out.push(found);
            }
        }
    }
    Ok(out)
}

/// The addresses `addr` (HOST:PORT) names, IPv4 ones first (what a default socket reaches),
/// each once; an error names `flag`.
pub(super) async fn lookup(flag: &str, addr: &str) -> Result<Vec<SocketAddr>, CliError> {
    let mut found: Vec<SocketAddr> = Vec::new();
    for a in tokio::net::lookup_host(addr)
        .await
        .map_err(|e| CliError::Input(format!("{flag} {addr}: {e} (expected HOST:PORT)")))?
    {
        if !found.contains(&a) {
            found.push(a);
        }
    }
    if found.is_empty() {
        return Err(CliError::Input(format!("{flag} {addr}: no address found")));
    }
    // Stable: within each family, the resolver's order.
    found.sort_by_key(|a| a.is_ipv6());
    Ok(found)
}

/// Whether a socket bound at `local` can send to `peer`: one of its address family, or any
/// from a dual-stack socket (`[::]`).
pub(super) fn reachable_from(local: SocketAddr, peer: SocketAddr) -> bool {
    match local {
        SocketAddr::V4(_) => peer.is_ipv4(),
        SocketAddr::V6(v6) => v6.ip().is_unspecified() || peer.is_ipv6(),
    }
}

/// A tokio runtime for one command: one thread. A node is one task (its driver) beside a few
/// small ones, so worker threads only add hand-offs: under a 16,384-source flood a two-worker
/// runtime let the node's socket overflow by up to 26,000 datagrams in 5 s, one thread by a
/// few thousand at most, at less CPU (0.61–0.66 of a core against 0.67–0.77).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
