//! rust-libp2p's Kademlia (`libp2p-kad` 0.49 in `libp2p` 0.57) as a [`System`], feature
//! `libp2p`: every node is a `Swarm` of `kad::Behaviour<MemoryStore>` over QUIC on
//! 127.0.0.1 (UDP, so datagrams and bytes are counted as for the others), at the crate's
//! defaults: k = 20, α = 3, 10 s idle connection timeout, 5 s QUIC keep-alive. Each swarm is
//! a task on one tokio runtime whose threads are named [`THREAD_PREFIX`].
//!
//! Ids: libp2p-kad measures distance between SHA-256 hashes of the peer id and of the key,
//! so node ids and lookup targets are given to the runner in that hashed space, and recall is
//! the share of the true 20 closest by that distance.
//!
//! Nodes join as mainline's `joined` network does: kad adds to its table only peers it
//! dialled (an inbound peer's listen address is unknown without `identify`), so every node
//! gets [`BOOTSTRAP_FANOUT`] random other nodes, then runs kad's bootstrap (a self-lookup
//! plus bucket refreshes) [`JOIN_ROUNDS`] times.

use crate::loadgen::LoadProtocol;
use crate::measure::cpu::ThreadCpu;
use crate::rng::Rng;
use crate::system::{LookupOutcome, Result, System};
use libp2p::futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::kad::{self, store::MemoryStore};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Name of the runtime threads that run every swarm (/proc comm is at most 15 bytes).
const THREAD_PREFIX: &str = "libp2p-node";

/// Name of the `futures-timer` crate's global thread, which runs libp2p's timers (only libp2p
/// uses that crate here, so its CPU is libp2p's).
const TIMER_THREAD: &str = "futures-timer";

/// Upper bound on one lookup, put or get, and on one bootstrap.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Random other nodes each node is given before its bootstrap.
const BOOTSTRAP_FANOUT: usize = 8;

/// kad bootstraps per node after all nodes listen.
const JOIN_ROUNDS: usize = 2;

/// Bootstraps run at once while joining.
const JOIN_CONCURRENCY: usize = 16;

/// What a node task is asked to do.
enum Query {
    Closest(Vec<u8>),
    Put(Vec<u8>, Vec<u8>),
    Get(Vec<u8>),
    Bootstrap(Vec<(PeerId, Multiaddr)>),
}

/// What a finished query reports.
#[derive(Default)]
struct Done {
    ok: bool,
    peers: Vec<PeerId>,
    value: Option<Vec<u8>>,
}

/// A running node: its command channel, peer id and listen address.
struct Node {
    tx: mpsc::UnboundedSender<(Query, oneshot::Sender<Done>)>,
    peer: PeerId,
    addr: Multiaddr,
}

/// A network of libp2p Kademlia nodes on one runtime.
pub struct Libp2pSystem {
    rt: Option<tokio::runtime::Runtime>,
    nodes: Vec<Node>,
    ids: Vec<Vec<u8>>,
}

