//! Load shedding under a request flood (`cargo bench --bench flood`), on loopback.
//!
//! One `qis node` process (rate limits on) is flooded with pings from many source addresses
//! (127.10.x.y: QIS_FLOOD_SOURCES addresses, default 1,024, over 16 /24 prefixes), as fast as
//! one thread can send, for QIS_FLOOD_SECS (default 5). Meanwhile two well-behaved parties
//! measure what they still get:
//! * a **routing-table peer** (127.0.0.2, a hand-driven node that answered the target's
//!   verification ping, so the target holds it in its table), pinging every 20 ms;
//! * a **client holding a valid token** (127.0.0.3), sending FIND_NODE with its token every
//!   20 ms.
//!
//! Printed: each party's answered share and latency p50/p99, the flood's answered share, the
//! node's drops by reason (from its `--metrics` endpoint), its CPU (share of one core) and RSS.
//! Targets (hardening issue): both parties ≥ 99% answered, p99 ≤ 20 ms, node CPU ≤ one core.

use qis_core::Identity;
use qis_core::wire::{Body, Role};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};

#[path = "process.rs"]
mod process;
use process::{NodeProcess, cpu_seconds, rss_bytes};
#[path = "parties.rs"]
mod parties;
use parties::{NETWORK, Parties, encode, env_or, report, report_node, scrape};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sources = env_or("QIS_FLOOD_SOURCES", 1024) as usize;
    let secs = env_or("QIS_FLOOD_SECS", 5);
    let port = 48_000 + (std::process::id() % 1000) as u16;
    let target: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let metrics: SocketAddr = format!("127.0.0.1:{}", port + 1).parse().expect("address");
    let home = std::env::temp_dir().join(format!("qis-flood-{}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_qis"))
        .args([
            "node",
            "--listen",
            &target.to_string(),
            "--network",
            NETWORK,
            "--id-difficulty",
            "0",
        ])
        .args([
            "--metrics",
            &metrics.to_string(),
            "--status-every",
            "0",
            "-q",
        ])
        .args(["--data-dir", &home.join("node").to_string_lossy()])
        .stdin(Stdio::null())
        .spawn()
        .expect("start qis node");
    let node = NodeProcess(child);
    std::thread::sleep(Duration::from_millis(400));

    let parties = Parties::join(target, "127.0.0.2:0", "127.0.0.3:0");

    let flooders: Vec<UdpSocket> = (0..sources)
        .map(|i| {
            let ip = format!("127.10.{}.{}", (i / 64) % 256, i % 64 + 1);
            let socket = UdpSocket::bind(format!("{ip}:0")).expect("bind a flood source");
            socket.set_nonblocking(true).ok();
            socket
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flood_sent = Arc::new(AtomicU64::new(0));
    let flood_thread = {
        let (stop, sent) = (stop.clone(), flood_sent.clone());
        std::thread::spawn(move || {
            let stranger = Identity::from_secret_key([9; 32]);
            let ping = encode(7, stranger.id(), Role::Client, Body::Ping);
            let mut drain = [0u8; 2048];
            let mut answered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for socket in &flooders {
                    if socket.send_to(&ping, target).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    while socket.recv_from(&mut drain).is_ok() {
                        answered += 1;
                    }
                }
            }
            answered
        })
    };
    let cpu_before = cpu_seconds(node.0.id());
    let started = Instant::now();
    let measured = parties.measure_for(secs, &stop);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(node.0.id()) - cpu_before) / elapsed;
    let flood_answered = flood_thread.join().expect("flood");
    let text = scrape(metrics);
    let sent = flood_sent.load(Ordering::Relaxed);
    println!(
        "flood of {sources} sources over {} /24 prefixes, {secs} s:",
        sources.div_ceil(64)
    );
    println!(
        "  flood: {sent} pings sent ({:.0}/s), {flood_answered} answered ({:.2}%)",
        sent as f64 / elapsed,
        100.0 * flood_answered as f64 / sent.max(1) as f64
    );
    report("routing-table peer", &measured.0);
    report("client with a valid token", &measured.1);
    report_node(&text, cpu, rss_bytes(&node.0.id().to_string()));
    let _ = std::fs::remove_dir_all(&home);
}
