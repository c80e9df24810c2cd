//! qis as a [`System`] (feature `qis`). Every call into qis is in this file, marked
//! `QIS-API`, so the harness follows the crate's API by editing this file alone.
//!
//! Written against `qis_udp` as of the main branch's "loopback exemption" commit:
//! `spawn(&Identity, NodeOptions) -> NodeHandle`, `NodeHandle::{bootstrap, find_node,
//! shutdown, id, local_addr}`, and the `qis_core::wire` codec for the load generator.

use crate::loadgen::LoadProtocol;
use crate::measure::cpu::ThreadCpu;
use crate::rng::Rng;
use crate::system::{LookupOutcome, ProofCounters, Result, System};
use qis_core::Config;
use qis_core::Id;
use qis_core::Identity;
use qis_core::constants::{PROTOCOL_VERSION, UNVERIFIED_REQUEST_MIN};
use qis_core::wire::{self, Body, Header, Message, NetworkId, Padding, Role, TxId};
use qis_core::{RecordKind, SignedRecord};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Name of the runtime threads that run every qis node (/proc comm is at most 15 bytes).
const THREAD_PREFIX: &str = "qis-node";

/// Upper bound on one lookup and on one join.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Bootstrap addresses given to each joining node (the most recent earlier nodes).
const BOOTSTRAP_FANOUT: usize = 8;

/// Secret key seed of the one identity that signs every value the harness stores.
const VALUE_SIGNER_SEED: [u8; 32] = [0x5a; 32];

/// The harness's own network, so its datagrams can never be taken for the public network's.
const NETWORK: &str = "qis-compare";

/// A network of qis nodes, all in one dedicated tokio runtime.
pub struct QisSystem {
    rt: Option<tokio::runtime::Runtime>,
    nodes: Vec<NodeHandle>,
    ids: Vec<Vec<u8>>,
    network: NetworkId,
    /// Listen on `[::1]` instead of 127.0.0.1 (IPv6 addresses encode 12 bytes longer).
    ipv6: bool,
}

impl QisSystem {
    /// No network yet; `build` starts one, on `[::1]` if `ipv6`, else on 127.0.0.1.
    pub fn new(ipv6: bool) -> Result<QisSystem> {
        Ok(QisSystem {
            ipv6,
            rt: None,
            nodes: Vec::new(),
            ids: Vec::new(),
            network: NetworkId::from_name(NETWORK).expect("NETWORK is a valid network name"),
        })
    }

    /// The runtime of the current network (two workers: the machine has two cores, all that
    /// mainline's threads can use too).
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

    /// Starts `n` nodes on 127.0.0.1 one after another; each joins through up to
    /// [`BOOTSTRAP_FANOUT`] earlier nodes (a bootstrap is a lookup of its own id plus, by
    /// default, the Kademlia bucket refresh).
    fn start(&mut self, n: usize) -> Result<()> {
        let network = self.network;
        let host: std::net::IpAddr = if self.ipv6 {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            Ipv4Addr::LOCALHOST.into()
        };
        let rt = self.runtime()?.handle().clone();
        let nodes: Vec<NodeHandle> = rt.block_on(async {
            let mut nodes: Vec<NodeHandle> = Vec::with_capacity(n);
            for i in 0..n {
                // QIS-API: identity and node options.
                let identity = Identity::from_secret_key(seed_bytes(n as u64, i as u64));
                let config = Config {
                    network,
                    // The limit is per source host, and every node here is 127.0.0.1: it would
                    // throttle the network's own lookups. mainline has no limit either.
                    rate_limit: None,
                    ..Config::default()
                };
                let options = NodeOptions {
                    listen: SocketAddr::from((host, 0)),
                    config,
                    socket: SocketOptions::default(),
                };
                // The real identity scheme (a proof on first contact, one Argon2id check per
                // new peer), at no id difficulty so the swarm starts at once.
                let credentials = qis_core::Credentials::real(
                    &identity,
                    qis_core::IdWork(0),
                    qis_core::Difficulty::NONE,
                )
                .map_err(|e| format!("qis credentials: {e}"))?;
                let handle = qis_udp::spawn(&credentials, options)
                    .await
                    .map_err(|e| format!("qis spawn: {e}"))?;
                let seeds: Vec<SocketAddr> = nodes[i.saturating_sub(BOOTSTRAP_FANOUT)..]
                    .iter()
                    .map(|h| h.local_addr())
                    .collect();
                if !seeds.is_empty() {
                    // QIS-API: join.
                    let h = handle.clone();
                    let join = tokio::spawn(async move { h.bootstrap(seeds).await });
                    let _ = tokio::time::timeout(LOOKUP_LIMIT, join).await;
                }
                nodes.push(handle);
            }
            Ok::<_, String>(nodes)
        })?;
        // QIS-API: node id bytes.
        self.ids = nodes.iter().map(|h| h.id().as_bytes().to_vec()).collect();
        self.nodes = nodes;
        Ok(())
    }
}

