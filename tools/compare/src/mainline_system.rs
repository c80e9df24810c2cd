//! The `mainline` crate (BitTorrent Mainline DHT) as a [`System`] on 127.0.0.1, lookups
//! through `AsyncDht::find_node`. Two ways to build the network ([`NetMode`]): the crate's
//! seeded `Testnet`, or nodes that join one after another through bootstrap lists.
//!
//! Every mainline node is one OS thread ("Mainline Dht actor thread") that polls its socket
//! with a 50 ms read timeout, so CPU is attributed by that thread name.

use crate::krpc::KrpcFindNode;
use crate::loadgen::LoadProtocol;
use crate::measure::cpu::ThreadCpu;
use crate::rng::Rng;
use crate::system::{LookupOutcome, Result, System};
use mainline::async_dht::AsyncDht;
use mainline::{Dht, Id, Testnet};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// /proc comm of mainline's actor threads is "Mainline Dht ac" (15 bytes).
const THREAD_PREFIX: &str = "Mainline Dht";

/// Upper bound on one lookup; mainline itself gives up on a request after 2 s.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Bootstrap addresses given to each joined node (random other nodes).
const BOOTSTRAP_FANOUT: usize = 8;

/// Self-lookups per node after all joined nodes are up.
const JOIN_ROUNDS: usize = 2;

/// Self-lookups run at once while joining.
const JOIN_CONCURRENCY: usize = 16;

/// How the mainline network is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum NetMode {
    /// `Testnet::builder(n).build()`: routing tables seeded with every node, no traffic. Its
    /// nodes have no bootstrap list, so each one inserts the target of every `find_node` it
    /// answers into its own table, at the requester's address: lookups then return fake ids
    /// (low recall) and route through them.
    Testnet,
    /// Each node starts with random other nodes as bootstrap list, then every node looks up
    /// its own id twice: tables come from real joins, as for qis, and stay clean.
    Joined,
}

/// A mainline network and the handles to drive it.
pub struct MainlineSystem {
    mode: NetMode,
    /// Drives the async handles from the calling thread; does no DHT work itself.
    rt: tokio::runtime::Runtime,
    testnet: Option<Testnet>,
    nodes: Vec<AsyncDht>,
    ids: Vec<Vec<u8>>,
    single: Option<Dht>,
    /// mainline's key (the SHA-1 of the value, BEP 44 immutable items) for each plan key.
    value_keys: HashMap<[u8; 32], Id>,
}

impl MainlineSystem {
    /// No network yet; `build` starts one the `mode` way.
    pub fn new(mode: NetMode) -> Result<MainlineSystem> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        Ok(MainlineSystem {
            mode,
            rt,
            testnet: None,
            nodes: Vec::new(),
            ids: Vec::new(),
            single: None,
            value_keys: HashMap::new(),
        })
    }

    /// Starts `n` nodes the configured way and learns their ids.
    fn start(&mut self, n: usize) -> Result<()> {
        let testnet = match self.mode {
            NetMode::Testnet => Testnet::builder(n)
                .bind_address(Ipv4Addr::LOCALHOST)
                .build()
                .map_err(|e| format!("mainline Testnet: {e}"))?,
            NetMode::Joined => self.join(n)?,
        };
        self.nodes = testnet.nodes.iter().map(|d| d.clone().as_async()).collect();
        self.ids = self.rt.block_on(async {
            let mut ids = Vec::with_capacity(self.nodes.len());
            for node in &self.nodes {
                ids.push(node.info().await.id().as_bytes().to_vec());
            }
            ids
        });
        self.testnet = Some(testnet);
        Ok(())
    }

    /// Starts `n` nodes on ports reserved up front, each with [`BOOTSTRAP_FANOUT`] random
    /// other nodes as bootstrap list (a non-empty list also turns off mainline's first-node
    /// rule), then lets every node look up its own id [`JOIN_ROUNDS`] times.
    ///
    /// mainline only adds nodes that answered its own requests, never requesters, so tables
    /// fill only through a node's own lookups: random bootstrap lists plus self-lookups give
    /// every node its neighbourhood and a random sample of the rest.
    fn join(&mut self, n: usize) -> Result<Testnet> {
        let ports = reserve_ports(n).map_err(|e| format!("reserving ports: {e}"))?;
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut rng = Rng::new(n as u64);
        let mut nodes: Vec<Dht> = Vec::with_capacity(n);
        for (i, &port) in ports.iter().enumerate() {
            let mut bootstrap = Vec::with_capacity(BOOTSTRAP_FANOUT);
            for _ in 0..BOOTSTRAP_FANOUT.min(n - 1) {
                let j = (i + 1 + rng.below(n - 1)) % n;
                bootstrap.push(addrs[j].clone());
            }
            let dht = Dht::builder()
                .server_mode()
                .bind_address(Ipv4Addr::LOCALHOST)
                .port(port)
                .bootstrap(&bootstrap)
                .build()
                .map_err(|e| format!("mainline node on port {port}: {e}"))?;
            nodes.push(dht);
        }
        let handles: Vec<AsyncDht> = nodes.iter().map(|d| d.clone().as_async()).collect();
        self.rt.block_on(async {
            for _ in 0..JOIN_ROUNDS {
                for chunk in handles.chunks(JOIN_CONCURRENCY) {
                    let mut set = tokio::task::JoinSet::new();
                    for node in chunk {
                        let node = node.clone();
                        set.spawn(async move {
                            let id = *node.info().await.id();
                            let _ = tokio::time::timeout(LOOKUP_LIMIT, node.find_node(id)).await;
                        });
                    }
                    while set.join_next().await.is_some() {}
                }
            }
        });
        Ok(Testnet {
            bootstrap: addrs,
            nodes,
        })
    }
}

