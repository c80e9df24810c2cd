//! qis as a [`System`] (feature `qis`). Every call into qis is in this file, marked
//! `QIS-API`, so the harness follows the crate's API by editing this file alone.
//!
//! Written against the intended API of `qis::net`:
//! `NodeConfig { listen, bootstrap, network_id, .. }`, `spawn(config) -> Result<NodeHandle>`,
//! `NodeHandle::{local_addr, id, find_node(target) -> LookupReport, shutdown}`.

use crate::loadgen::LoadProtocol;
use crate::measure::cpu::ThreadCpu;
use crate::rng::Rng;
use crate::system::{LookupOutcome, Result, System};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Name of the runtime threads that run every qis node (/proc comm is at most 15 bytes).
const THREAD_PREFIX: &str = "qis-node";

/// Upper bound on one lookup and on one join.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Nodes given as bootstrap to each joining node.
const BOOTSTRAP_FANOUT: usize = 4;

/// A network of qis nodes, all in one dedicated tokio runtime.
pub struct QisSystem {
    rt: Option<tokio::runtime::Runtime>,
    nodes: Vec<Arc<qis::net::NodeHandle>>,
    ids: Vec<Vec<u8>>,
}

impl QisSystem {
    /// No network yet; `build` starts one.
    pub fn new() -> Result<QisSystem> {
        Ok(QisSystem {
            rt: None,
            nodes: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// The runtime of the current network (two workers: the machine has two cores, as many as
    /// mainline's threads can use).
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

    /// Starts `n` nodes on 127.0.0.1: the first alone, each later one bootstrapping from up to
    /// [`BOOTSTRAP_FANOUT`] earlier ones; then every node looks up its own id once, so the
    /// routing tables are as full as a join makes them before lookups are measured.
    fn start(&mut self, n: usize) -> Result<()> {
        let rt = self.runtime()?.handle().clone();
        let nodes: Vec<Arc<qis::net::NodeHandle>> = rt.block_on(async {
            let mut nodes: Vec<Arc<qis::net::NodeHandle>> = Vec::with_capacity(n);
            for i in 0..n {
                let bootstrap: Vec<SocketAddr> = nodes
                    .iter()
                    .skip(i.saturating_sub(BOOTSTRAP_FANOUT))
                    .map(|h| h.local_addr())
                    .collect();
                // QIS-API: node configuration (listen address, bootstrap list, network id).
                // All nodes share 127.0.0.1: the per-IP routing-table limit
                // (DEFAULT_MAX_PER_IP = 2) must not apply here, or no table fills up.
                let config = qis::net::NodeConfig {
                    listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    bootstrap,
                    ..qis::net::NodeConfig::default()
                };
                // QIS-API: spawn on the current (this system's) runtime.
                let handle = qis::net::spawn(config)
                    .await
                    .map_err(|e| format!("qis spawn: {e}"))?;
                nodes.push(Arc::new(handle));
            }
            for h in &nodes {
                let h = Arc::clone(h);
                // QIS-API: a self-lookup completes the join.
                let join = tokio::spawn(async move { h.find_node(h.id()).await });
                let _ = tokio::time::timeout(LOOKUP_LIMIT, join).await;
            }
            Ok::<_, String>(nodes)
        })?;
        // QIS-API: node id bytes.
        self.ids = nodes.iter().map(|h| h.id().as_bytes().to_vec()).collect();
        self.nodes = nodes;
        Ok(())
    }
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
        let node = Arc::clone(self.nodes.get(origin).ok_or("origin out of range")?);
        let rt = self.runtime()?;
        // QIS-API: ids are 32 bytes.
        let target = qis::id::Id::from_bytes(target);
        // Spawned, so the lookup's work runs on the qis-node threads and is charged to qis.
        let report = rt
            .block_on(async move {
                let task = tokio::spawn(async move { node.find_node(target).await });
                tokio::time::timeout(LOOKUP_LIMIT, task).await
            })
            .map_err(|_| "qis lookup timed out".to_string())?
            .map_err(|e| format!("qis lookup task: {e}"))?;
        // QIS-API: LookupReport { closest, requests_sent, .. }; adapt if find_node returns a
        // Result.
        Ok(LookupOutcome {
            closest: report
                .closest
                .iter()
                .map(|c| c.id.as_bytes().to_vec())
                .collect(),
            requests_sent: Some(report.requests_sent as u64),
        })
    }

    fn teardown(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.ids.clear();
        if let Some(rt) = self.rt.take() {
            rt.block_on(async {
                for h in nodes {
                    if let Ok(h) = Arc::try_unwrap(h) {
                        // QIS-API: graceful stop.
                        let _ = tokio::time::timeout(Duration::from_secs(5), h.shutdown()).await;
                    }
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

    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>> {
        let mut probe = Vec::new();
        encode_find_node(1, &[0; 32], &[0; 32], &mut probe)?;
        Some(Box::new(QisFindNode))
    }
}

/// qis FIND_NODE requests with a fresh random requester id and target each time.
struct QisFindNode;

impl LoadProtocol for QisFindNode {
    fn encode_request(&mut self, txid: u32, rng: &mut Rng, buf: &mut Vec<u8>) {
        let mut requester = [0u8; 32];
        rng.fill(&mut requester);
        let target = rng.target();
        let _ = encode_find_node(txid, &requester, &target, buf);
    }

    fn decode_reply(&self, datagram: &[u8]) -> Option<u32> {
        decode_answer_txid(datagram)
    }
}

/// QIS-CODEC (for you to fill in): write into `buf` one complete FIND_NODE request datagram
/// as a stranger would send it (postcard, protocol version, network id, request id `txid`,
/// requester id, `target`, padded to `UNVERIFIED_REQUEST_MIN` if the codec requires that of a
/// requester without an address token). Returns `None` until written; the throughput test
/// skips qis while it does.
fn encode_find_node(
    txid: u32,
    requester: &[u8; 32],
    target: &[u8; 32],
    buf: &mut Vec<u8>,
) -> Option<()> {
    let _ = (txid, requester, target);
    buf.clear();
    None
}

/// QIS-CODEC (for you to fill in): the request id of `datagram` if it is a FIND_NODE answer
/// (not an error or a retry/token challenge), as the `txid` given to [`encode_find_node`].
fn decode_answer_txid(datagram: &[u8]) -> Option<u32> {
    let _ = datagram;
    None
}
