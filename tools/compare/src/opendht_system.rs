//! OpenDHT (the C++ DHT under Jami, Debian's `libopendht-c2` 2.4) as a [`System`], feature
//! `opendht`, driven through its C API (`opendht_c.h`) by the extern block below, plus three
//! functions of a small C++ shim (`shim/opendht_shim.cpp`) for what the C API lacks: binding to
//! 127.0.0.1 only, a node's count of good contacts (to know the network has joined), and a
//! finished search's node list (for recall).
//!
//! Every node is one `DhtRunner` in this process with its own threads (the DHT loop and the
//! socket receiver). Runners are started from a thread named [`THREAD_PREFIX`], and Linux
//! threads inherit their creator's name, so OpenDHT's CPU is attributed by name as for the
//! other systems. OpenDHT has no runtime knobs for k or α: its searches settle on the 8 closest
//! nodes (TARGET_NODES) and keep 3 requests in flight per search step, compiled in.

use crate::loadgen::LoadProtocol;
use crate::measure::cpu::ThreadCpu;
use crate::odmsg::OpenDhtFind;
use crate::system::{LookupOutcome, Result, System};
use std::ffi::{CString, c_char, c_int, c_void};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name of the thread every runner is started from; OpenDHT's own threads inherit it.
const THREAD_PREFIX: &str = "opendht";

/// Upper bound on one lookup, put or get.
const LOOKUP_LIMIT: Duration = Duration::from_secs(30);

/// Bootstrap addresses given to each joining node (the most recent earlier nodes, as for qis).
const BOOTSTRAP_FANOUT: usize = 8;

/// OpenDHT's search target size (TARGET_NODES in its dht.cpp): recall is measured against
/// the true 8 closest.
const OPENDHT_K: usize = 8;

/// Good contacts each node must have (or n - 1) before the network counts as joined.
const JOINED_CONTACTS: usize = 8;

/// Upper bound on the wait for every node to reach [`JOINED_CONTACTS`].
const JOIN_LIMIT: Duration = Duration::from_secs(60);

/// The harness's OpenDHT network id: nodes of other networks are ignored.
const NETWORK: u32 = 0x7163_6d70;

/// Bytes of search log read back per lookup (a 14-node IPv4 search log is about 1.3 kB).
const SEARCH_LOG_CAP: usize = 16 * 1024;

/// Descriptors one runner opens, with margin (its socket and a wake-up pipe: 3).
const FDS_PER_NODE: usize = 4;

/// glibc's FD_SETSIZE: OpenDHT's select() aborts the process on a descriptor at or above it.
const FD_SETSIZE: usize = 1024;

/// The highest open descriptor number of this process (0 if /proc cannot be read).
fn highest_fd() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<usize>().ok())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// `dht_infohash` of opendht_c.h: a 20-byte id.
#[repr(C)]
#[derive(Clone, Copy)]
struct DhtInfohash {
    d: [u8; 20],
}

/// `dht_data_view` of opendht_c.h.
#[repr(C)]
struct DhtDataView {
    data: *const u8,
    size: usize,
}

/// Opaque `dht_runner`.
#[repr(C)]
struct DhtRunner {
    _private: [u8; 0],
}

/// Opaque `dht_value`.
#[repr(C)]
struct DhtValue {
    _private: [u8; 0],
}

type GetCb = extern "C" fn(value: *const DhtValue, user: *mut c_void) -> bool;
type DoneCb = extern "C" fn(ok: bool, user: *mut c_void);