/// SHA-256 of `bytes`: the space libp2p-kad measures distance in.
fn kad_space(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

impl Libp2pSystem {
    /// No network yet; `build` starts one.
    pub fn new() -> Result<Libp2pSystem> {
        Ok(Libp2pSystem {
            rt: None,
            nodes: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// The runtime of the current network (two workers, as for qis).
    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime> {
        if self.rt.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(THREAD_PREFIX)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?;
            self.rt = Some(rt);
        }
        Ok(self.rt.as_ref().expect("just set"))
    }

    /// Starts `n` listening nodes, then joins them (see the module comment).
    fn start(&mut self, n: usize) -> Result<()> {
        let rt = self.runtime()?.handle().clone();
        let nodes = rt.block_on(async {
            let mut nodes = Vec::with_capacity(n);
            for i in 0..n {
                nodes.push(spawn_node(n as u64, i as u64).await?);
            }
            Ok::<_, String>(nodes)
        })?;
        let mut rng = Rng::new(n as u64);
        let mut joins = Vec::with_capacity(n);
        for i in 0..n {
            let mut seeds = Vec::with_capacity(BOOTSTRAP_FANOUT);
            for _ in 0..BOOTSTRAP_FANOUT.min(n - 1) {
                let j = (i + 1 + rng.below(n - 1)) % n;
                seeds.push((nodes[j].peer, nodes[j].addr.clone()));
            }
            joins.push(seeds);
        }
        for round in 0..JOIN_ROUNDS {
            for chunk in (0..n).collect::<Vec<_>>().chunks(JOIN_CONCURRENCY) {
                let waits: Vec<_> = chunk
                    .iter()
                    .map(|&i| {
                        let seeds = if round == 0 {
                            joins[i].clone()
                        } else {
                            Vec::new()
                        };
                        ask(&nodes[i], Query::Bootstrap(seeds))
                    })
                    .collect();
                rt.block_on(async {
                    for w in waits {
                        let _ = tokio::time::timeout(LOOKUP_LIMIT, w).await;
                    }
                });
            }
        }
        self.ids = nodes
            .iter()
            .map(|nd| kad_space(&nd.peer.to_bytes()))
            .collect();
        self.nodes = nodes;
        Ok(())
    }

    /// Runs `query` at node `origin` and waits for it to finish.
    fn run(&mut self, origin: usize, query: Query) -> Result<Done> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?;
        let wait = ask(node, query);
        let rt = self.rt.as_ref().ok_or("libp2p: no network")?;
        rt.block_on(async { tokio::time::timeout(LOOKUP_LIMIT, wait).await })
            .map_err(|_| "libp2p query timed out".to_string())?
            .map_err(|_| "libp2p node stopped".to_string())
    }
}

/// Sends `query` to `node`; the receiver yields its result.
fn ask(node: &Node, query: Query) -> oneshot::Receiver<Done> {
    let (tx, rx) = oneshot::channel();
    // A stopped node drops `tx`, which the receiver reports.
    let _ = node.tx.send((query, tx));
    rx
}

/// Starts one swarm (identity from a seed fixed by size and index) listening on
/// 127.0.0.1 over QUIC, driven by its own task; returns once its address is known.
async fn spawn_node(n: u64, i: u64) -> Result<Node> {
    let mut seed = [0u8; 32];
    Rng::new(n.wrapping_mul(0x2000_0003) ^ i).fill(&mut seed);
    let keypair = Keypair::ed25519_from_bytes(seed).map_err(|e| format!("libp2p key: {e}"))?;
    let peer = keypair.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_quic()
        .with_behaviour(|key| {
            let id = key.public().to_peer_id();
            let mut kad = kad::Behaviour::with_config(
                id,
                MemoryStore::new(id),
                kad::Config::new(kad::PROTOCOL_NAME),
            );
            // Server mode answers requests; without it kad waits for a confirmed external
            // address, which loopback nodes without `identify` never get.
            kad.set_mode(Some(kad::Mode::Server));
            kad
        })
        .map_err(|e| format!("libp2p behaviour: {e}"))?
        .build();
    let listen: Multiaddr = "/ip4/127.0.0.1/udp/0/quic-v1"
        .parse()
        .expect("valid multiaddr");
    swarm
        .listen_on(listen)
        .map_err(|e| format!("libp2p listen: {e}"))?;
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(swarm, rx));
    Ok(Node { tx, peer, addr })
}

/// A node's task: starts the queries it is sent and answers each when its last step is in.
/// Ends when the command channel closes.
async fn drive(
    mut swarm: Swarm<kad::Behaviour<MemoryStore>>,
    mut rx: mpsc::UnboundedReceiver<(Query, oneshot::Sender<Done>)>,
) {
    let mut pending: HashMap<kad::QueryId, (oneshot::Sender<Done>, Done)> = HashMap::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some((query, reply)) = cmd else { break };
                let kad = swarm.behaviour_mut();
                let id = match query {
                    Query::Closest(target) => kad.get_closest_peers(target),
                    Query::Put(key, value) => {
                        let record = kad::Record::new(kad::RecordKey::new(&key), value);
                        match kad.put_record(record, kad::Quorum::One) {
                            Ok(id) => id,
                            Err(_) => {
                                let _ = reply.send(Done::default());
                                continue;
                            }
                        }
                    }
                    Query::Get(key) => kad.get_record(kad::RecordKey::new(&key)),
                    Query::Bootstrap(seeds) => {
                        for (peer, addr) in seeds {
                            kad.add_address(&peer, addr);
                        }
                        match kad.bootstrap() {
                            Ok(id) => id,
                            Err(_) => {
                                let _ = reply.send(Done::default());
                                continue;
                            }
                        }
                    }
                };
                pending.insert(id, (reply, Done::default()));
            }
            event = swarm.select_next_some() => {
                if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                    id, result, step, ..
                }) = event
                {
                    let Some((_, done)) = pending.get_mut(&id) else { continue };
                    record_progress(done, result);
                    if step.last
                        && let Some((reply, done)) = pending.remove(&id)
                    {
                        let _ = reply.send(done);
                    }
                }
            }
        }
    }
}

