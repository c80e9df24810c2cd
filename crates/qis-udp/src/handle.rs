//! The application's side of a running node: async commands answered by the node task.

use super::NetError;
use super::mismatch::PeerMismatch;
use super::prometheus::LookupStats;
use qis_core::Id;
use qis_core::LookupReport;
use qis_core::Metrics;
use qis_core::wire::Role;
use qis_core::{BootstrapReport, GetReport, PingReply, PutReport};
use qis_core::{RecordId, SignedRecord};
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// A snapshot of a node's state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStats {
    /// Node id (hex).
    pub id: String,
    /// Listening address.
    pub addr: SocketAddr,
    /// What the node is to the network: a full node others enter into their tables, or a
    /// client that only asks. Read from the core each time, so it follows the core when the
    /// role can change while the node runs.
    pub role: Role,
    /// Routing-table entries.
    pub table_size: usize,
    /// Records held for others.
    pub records: usize,
    /// Counters (`dropped_version` and `dropped_wrong_network` count the datagrams of another
    /// protocol version or network).
    pub metrics: Metrics,
    /// The peers whose datagrams were of another protocol version or network, first seen first
    /// (at most [`MAX_MISMATCHED_PEERS`](crate::MAX_MISMATCHED_PEERS)).
    pub mismatches: Vec<PeerMismatch>,
    /// Network notices sent: answers telling a requester of another network which network this
    /// node runs ([`qis_core::wire::network_notice`]).
    pub notices_sent: u64,
    /// The lookups of finished commands, by kind, and their latency histogram.
    pub lookups: LookupStats,
    /// The journal of held records, if the node keeps one ([`crate::spawn_keeping`]).
    pub journal: Option<crate::JournalStats>,
    /// Datagrams not sent because the socket's send buffer was full (the node never waits
    /// for room: a flood must not stall it).
    pub sends_dropped: u64,
    /// What the reachability checks found, for a node in the automatic role (`None`: a
    /// fixed role).
    pub reachability: Option<qis_core::ReachReport<SocketAddr>>,
}

impl NodeStats {
    /// What `addr` sent of another protocol version or network, if it did.
    pub fn mismatch_from(&self, addr: SocketAddr) -> Option<&PeerMismatch> {
        self.mismatches.iter().find(|p| p.addr == addr)
    }
}

pub(super) enum Command {
    Bootstrap(
        Vec<SocketAddr>,
        oneshot::Sender<BootstrapReport<SocketAddr>>,
    ),
    FindNode(Id, oneshot::Sender<LookupReport<SocketAddr>>),
    Get(Id, oneshot::Sender<GetReport<SocketAddr>>),
    Put {
        key: Id,
        // Boxed: the command channel allocates its slots in blocks of 32 up front, and an
        // inline record made every slot 184 bytes (6 KB per node before any command).
        record: Box<SignedRecord>,
        republish: bool,
        reply: oneshot::Sender<PutReport<SocketAddr>>,
    },
    Unpublish {
        key: Id,
        content: RecordId,
        reply: oneshot::Sender<bool>,
    },
    Ping(SocketAddr, oneshot::Sender<Option<PingReply<SocketAddr>>>),
    Stats(oneshot::Sender<NodeStats>),
    RecheckReachability,
    Shutdown(oneshot::Sender<NodeStats>),
}

/// A cloneable handle to a node task.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) id: Id,
    pub(super) addr: SocketAddr,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl NodeHandle {
    /// The node's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Joins the network through the bootstrap addresses `addrs`.
    pub async fn bootstrap(
        &self,
        addrs: Vec<SocketAddr>,
    ) -> Result<BootstrapReport<SocketAddr>, NetError> {
        self.ask(|tx| Command::Bootstrap(addrs, tx)).await
    }

    /// Looks up the k nodes closest to `target`.
    pub async fn find_node(&self, target: Id) -> Result<LookupReport<SocketAddr>, NetError> {
        self.ask(|tx| Command::FindNode(target, tx)).await
    }

    /// Fetches every value under `key`.
    pub async fn get(&self, key: Id) -> Result<GetReport<SocketAddr>, NetError> {
        self.ask(|tx| Command::Get(key, tx)).await
    }

    /// Stores `record` at the k closest nodes once.
    pub async fn put(
        &self,
        key: Id,
        record: SignedRecord,
    ) -> Result<PutReport<SocketAddr>, NetError> {
        self.store(key, record, false).await
    }

    /// Stores `record` and keeps republishing it while the node runs.
    pub async fn publish(
        &self,
        key: Id,
        record: SignedRecord,
    ) -> Result<PutReport<SocketAddr>, NetError> {
        self.store(key, record, true).await
    }

    /// Stops republishing the record of content id `content` (see
    /// [`SignedRecord::content_id`]) under `key`; returns whether the node was republishing it.
    pub async fn unpublish(&self, key: Id, content: RecordId) -> Result<bool, NetError> {
        self.ask(|reply| Command::Unpublish {
            key,
            content,
            reply,
        })
        .await
    }

    async fn store(
        &self,
        key: Id,
        record: SignedRecord,
        republish: bool,
    ) -> Result<PutReport<SocketAddr>, NetError> {
        let record = Box::new(record);
        self.ask(|reply| Command::Put {
            key,
            record,
            republish,
            reply,
        })
        .await
    }

    /// Pings an address.
    pub async fn ping(&self, addr: SocketAddr) -> Result<Option<PingReply<SocketAddr>>, NetError> {
        self.ask(|tx| Command::Ping(addr, tx)).await
    }

    /// Current state and counters.
    pub async fn stats(&self) -> Result<NodeStats, NetError> {
        self.ask(Command::Stats).await
    }

    /// Asks the node to check its reachability again now (it does, in the automatic role):
    /// for a driver that knows something changed, such as a port mapping made at the gateway.
    pub fn recheck_reachability(&self) {
        let _ = self.commands.send(Command::RecheckReachability);
    }

    /// Stops the node task and waits until it has.
    pub async fn shutdown(&self) {
        let _ = self.stop().await;
    }

    /// Stops the node task and returns its counters as it stopped: it has read its last
    /// input, written the journal of held records down (synced) and sent what that input
    /// produced.
    pub async fn stop(&self) -> Result<NodeStats, NetError> {
        self.ask(Command::Shutdown).await
    }
}
