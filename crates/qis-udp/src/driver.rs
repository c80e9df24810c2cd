//! The node task.

use super::handle::{Command, NodeHandle, NodeStats};
use super::journal::{Commit, Journal, Replayed};
use super::mismatch::{Mismatch, Mismatches, Note};
use super::prometheus::{LookupKind, LookupStats};
use super::socket::canonical;
use qis_core::Credentials;
use qis_core::NodeSecret;
use qis_core::Time;
use qis_core::constants::MAX_DATAGRAM;
use qis_core::wire::Role;
use qis_core::{Config, Endpoint, Event, Node, OpId, OpResult};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Datagrams taken from the main socket per wake-up when more are waiting: one group commit
/// of the journal and one flush cover them all.
const RECEIVE_BATCH: usize = 64;

/// A failing journal is logged at most this often.
const JOURNAL_WARNING_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Where each finished command's result goes.
enum Waiter {
    Bootstrap(oneshot::Sender<qis_core::BootstrapReport<SocketAddr>>),
    FindNode(oneshot::Sender<qis_core::LookupReport<SocketAddr>>),
    Get(oneshot::Sender<qis_core::GetReport<SocketAddr>>),
    Put(oneshot::Sender<qis_core::PutReport<SocketAddr>>),
    Ping(oneshot::Sender<Option<qis_core::PingReply<SocketAddr>>>),
}

/// A node's two sockets: its address, and the one its audits leave from. Each is read through
/// tokio and written through a clone of its descriptor (see [`Sockets::new`]).
pub(super) struct Sockets {
    /// The node's address: serving and lookups.
    main: UdpSocket,
    /// Audits of the node's puts (another port, unknown to the network).
    audit: UdpSocket,
    /// The main socket, for sending.
    main_send: std::net::UdpSocket,
    /// The audit socket, for sending.
    audit_send: std::net::UdpSocket,
}

impl Sockets {
    /// Splits each socket into a tokio one to receive and a non-blocking clone of its
    /// descriptor to send. A send on the clone fails with `WouldBlock` only when the send buffer
    /// is full (tokio's `try_send_to` also fails until its reactor has seen the socket
    /// writable, which would drop a new node's first datagrams), and never waits.
    pub(super) fn new(main: UdpSocket, audit: UdpSocket) -> std::io::Result<Sockets> {
        let (main, main_send) = split(main)?;
        let (audit, audit_send) = split(audit)?;
        Ok(Sockets {
            main,
            audit,
            main_send,
            audit_send,
        })
    }
}

/// A tokio socket to receive and a clone of its descriptor to send (non-blocking, like it).
fn split(socket: UdpSocket) -> std::io::Result<(UdpSocket, std::net::UdpSocket)> {
    let std_socket = socket.into_std()?;
    let send = std_socket.try_clone()?;
    Ok((UdpSocket::from_std(std_socket)?, send))
}

struct Driver {
    node: Node<SocketAddr>,
    socket: UdpSocket,
    audit: UdpSocket,
    socket_send: std::net::UdpSocket,
    audit_send: std::net::UdpSocket,
    addr: SocketAddr,
    epoch: Instant,
    waiters: HashMap<OpId, Waiter>,
    /// Peers of another version or network, and the notice budget.
    mismatches: Mismatches,
    /// Finished commands' lookups and how long they took.
    lookups: LookupStats,
    /// Where the records held for others are kept across restarts, if anywhere.
    journal: Option<Journal>,
    /// The core's clock at `epoch` (see [`clock_start`]).
    clock_start: Time,
    /// When a failing journal was last logged.
    journal_warned: Option<Instant>,
    /// Datagrams not sent because the socket's send buffer was full.
    sends_dropped: u64,
}

/// The core's clock when the driver starts: one record lifetime after its epoch, so that
/// records restored from the journal, up to that old, are placed at their real age.
fn clock_start(config: &Config) -> Time {
    Time::ZERO + config.store.ttl
}

pub(super) fn start(
    sockets: Sockets,
    addr: SocketAddr,
    credentials: Credentials,
    secret: NodeSecret,
    mut config: Config,
    journal: Option<(Journal, Replayed)>,
) -> NodeHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    config.journal_held = journal.is_some();
    let start = clock_start(&config);
    let mut node = Node::new(config, secret, credentials, start);
    node.set_unix_time(start, unix_secs());
    let id = node.id();
    let mut driver = Driver {
        node,
        socket: sockets.main,
        audit: sockets.audit,
        socket_send: sockets.main_send,
        audit_send: sockets.audit_send,
        addr,
        epoch: Instant::now(),
        waiters: HashMap::new(),
        mismatches: Mismatches::default(),
        lookups: LookupStats::default(),
        journal: None,
        clock_start: start,
        journal_warned: None,
        sends_dropped: 0,
    };
    if let Some((journal, replayed)) = journal {
        driver.restore(journal, replayed);
    }
    tokio::spawn(driver.run(rx));
    NodeHandle {
        commands: tx,
        id,
        addr,
    }
}