#[link(name = "opendht-c")]
unsafe extern "C" {
    fn dht_runner_new() -> *mut DhtRunner;
    fn dht_runner_delete(runner: *mut DhtRunner);
    fn dht_runner_bootstrap(runner: *mut DhtRunner, host: *const c_char, service: *const c_char);
    fn dht_runner_get(
        runner: *mut DhtRunner,
        hash: *const DhtInfohash,
        cb: GetCb,
        done: DoneCb,
        user: *mut c_void,
    );
    fn dht_runner_put(
        runner: *mut DhtRunner,
        hash: *const DhtInfohash,
        value: *const DhtValue,
        done: DoneCb,
        user: *mut c_void,
        permanent: bool,
    );
    fn dht_runner_get_node_id(runner: *const DhtRunner) -> DhtInfohash;
    fn dht_runner_get_bound_port(runner: *const DhtRunner, af: libc::sa_family_t) -> u16;
    fn dht_value_new(data: *const u8, size: usize) -> *mut DhtValue;
    fn dht_value_unref(value: *mut DhtValue);
    fn dht_value_get_data(value: *const DhtValue) -> DhtDataView;
}

unsafe extern "C" {
    fn qc_opendht_run_loopback(runner: *mut DhtRunner, network: u32) -> c_int;
    fn qc_opendht_good_nodes(runner: *const DhtRunner) -> u32;
    fn qc_opendht_search_log(
        runner: *mut DhtRunner,
        hash: *const DhtInfohash,
        out: *mut c_char,
        cap: usize,
    ) -> usize;
}

/// One running node: the runner, owned, deleted on drop.
struct Node(*mut DhtRunner);

// SAFETY: DhtRunner is thread-safe by design (every call posts to its own loop under a lock).
unsafe impl Send for Node {}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: the pointer came from dht_runner_new and is deleted once, here; the
        // destructor joins the runner's threads.
        unsafe { dht_runner_delete(self.0) }
    }
}

/// What an operation's callbacks fill in; shared with OpenDHT through a leaked `Arc` that
/// the done callback takes back.
#[derive(Default)]
struct Pending {
    values: Mutex<Vec<Vec<u8>>>,
    done: Mutex<Option<mpsc::Sender<bool>>>,
}

extern "C" fn on_value(value: *const DhtValue, user: *mut c_void) -> bool {
    // SAFETY: `user` is the Arc<Pending> leaked by `call`, alive until `on_done` runs, which
    // OpenDHT calls after the last value; `value` is valid for the call.
    let pending = unsafe { &*(user as *const Pending) };
    let view = unsafe { dht_value_get_data(value) };
    if !view.data.is_null() {
        // SAFETY: the view points at `size` bytes owned by the value.
        let bytes = unsafe { std::slice::from_raw_parts(view.data, view.size) };
        if let Ok(mut v) = pending.values.lock() {
            v.push(bytes.to_vec());
        }
    }
    true
}

extern "C" fn on_done(ok: bool, user: *mut c_void) {
    // SAFETY: takes back the reference `call` leaked; OpenDHT calls done once per operation.
    let pending = unsafe { Arc::from_raw(user as *const Pending) };
    if let Some(tx) = pending.done.lock().ok().and_then(|mut d| d.take()) {
        let _ = tx.send(ok);
    }
}

/// Starts one operation through `start` (given the callback context) and waits for its done
/// callback; returns its ok flag and the values it delivered.
fn call(start: impl FnOnce(*mut c_void)) -> Result<(bool, Vec<Vec<u8>>)> {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(Pending {
        values: Mutex::new(Vec::new()),
        done: Mutex::new(Some(tx)),
    });
    start(Arc::into_raw(pending.clone()) as *mut c_void);
    // On a timeout the leaked reference stays with OpenDHT: its callback may still come.
    let ok = rx
        .recv_timeout(LOOKUP_LIMIT)
        .map_err(|_| "opendht operation timed out".to_string())?;
    let values = std::mem::take(&mut *pending.values.lock().map_err(|e| e.to_string())?);
    Ok((ok, values))
}

/// The first 20 bytes of a plan key: OpenDHT's ids are 160 bits.
fn infohash(key: &[u8; 32]) -> DhtInfohash {
    let mut d = [0u8; 20];
    d.copy_from_slice(&key[..20]);
    DhtInfohash { d }
}