/// A per-node identity seed fixed by the network size and the node's index.
fn seed_bytes(n: u64, i: u64) -> [u8; 32] {
    let mut rng = Rng::new(n.wrapping_mul(0x1000_0001) ^ i);
    let mut seed = [0u8; 32];
    rng.fill(&mut seed);
    seed
}

impl System for QisSystem {
    fn name(&self) -> &'static str {
        "qis"
    }

    fn thread_prefix(&self) -> &'static str {
        THREAD_PREFIX
    }

    fn build(&mut self, n: usize) -> Result<()> {
        self.start(n)
    }

    fn node_ids(&self) -> Vec<Vec<u8>> {
        self.ids.clone()
    }

    fn lookup(&mut self, origin: usize, target: [u8; 32]) -> Result<LookupOutcome> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?.clone();
        let rt = self.runtime()?;
        let target = Id::from_bytes(target);
        // Spawned, so the lookup's work runs on the qis-node threads and is charged to qis.
        let report = rt
            .block_on(async move {
                // QIS-API: lookup.
                let task = tokio::spawn(async move { node.find_node(target).await });
                tokio::time::timeout(LOOKUP_LIMIT, task).await
            })
            .map_err(|_| "qis lookup timed out".to_string())?
            .map_err(|e| format!("qis lookup task: {e}"))?
            .map_err(|e| format!("qis lookup: {e}"))?;
        // QIS-API: LookupReport { closest: Vec<Hop { contact: Contact { id, .. }, .. }>, .. }.
        Ok(LookupOutcome {
            closest: report
                .closest
                .iter()
                .map(|hop| hop.contact.id.as_bytes().to_vec())
                .collect(),
            requests_sent: Some(u64::from(report.requests)),
        })
    }

    fn proof_counters(&mut self) -> Option<ProofCounters> {
        let nodes = self.nodes.clone();
        let rt = self.runtime().ok()?;
        rt.block_on(async move {
            let mut sum = ProofCounters::default();
            for node in nodes {
                // QIS-API: NodeStats { metrics: Metrics { proofs_checked, id_work_evaluations } }.
                let stats = node.stats().await.ok()?;
                sum.checked += stats.metrics.proofs_checked;
                sum.work_evaluated += stats.metrics.id_work_evaluations;
            }
            Some(sum)
        })
    }

    fn teardown(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.ids.clear();
        if let Some(rt) = self.rt.take() {
            rt.block_on(async {
                for h in nodes {
                    // QIS-API: graceful stop.
                    let _ = tokio::time::timeout(Duration::from_secs(5), h.shutdown()).await;
                }
            });
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        let mut cpu = ThreadCpu::new();
        let until = Instant::now() + Duration::from_secs(10);
        while cpu.count(THREAD_PREFIX) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn serve_single(&mut self, network: usize) -> Result<SocketAddr> {
        // The last node joined the others the ordinary way; it is the one under load.
        self.start(network + 1)?;
        Ok(self
            .nodes
            .last()
            .expect("network + 1 > 0 nodes")
            .local_addr())
    }

    fn has_values(&self) -> bool {
        true
    }

    fn put(&mut self, origin: usize, key: [u8; 32], value: &[u8]) -> Result<()> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?.clone();
        // QIS-API: a signed raw record (the default policy stores any signed payload).
        let signer = Identity::from_secret_key(VALUE_SIGNER_SEED);
        let record = SignedRecord::sign(signer.signing_key(), RecordKind::Raw, 1, value.to_vec())
            .map_err(|e| format!("qis record: {e}"))?;
        let rt = self.runtime()?;
        rt.block_on(async move {
            // QIS-API: store once at the k closest.
            let task = tokio::spawn(async move { node.put(Id::from_bytes(key), record).await });
            tokio::time::timeout(LOOKUP_LIMIT, task).await
        })
        .map_err(|_| "qis put timed out".to_string())?
        .map_err(|e| format!("qis put task: {e}"))?
        .map_err(|e| format!("qis put: {e}"))?;
        Ok(())
    }

    fn get(&mut self, origin: usize, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?.clone();
        let rt = self.runtime()?;
        let report = rt
            .block_on(async move {
                // QIS-API: fetch every record under the key.
                let task = tokio::spawn(async move { node.get(Id::from_bytes(key)).await });
                tokio::time::timeout(LOOKUP_LIMIT, task).await
            })
            .map_err(|_| "qis get timed out".to_string())?
            .map_err(|e| format!("qis get task: {e}"))?
            .map_err(|e| format!("qis get: {e}"))?;
        Ok(report.records.into_iter().next().map(|r| r.payload))
    }

    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>> {
        Some(Box::new(QisFindNode {
            network: self.network,
        }))
    }
}

