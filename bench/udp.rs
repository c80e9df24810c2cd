//! UDP benchmarks on loopback (`cargo bench --bench udp`):
//! 1. one `qis node` process under a stream of FIND_NODE requests from a load generator:
//!    requests per second answered, node CPU per request, answer latency (hdrhistogram);
//! 2. a swarm of real qis nodes in this process: lookup latency p50/p99, datagrams and bytes per
//!    lookup, resident memory per node.
//!
//! Environment: QIS_BENCH_SWARM (nodes, default 300), QIS_BENCH_LOOKUPS (default 1000),
//! QIS_BENCH_LOAD_SECS (default 5).

use hdrhistogram::Histogram;
use qis_core::Config;
use qis_core::Id;
use qis_core::Identity;
use qis_core::wire::{self, Body, Header, Message, NetworkId, Role, TxId};
use qis_core::{Credentials, Difficulty, IdWork};
use qis_udp::{NodeOptions, SocketOptions, spawn};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};

#[path = "process.rs"]
mod process;
use process::{NodeProcess, cpu_seconds, rss_bytes};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn find_node_request(network: NetworkId, txid: u32, target: Id, sender: Id) -> Vec<u8> {
    let header = Header {
        version: qis_core::constants::PROTOCOL_VERSION,
        network,
        txid: TxId(txid),
        sender,
        role: Role::Client,
        auth: qis_core::wire::Auth::None,
    };
    // Padded like any first contact: the node answers in full.
    let mut message = Message::<SocketAddr> {
        header,
        body: Body::FindNode {
            target,
            token: None,
            pad: Default::default(),
        },
    };
    let short =
        qis_core::constants::UNVERIFIED_REQUEST_MIN.saturating_sub(wire::encoded_len(&message));
    if let Body::FindNode { pad, .. } = &mut message.body {
        *pad = wire::Padding(short as u16);
    }
    wire::encode(&message).expect("fits")
}

/// Drives one node process with FIND_NODE requests for `secs`, keeping `window` outstanding.
fn single_node_throughput(secs: u64) {
    let port = 47_000 + (std::process::id() % 1000) as u16;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let home = std::env::temp_dir().join(format!("qis-bench-{}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_qis"))
        .args([
            "node",
            "--listen",
            &addr.to_string(),
            "--no-rate-limit",
            "--status-every",
            "0",
            "-q",
            "--network",
            "bench",
        ])
        .env("QIS_HOME", &home)
        .stdin(Stdio::null())
        .spawn()
        .expect("start qis node");
    let node = NodeProcess(child);
    std::thread::sleep(Duration::from_millis(300));
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let network = NetworkId::from_name("bench").expect("a valid network name");
    let sender = Id::hash(&[7; 32]);
    let window = 64u32;
    let mut sent_at: HashMap<u32, Instant> = HashMap::new();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
    let mut next_txid = 1u32;
    let mut buf = [0u8; 2048];
    let cpu_before = cpu_seconds(node.0.id());
    let start = Instant::now();
    let mut answered = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        while sent_at.len() < window as usize {
            let bytes = find_node_request(
                network,
                next_txid,
                Id::hash(&next_txid.to_le_bytes()),
                sender,
            );
            let _ = socket.send_to(&bytes, addr);
            sent_at.insert(next_txid, Instant::now());
            next_txid += 1;
        }
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => {
                let message = wire::decode::<SocketAddr>(&buf[..len], network).ok();
                if let Some(t0) = message.and_then(|m| sent_at.remove(&m.header.txid.0)) {
                    histogram
                        .record(t0.elapsed().as_micros().max(1) as u64)
                        .ok();
                    answered += 1;
                }
            }
            // Nothing for 200 ms: the window's requests were lost; start a fresh window.
            Err(_) => sent_at.clear(),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(node.0.id()) - cpu_before;
    println!("single node under FIND_NODE load ({secs} s, {window} outstanding):");
    println!("  answered/s        {:>10.0}", answered as f64 / wall);
    println!(
        "  node CPU/request  {:>10.2} µs",
        cpu * 1e6 / answered.max(1) as f64
    );
    println!(
        "  answer latency    p50 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
        histogram.value_at_quantile(0.5) as f64,
        histogram.value_at_quantile(0.99) as f64,
        histogram.max() as f64
    );
    drop(node);
    let _ = std::fs::remove_dir_all(home);
}

fn swarm(nodes: usize, lookups: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let rss_before = rss_bytes("self");
        let network = NetworkId::from_name("bench-swarm").expect("a valid network name");
        let mut handles = Vec::new();
        for i in 0..nodes {
            let identity =
                Identity::from_secret_key(*Id::hash(&(i as u64).to_le_bytes()).as_bytes());
            let config = Config {
                network,
                rate_limit: None,
                ..Config::default()
            };
            let options = NodeOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                config,
                socket: SocketOptions {
                    recv_buffer: 1 << 18,
                    send_buffer: 1 << 18,
                },
            };
            // The real scheme (signatures and one Argon2id check per new peer, as on the main
            // network) at no id difficulty: the swarm starts in seconds, the checks cost the same.
            let credentials = Credentials::real(&identity, IdWork(0), Difficulty::NONE).unwrap();
            handles.push(spawn(&credentials, options).await.unwrap());
        }
        let seed = handles[0].local_addr();
        for chunk in handles[1..].chunks(20) {
            let mut joins = tokio::task::JoinSet::new();
            for h in chunk {
                let h = h.clone();
                joins.spawn(async move { h.bootstrap(vec![seed]).await });
            }
            while joins.join_next().await.is_some() {}
        }
        let rss_after = rss_bytes("self");
        let totals = |stats: &[qis_udp::NodeStats]| {
            stats.iter().fold((0u64, 0u64), |(d, b), s| {
                (d + s.metrics.datagrams_out, b + s.metrics.bytes_out)
            })
        };
        let mut before = Vec::new();
        for h in &handles {
            before.push(h.stats().await.unwrap());
        }
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut hops = 0u64;
        for i in 0..lookups {
            let origin = &handles[(i * 7919) % nodes];
            let report = origin
                .find_node(Id::hash(&(i as u64 ^ 0xabcdef).to_le_bytes()))
                .await
                .unwrap();
            latency
                .record(report.elapsed.as_micros().max(1) as u64)
                .ok();
            hops += u64::from(report.hops);
        }
        let mut after = Vec::new();
        for h in &handles {
            after.push(h.stats().await.unwrap());
        }
        let (d0, b0) = totals(&before);
        let (d1, b1) = totals(&after);
        println!("swarm of {nodes} qis nodes on 127.0.0.1, {lookups} random-target lookups:");
        println!(
            "  lookup latency    p50 {:.0} µs  p99 {:.0} µs",
            latency.value_at_quantile(0.5) as f64,
            latency.value_at_quantile(0.99) as f64
        );
        println!("  hops (mean)       {:.2}", hops as f64 / lookups as f64);
        println!(
            "  datagrams/lookup  {:.1}",
            (d1 - d0) as f64 / lookups as f64
        );
        println!(
            "  bytes/lookup      {:.0}",
            (b1 - b0) as f64 / lookups as f64
        );
        println!(
            "  memory/node       {:.1} KiB (RSS delta / nodes)",
            rss_after.saturating_sub(rss_before) as f64 / nodes as f64 / 1024.0
        );
        for h in &handles {
            h.shutdown().await;
        }
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    single_node_throughput(env_or("QIS_BENCH_LOAD_SECS", 5));
    swarm(
        env_or("QIS_BENCH_SWARM", 300) as usize,
        env_or("QIS_BENCH_LOOKUPS", 1000) as usize,
    );
}