impl Driver {
    fn now(&self) -> Time {
        self.clock_start + self.epoch.elapsed()
    }

    fn instant(&self, t: Time) -> Instant {
        self.epoch + t.saturating_since(self.clock_start)
    }

    /// Takes back what the journal says the node held, then rewrites the journal as exactly
    /// what was taken back.
    fn restore(&mut self, mut journal: Journal, replayed: Replayed) {
        let now = self.now();
        let read = replayed.records.len();
        let (report, rewritten) =
            journal.restore_into(&mut self.node, replayed.records, now, unix_secs());
        if read > 0 || replayed.torn_bytes > 0 || replayed.undecodable > 0 {
            info!(
                journal = %journal.path().display(),
                entries = replayed.entries,
                restored = report.restored,
                expired = report.expired,
                invalid = report.invalid,
                refused = report.refused + report.evicted,
                torn_bytes = replayed.torn_bytes,
                undecodable = replayed.undecodable,
                "took back the records held before the restart"
            );
        }
        if let Err(error) = rewritten {
            warn!(%error, "could not rewrite the journal of held records; appending to it as it is");
        }
        self.journal = Some(journal);
    }

    /// Writes down what the last input changed in the records held, before anything that input
    /// produced is sent (one group commit). Returns false if a change that a datagram about to
    /// be sent may acknowledge could not be made durable.
    fn commit_journal(&mut self) -> bool {
        let now = self.now();
        let Some(journal) = self.journal.as_mut() else {
            return true;
        };
        let commit = journal.write_down(&mut self.node, now, unix_secs());
        if let Commit::Failed { error, .. } = &commit {
            let quiet = self
                .journal_warned
                .is_some_and(|at| at.elapsed() < JOURNAL_WARNING_EVERY);
            if !quiet {
                self.journal_warned = Some(Instant::now());
                warn!(%error, "could not write the journal of held records: stores are not acknowledged until it works again (logged once a minute)");
            }
        }
        commit.may_send()
    }