/// Node ids listed in an IPv4 search log: rows of "common-bits  40-hex-id  flags  ip:port".
fn parse_search_log(log: &str) -> Vec<Vec<u8>> {
    log.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.next()?.parse::<u32>().ok()?;
            let hex = words.next()?;
            (hex.len() == 40).then_some(())?;
            (0..20)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .collect()
}

/// A network of OpenDHT runners.
#[derive(Default)]
pub struct OpenDhtSystem {
    nodes: Vec<Node>,
    ids: Vec<Vec<u8>>,
}

impl OpenDhtSystem {
    /// No network yet; `build` starts one.
    pub fn new() -> OpenDhtSystem {
        OpenDhtSystem::default()
    }

    /// Starts `n` runners on 127.0.0.1 from a thread named [`THREAD_PREFIX`]; each
    /// bootstraps from up to [`BOOTSTRAP_FANOUT`] earlier nodes. Then waits until every node
    /// has [`JOINED_CONTACTS`] good contacts (or n - 1).
    fn start(&mut self, n: usize) -> Result<()> {
        let nodes = std::thread::Builder::new()
            .name(THREAD_PREFIX.into())
            .spawn(move || -> Result<Vec<Node>> {
                let mut nodes: Vec<Node> = Vec::with_capacity(n);
                let mut ports: Vec<CString> = Vec::with_capacity(n);
                let host = CString::new("127.0.0.1").expect("no NUL");
                for i in 0..n {
                    let top = highest_fd();
                    if top + FDS_PER_NODE >= FD_SETSIZE {
                        return Err(format!(
                            "opendht: node {i} of {n} would open descriptors past {FD_SETSIZE} \
                             (highest open: {top}); OpenDHT's select() aborts there, so one \
                             process holds about {} OpenDHT nodes at most",
                            FD_SETSIZE / FDS_PER_NODE
                        ));
                    }
                    // SAFETY: a fresh runner, owned by `Node` from here on.
                    let node = Node(unsafe { dht_runner_new() });
                    // SAFETY: the runner is valid; the shim catches OpenDHT's exceptions.
                    if unsafe { qc_opendht_run_loopback(node.0, NETWORK) } != 0 {
                        return Err("opendht: a runner did not start on 127.0.0.1".into());
                    }
                    for port in ports.iter().rev().take(BOOTSTRAP_FANOUT) {
                        // SAFETY: valid runner and NUL-terminated strings, copied by OpenDHT.
                        unsafe { dht_runner_bootstrap(node.0, host.as_ptr(), port.as_ptr()) };
                    }
                    // SAFETY: valid runner.
                    let port = unsafe { dht_runner_get_bound_port(node.0, libc::AF_INET as _) };
                    ports.push(CString::new(port.to_string()).expect("digits"));
                    nodes.push(node);
                }
                Ok(nodes)
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "opendht build thread panicked".to_string())??;
        // SAFETY: valid runners.
        self.ids = nodes
            .iter()
            .map(|node| unsafe { dht_runner_get_node_id(node.0) }.d.to_vec())
            .collect();
        self.nodes = nodes;
        let want = JOINED_CONTACTS.min(n - 1) as u32;
        let until = Instant::now() + JOIN_LIMIT;
        // SAFETY: valid runners.
        while self
            .nodes
            .iter()
            .any(|node| unsafe { qc_opendht_good_nodes(node.0) } < want)
        {
            if Instant::now() > until {
                eprintln!(
                    "opendht: some nodes have fewer than {want} good contacts after the join limit"
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn node(&self, origin: usize) -> Result<*mut DhtRunner> {
        Ok(self.nodes.get(origin).ok_or("origin out of range")?.0)
    }
}

impl System for OpenDhtSystem {
    fn name(&self) -> &'static str {
        "opendht"
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

    /// A get of an absent key: OpenDHT's search runs to its 8 closest nodes.
    fn lookup(&mut self, origin: usize, target: [u8; 32]) -> Result<LookupOutcome> {
        let node = self.node(origin)?;
        let hash = infohash(&target);
        // SAFETY: valid runner; OpenDHT copies the hash; `user` is handled by `call`.
        call(|user| unsafe { dht_runner_get(node, &hash, on_value, on_done, user) })?;
        Ok(LookupOutcome::default())
    }

    fn recall_k(&self) -> usize {
        OPENDHT_K
    }

    fn build_first(&self) -> bool {
        true
    }

    fn found_closest(&mut self, origin: usize, target: [u8; 32]) -> Option<Vec<Vec<u8>>> {
        let node = self.node(origin).ok()?;
        let hash = infohash(&target);
        let mut buf = vec![0u8; SEARCH_LOG_CAP];
        // SAFETY: valid runner and a buffer of `SEARCH_LOG_CAP` bytes.
        unsafe { qc_opendht_search_log(node, &hash, buf.as_mut_ptr().cast(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let mut ids = parse_search_log(&String::from_utf8_lossy(&buf[..end]));
        let distance =
            |id: &Vec<u8>| -> Vec<u8> { id.iter().zip(&hash.d).map(|(a, b)| a ^ b).collect() };
        ids.sort_by_key(distance);
        ids.truncate(OPENDHT_K);
        Some(ids)
    }

    fn has_values(&self) -> bool {
        true
    }

    fn put(&mut self, origin: usize, key: [u8; 32], value: &[u8]) -> Result<()> {
        let node = self.node(origin)?;
        let hash = infohash(&key);
        // SAFETY: OpenDHT copies the bytes into a new refcounted value.
        let v = unsafe { dht_value_new(value.as_ptr(), value.len()) };
        // SAFETY: valid runner and value (the put holds its own reference); not permanent.
        let result = call(|user| unsafe { dht_runner_put(node, &hash, v, on_done, user, false) });
        // SAFETY: drops our reference only.
        unsafe { dht_value_unref(v) };
        match result? {
            (true, _) => Ok(()),
            (false, _) => Err("opendht put reported failure".into()),
        }
    }

    fn get(&mut self, origin: usize, key: [u8; 32]) -> Result<Option<Vec<u8>>> {
        let node = self.node(origin)?;
        let hash = infohash(&key);
        // SAFETY: as in `lookup`.
        let (_, values) =
            call(|user| unsafe { dht_runner_get(node, &hash, on_value, on_done, user) })?;
        Ok(values.into_iter().next())
    }

    fn teardown(&mut self) {
        self.nodes.clear();
        self.ids.clear();
        let mut cpu = ThreadCpu::new();
        let until = Instant::now() + Duration::from_secs(10);
        while cpu.count(THREAD_PREFIX) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `network` nodes plus one more that joins through the 8 before it, as every node does;
    /// the load goes to that last one.
    fn serve_single(&mut self, network: usize) -> Result<SocketAddr> {
        self.start(network + 1)?;
        let last = self.nodes.last().ok_or("opendht: no node started")?;
        // SAFETY: valid runner.
        let port = unsafe { dht_runner_get_bound_port(last.0, libc::AF_INET as _) };
        Ok(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)))
    }

    fn load_protocol(&self) -> Option<Box<dyn LoadProtocol>> {
        Some(Box::new(OpenDhtFind { network: NETWORK }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_search_log;

    #[test]
    fn search_log_rows_give_ids_and_headers_are_skipped() {
        let log = "\nSearch IPv4 800a7bbef3133f2753dc849440e5cf6963338118 gets: 0 [done]\n \
                   Common bits    InfoHash                       Conn. Get   Ops  IP\n  \
                   1 ddcd89f2be7cb8a62864186d4545fecc74ce1ae7 * [  ] [u ] 127.0.0.1:54422\n  \
                   0 2d2532d15afc19c55fbcad6e9464143990628135 * [  ] [u ] 127.0.0.1:45797\n";
        let ids = parse_search_log(log);
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0][0], 0xdd);
        assert_eq!(ids[1][19], 0x35);
    }
}