/// Folds one progress event of a query into its result.
fn record_progress(done: &mut Done, result: kad::QueryResult) {
    match result {
        kad::QueryResult::GetClosestPeers(Ok(ok)) => {
            done.ok = true;
            done.peers = ok.peers.into_iter().map(|p| p.peer_id).collect();
        }
        kad::QueryResult::GetClosestPeers(Err(kad::GetClosestPeersError::Timeout {
            peers,
            ..
        })) => {
            done.peers = peers.into_iter().map(|p| p.peer_id).collect();
        }
        kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) => {
            done.ok = true;
            done.value.get_or_insert(found.record.value);
        }
        kad::QueryResult::GetRecord(Ok(_)) => done.ok = true,
        kad::QueryResult::PutRecord(r) => done.ok = r.is_ok(),
        kad::QueryResult::Bootstrap(r) => done.ok = r.is_ok(),
        _ => {}
    }
}

impl System for Libp2pSystem {
    fn name(&self) -> &'static str {
        "libp2p"
    }

    fn thread_prefix(&self) -> &'static str {
        THREAD_PREFIX
    }

    fn helper_thread_prefix(&self) -> Option<&'static str> {
        Some(TIMER_THREAD)
    }

    fn build(&mut self, n: usize) -> Result<()> {
        self.start(n)
    }

    /// SHA-256 of each peer id: kad's distance space.
    fn node_ids(&self) -> Vec<Vec<u8>> {
        self.ids.clone()
    }

    fn lookup(&mut self, origin: usize, target: [u8; 32]) -> Result<LookupOutcome> {
        let done = self.run(origin, Query::Closest(target.to_vec()))?;
        Ok(LookupOutcome {
            closest: done
                .peers
                .iter()
                .map(|p| kad_space(&p.to_bytes()))
                .collect(),
            requests_sent: None,
        })
    }

    fn recall_target(&self, target: [u8; 32]) -> Vec<u8> {
        kad_space(&target)
    }

    fn has_values(&self) -> bool {
        true
    }

    fn put(&mut self, origin: usize, key: [u8; 32], value: &[u8]) -> Result<()> {
        match self.run(origin, Query::Put(key.to_vec(), value.to_vec()))? {
            Done { ok: true, .. } => Ok(()),
            _ => Err("libp2p put_record did not reach its quorum".into()),
        }
    }

    fn get(&mut self, origin: usize, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        Ok(self.run(origin, Query::Get(key.to_vec()))?.value)
    }

    fn teardown(&mut self) {
        // Closing the channels ends the tasks, which drops the swarms.
        self.nodes.clear();
        self.ids.clear();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        let mut cpu = ThreadCpu::new();
        let until = Instant::now() + Duration::from_secs(10);
        while cpu.count(THREAD_PREFIX) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn serve_single(&mut self, _network: usize) -> Result<SocketAddr> {
        Err("libp2p: no load protocol (QUIC + multistream-select + protobuf)".into())
    }

    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>> {
        None
    }
}
