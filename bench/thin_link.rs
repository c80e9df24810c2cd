//! `cargo bench --bench thin_link`: a client on a thin, lossy link (64 kbit/s uplink, 1 s
//! round trip, 10% loss each way: issue 15's case) probing a network of normal `qis node`
//! processes (1 ms apart, no loss), all in the lab's network namespaces (`netlab.rs`), whose
//! router applies the link: the client's datagrams queue for the uplink (drop-tail at
//! [`UPLINK_BUFFER`] bytes), then travel 500 ms; datagrams to it travel 500 ms. Target: ≥ 99% of
//! ≥ 300 lookups succeed.
//!
//! Settings by environment: `QIS_THIN_NODES` (default 50), `QIS_THIN_LOOKUPS` (300),
//! `QIS_THIN_SEED` (1). Needs root; without it the bench says why and exits 0.

#[path = "netlab.rs"]
mod netlab;
#[allow(dead_code)]
#[path = "process.rs"]
mod process;
#[allow(dead_code)]
#[path = "svr.rs"]
mod svr;

use netlab::{Lab, LinkModel};
use std::time::{Duration, Instant};

/// The client's uplink, bits per second.
const UPLINK_BITS_PER_S: f64 = 64_000.0;
/// One-way delay on the client's link (half the 1 s round trip).
const THIN_ONE_WAY: Duration = Duration::from_millis(500);
/// Loss on the client's link, each way.
const THIN_LOSS: f64 = 0.10;
/// Bytes the uplink's queue holds before it drops (about 2 s at 64 kbit/s).
const UPLINK_BUFFER: usize = 16_000;
/// Upper bound on the probe: a lookup takes about 7.5 s on this link, 300 about 40 minutes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// One-way delay between two normal nodes.
const NORMAL_ONE_WAY: Duration = Duration::from_millis(1);

/// The thin link of host `client`; every other pair is a normal path.
struct ThinLink {
    client: usize,
    /// When the uplink finishes sending what it has queued.
    uplink_free: Instant,
    rng: netlab::Uniform,
}

impl LinkModel for ThinLink {
    /// `bytes` is the whole IP packet (the TUN carries headers too), as a link sends it.
    fn fate(&mut self, from: usize, to: usize, bytes: usize) -> Option<Duration> {
        if from != self.client && to != self.client {
            return Some(NORMAL_ONE_WAY);
        }
        if self.rng.next() < THIN_LOSS {
            return None;
        }
        if to == self.client {
            return Some(THIN_ONE_WAY);
        }
        let now = Instant::now();
        let start = self.uplink_free.max(now);
        let queued = start.duration_since(now).as_secs_f64() * UPLINK_BITS_PER_S / 8.0;
        if queued as usize + bytes > UPLINK_BUFFER {
            return None;
        }
        let serialise = Duration::from_secs_f64(bytes as f64 * 8.0 / UPLINK_BITS_PER_S);
        self.uplink_free = start + serialise;
        Some(self.uplink_free - now + THIN_ONE_WAY)
    }
}

use netlab::setting;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(why) = netlab::unavailable() {
        println!("thin_link: skipped: {why}");
        return;
    }
    let nodes: usize = setting("QIS_THIN_NODES", 50);
    let lookups: usize = setting("QIS_THIN_LOOKUPS", 300);
    let seed: u64 = setting("QIS_THIN_SEED", 1);
    let work = std::env::temp_dir().join(format!("qis-thin-{}", std::process::id()));
    let qis = std::path::Path::new(env!("CARGO_BIN_EXE_qis"));
    let model = ThinLink {
        client: nodes,
        uplink_free: Instant::now(),
        rng: netlab::Uniform(seed ^ 0x7448_494e),
    };
    let lab = match Lab::create("qthin", nodes + 1, Box::new(model)) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("thin_link: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    let result = svr::start_nodes(&lab, nodes, qis, &work).and_then(|running| {
        std::thread::sleep(svr::SETTLE);
        eprintln!("thin_link: {nodes} nodes up; the client probes with {lookups} lookups ...");
        let report = svr::probe(&lab, nodes, lookups, seed, PROBE_TIMEOUT, qis);
        drop(running);
        report
    });
    let _ = std::fs::remove_dir_all(&work);
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            eprintln!("thin_link: {e}");
            std::process::exit(1);
        }
    };
    let done = report["lookups"].as_f64().unwrap_or(0.0);
    let success = report["success_rate"].as_f64().unwrap_or(0.0);
    let counts = &lab.counts;
    println!(
        "client on 64 kbit/s up, 1 s RTT, 10% loss; {nodes} normal nodes; {} s",
        started.elapsed().as_secs()
    );
    println!(
        "  lookups {done} of {lookups}, success {:.1}% (target ≥ 99% of ≥ 300: {})",
        success * 100.0,
        if success >= 0.99 && done >= 300.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  hops mean {:.2}, requests/lookup {:.1}, lookup latency p50 {:.0} ms p90 {:.0} ms p99 {:.0} ms",
        report["hops"]["mean"].as_f64().unwrap_or(f64::NAN),
        report["requests_per_lookup"]["mean"]
            .as_f64()
            .unwrap_or(f64::NAN),
        report["latency_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
        report["latency_ms"]["p90"].as_f64().unwrap_or(f64::NAN),
        report["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "  router: {} forwarded, {} dropped (loss and the uplink's full queue)",
        counts.forwarded.load(std::sync::atomic::Ordering::Relaxed),
        counts.dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
}