/// `n` distinct free UDP ports on 127.0.0.1 (bound together, then released for the nodes).
fn reserve_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let sockets = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect()
}

impl System for MainlineSystem {
    fn name(&self) -> &'static str {
        "mainline"
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
        let node = self.nodes.get(origin).ok_or("origin out of range")?;
        let target = Id::from_bytes(&target[..20]).map_err(|e| e.to_string())?;
        let found = self
            .rt
            .block_on(async { tokio::time::timeout(LOOKUP_LIMIT, node.find_node(target)).await })
            .map_err(|_| "mainline lookup timed out".to_string())?;
        Ok(LookupOutcome {
            closest: found.iter().map(|n| n.id().as_bytes().to_vec()).collect(),
            requests_sent: None,
        })
    }

    fn teardown(&mut self) {
        // Each actor thread exits once every handle to it is dropped (within one 50 ms poll).
        self.nodes.clear();
        self.ids.clear();
        self.testnet = None;
        self.single = None;
        self.value_keys.clear();
        let mut cpu = ThreadCpu::new();
        let until = Instant::now() + Duration::from_secs(10);
        while cpu.count(THREAD_PREFIX) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn serve_single(&mut self, network: usize) -> Result<SocketAddr> {
        self.start(network)?;
        let bootstrap = self.testnet.as_ref().map(|t| t.bootstrap.clone());
        let bootstrap: Vec<String> = bootstrap.unwrap_or_default().into_iter().take(8).collect();
        // Joins through a lookup of its own id, like any node with a bootstrap list: unlike
        // the testnet's own nodes (no bootstrap list), it does not insert the load generator's
        // random targets into its routing table.
        let dht = Dht::builder()
            .server_mode()
            .bind_address(Ipv4Addr::LOCALHOST)
            .bootstrap(&bootstrap)
            .build()
            .map_err(|e| format!("mainline node: {e}"))?;
        let node = dht.clone().as_async();
        let joined = self
            .rt
            .block_on(async { tokio::time::timeout(LOOKUP_LIMIT, node.bootstrapped()).await })
            .unwrap_or(false);
        if !joined {
            return Err("mainline single node did not bootstrap".into());
        }
        let addr = self.rt.block_on(node.info()).local_addr();
        self.single = Some(dht);
        Ok(SocketAddr::V4(addr))
    }

    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>> {
        Some(Box::new(KrpcFindNode))
    }

    fn has_values(&self) -> bool {
        true
    }

    fn put(&mut self, origin: usize, key: [u8; 32], value: &[u8]) -> Result<()> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?;
        let id = self
            .rt
            .block_on(async { tokio::time::timeout(LOOKUP_LIMIT, node.put_immutable(value)).await })
            .map_err(|_| "mainline put timed out".to_string())?
            .map_err(|e| format!("mainline put: {e}"))?;
        self.value_keys.insert(key, id);
        Ok(())
    }

    fn get(&mut self, origin: usize, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let node = self.nodes.get(origin).ok_or("origin out of range")?;
        let id = *self.value_keys.get(&key).ok_or("get of a key never put")?;
        let found = self
            .rt
            .block_on(async { tokio::time::timeout(LOOKUP_LIMIT, node.get_immutable(id)).await })
            .map_err(|_| "mainline get timed out".to_string())?;
        Ok(found.map(|v| v.to_vec()))
    }
}