    /// Feeds one datagram received on the main socket to the core.
    fn on_datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        let now = self.now();
        let from = canonical(from);
        let before = self.version_and_network_drops();
        self.node.handle_datagram(now, from, bytes);
        if self.version_and_network_drops() != before {
            self.on_mismatch(now, from, bytes);
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let mut audit_buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            // With no deadline, sleep a long time: a command or datagram will wake us.
            let deadline = self
                .node
                .poll_timeout()
                .map_or(self.epoch + std::time::Duration::from_secs(1 << 30), |t| {
                    self.instant(t)
                });
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        self.on_datagram(from, &buf[..len]);
                        // Whatever else is already waiting, so that one commit and one flush
                        // serve the whole batch.
                        for _ in 1..RECEIVE_BATCH {
                            let Ok((len, from)) = self.socket.try_recv_from(&mut buf) else {
                                break;
                            };
                            self.on_datagram(from, &buf[..len]);
                        }
                    }
                    // ICMP errors surface here on some systems; the peer is simply not there.
                    Err(error) => debug!(%error, "recv failed"),
                },
                received = self.audit.recv_from(&mut audit_buf) => match received {
                    Ok((len, from)) => {
                        let now = self.now();
                        self.node.handle_audit_datagram(now, canonical(from), &audit_buf[..len]);
                    }
                    Err(error) => debug!(%error, "audit socket recv failed"),
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let now = self.now();
                    // Every timer: the node's wall clock follows a stepped system clock.
                    self.node.set_unix_time(now, unix_secs());
                    self.node.handle_timeout(now);
                }
                command = commands.recv() => match command {
                    Some(Command::Shutdown(done)) => {
                        self.commit_and_flush();
                        let _ = done.send(self.stats());
                        return;
                    }
                    Some(command) => self.command(command),
                    None => return,
                },
            }
            self.commit_and_flush();
        }
    }

    /// Commits the journal, then sends what the core produced; if a change those datagrams
    /// may acknowledge could not be made durable, they are dropped instead (their requests
    /// time out and are retried or go elsewhere, as if this node were down).
    fn commit_and_flush(&mut self) {
        if !self.commit_journal() {
            while self.node.poll_transmit().is_some() {}
        }
        self.flush();
    }

    fn version_and_network_drops(&self) -> (u64, u64) {
        let m = self.node.metrics();
        (m.dropped_version, m.dropped_wrong_network)
    }

    /// A datagram the core dropped for its version or network: remember the peer and log one
    /// line the first time per address. (The core itself answers a requester of another
    /// network with a notice.)
    fn on_mismatch(&mut self, now: Time, from: SocketAddr, bytes: &[u8]) {
        let ours = self.node.config().network;
        let Some(mismatch) = Mismatch::of_datagram(bytes, ours) else {
            return;
        };
        let serving = self.node.role() == Role::Node;
        match self.mismatches.note(now, from, mismatch) {
            // A client's application reports this to its user (see NodeStats::mismatch_from),
            // so its log line would only say the same thing twice.
            Note::First if !serving => {
                debug!("{from} {mismatch}: its datagrams are dropped")
            }
            Note::First => warn!(
                "{from} {mismatch}: its datagrams are dropped (counted; logged once per address)"
            ),
            Note::Summary(datagrams) => warn!(
                "{datagrams} more datagram(s) of another protocol version or network from addresses not listed (last {from}: {mismatch})"
            ),
            Note::Again | Note::Quiet => {}
        }
    }

    fn command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Bootstrap(addrs, tx) => {
                let op = self.node.bootstrap(now, &addrs);
                self.waiters.insert(op, Waiter::Bootstrap(tx));
            }
            Command::FindNode(target, tx) => {
                let op = self.node.find_node(now, target);
                self.waiters.insert(op, Waiter::FindNode(tx));
            }
            Command::Get(key, tx) => {
                let op = self.node.get(now, key);
                self.waiters.insert(op, Waiter::Get(tx));
            }
            Command::Put {
                key,
                record,
                republish,
                reply,
            } => {
                let op = if republish {
                    self.node.publish(now, key, *record)
                } else {
                    self.node.put(now, key, *record)
                };
                self.waiters.insert(op, Waiter::Put(reply));
            }
            Command::Unpublish {
                key,
                content,
                reply,
            } => {
                let _ = reply.send(self.node.unpublish(key, content));
            }
            Command::Ping(addr, tx) => {
                let op = self.node.ping(now, addr);
                self.waiters.insert(op, Waiter::Ping(tx));
            }
            Command::Stats(tx) => {
                let _ = tx.send(self.stats());
            }
            Command::RecheckReachability => self.node.recheck_reachability(now),
            Command::Shutdown(_) => {}
        }
    }

    fn stats(&self) -> NodeStats {
        NodeStats {
            id: self.node.id().to_hex(),
            addr: self.addr,
            role: self.node.role(),
            table_size: self.node.table().len(),
            records: self.node.store().len(),
            metrics: *self.node.metrics(),
            mismatches: self.mismatches.peers().to_vec(),
            notices_sent: self.node.metrics().network_notices_sent,
            lookups: self.lookups,
            journal: self.journal.as_ref().map(Journal::stats),
            sends_dropped: self.sends_dropped,
            reachability: self.node.reachability(),
        }
    }

    /// Sends every queued datagram and delivers every event.
    fn flush(&mut self) {
        while let Some(transmit) = self.node.poll_transmit() {
            let socket = match transmit.via {
                Endpoint::Main => &self.socket_send,
                Endpoint::Audit => &self.audit_send,
            };
            // Never wait for room in the send buffer: under a flood it fills with answers the
            // kernel has not yet delivered, and waiting would stall every honest request
            // queued behind. A datagram that does not fit is lost, as on the wire (counted).
            match socket.send_to(&transmit.payload, transmit.to) {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    self.sends_dropped += 1;
                }
                // An unreachable peer must not stop the node; the request times out as lost.
                Err(error) => debug!(%error, to = %transmit.to, "send failed"),
            }
        }
        while let Some(event) = self.node.poll_event() {
            self.deliver(event);
        }
    }

    fn deliver(&mut self, event: Event<SocketAddr>) {
        match event {
            // The final report carries every record; nothing here streams them earlier.
            Event::Records { .. } => {}
            Event::Finished { op, result } => {
                let Some(waiter) = self.waiters.remove(&op) else {
                    return;
                };
                // Counted whether or not anybody still waits: the lookup ran.
                let mut observe = |kind, elapsed| self.lookups.observe(kind, elapsed);
                let delivered = match (waiter, result) {
                    (Waiter::Bootstrap(tx), OpResult::Bootstrap(r)) => {
                        observe(LookupKind::Bootstrap, r.lookup.elapsed);
                        tx.send(r).is_ok()
                    }
                    (Waiter::FindNode(tx), OpResult::FindNode(r)) => {
                        observe(LookupKind::FindNode, r.elapsed);
                        tx.send(r).is_ok()
                    }
                    (Waiter::Get(tx), OpResult::Get(r)) => {
                        observe(LookupKind::Get, r.lookup.elapsed);
                        tx.send(r).is_ok()
                    }
                    (Waiter::Put(tx), OpResult::Put(r)) => {
                        observe(LookupKind::Put, r.lookup.elapsed);
                        tx.send(r).is_ok()
                    }
                    (Waiter::Ping(tx), OpResult::Ping(r)) => tx.send(r).is_ok(),
                    _ => {
                        warn!(?op, "a command finished with a result of another kind");
                        false
                    }
                };
                if !delivered {
                    debug!(?op, "nobody waits for this result any more");
                }
            }
        }
    }
}

/// The system clock in seconds since the Unix epoch (0 for a clock set before 1970), for the
/// node's wall clock ([`Node::set_unix_time`]).
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