/// qis FIND_NODE requests as a stranger sends them: a fresh random sender key and target each
/// time, no token, padded to [`UNVERIFIED_REQUEST_MIN`], role `Client` (never entered into
/// the node's table, like the mainline load's random requester ids).
struct QisFindNode {
    network: NetworkId,
}

impl LoadProtocol for QisFindNode {
    fn encode_request(&mut self, txid: u32, rng: &mut Rng, buf: &mut Vec<u8>) {
        let mut sender = [0u8; 32];
        rng.fill(&mut sender);
        let target = Id::from_bytes(rng.target());
        encode_find_node(self.network, txid, sender, target, buf);
    }

    fn decode_reply(&self, datagram: &[u8]) -> Option<u32> {
        decode_answer_txid(self.network, datagram)
    }
}

/// QIS-CODEC: one unverified FIND_NODE request datagram into `buf`.
fn encode_find_node(
    network: NetworkId,
    txid: u32,
    sender: [u8; 32],
    target: Id,
    buf: &mut Vec<u8>,
) {
    let mut message: Message<SocketAddr> = Message {
        header: Header {
            version: PROTOCOL_VERSION,
            network,
            txid: TxId(txid),
            sender: Id::from_bytes(sender),
            role: Role::Client,
            auth: wire::Auth::None,
        },
        body: Body::FindNode {
            target,
            token: None,
            pad: Padding(0),
        },
    };
    // Grow the padding until the request reaches the minimum (the padding's length prefix
    // may grow by a byte on the way).
    let bare = wire::encoded_len(&message);
    let mut pad = UNVERIFIED_REQUEST_MIN.saturating_sub(bare);
    loop {
        if let Body::FindNode { pad: p, .. } = &mut message.body {
            *p = Padding(pad as u16);
        }
        if wire::encoded_len(&message) >= UNVERIFIED_REQUEST_MIN || pad >= UNVERIFIED_REQUEST_MIN {
            break;
        }
        pad += 1;
    }
    buf.clear();
    if let Ok(bytes) = wire::encode(&message) {
        buf.extend_from_slice(&bytes);
    }
}

/// QIS-CODEC: the txid of a `Nodes` answer (a cut answer counts: it is still an answer).
fn decode_answer_txid(network: NetworkId, datagram: &[u8]) -> Option<u32> {
    let message: Message<SocketAddr> = wire::decode(datagram, network).ok()?;
    match message.body {
        Body::Nodes { .. } => Some(message.header.txid.0),
        _ => None,
    }
}
