//! Simulator against reality: one run of `qis sim`'s model in process, and the same network
//! built of real `qis node` processes, one per network namespace, whose datagrams a user-space
//! router ([`netlab`](super::netlab)) delays and drops exactly as the simulator's model does
//! for that pair of nodes (the same sites, drawn from the same seed), then probed by
//! `qis probe` from one more namespace at the model's observer site.
//!
//! Shared by `bench/sim_vs_real.rs` (the full comparison) and `tests/sim_vs_real.rs` (the short
//! version in the suite), `#[path]`-included next to `netlab.rs` and `process.rs`.

use super::netlab::{self, Lab, LinkModel, host_addr};
use super::process::NodeProcess;
use qis_sim::{SimConfig, SimReport, SiteTable, default_join_rate};
use serde::Serialize;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The port every real node listens on (each has an address of its own).
const PORT: u16 = 4000;

/// The network the real nodes form (never the public one).
const NETWORK: &str = "sim-vs-real";

/// How one comparison is set up.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Setup {
    /// Nodes in both networks.
    pub(crate) nodes: usize,
    /// Lookups measured in both.
    pub(crate) lookups: usize,
    /// Average datagram loss.
    pub(crate) loss: f64,
    /// Median round-trip time of the model, in ms.
    pub(crate) rtt_ms: f64,
    /// Seed of the model (sites, loss draws) and of the probe's targets.
    pub(crate) seed: u64,
}

/// The figures compared, from each side.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Figures {
    /// Share of lookups that finished (the simulator: reached the true closest; the probe:
    /// got an answer).
    pub(crate) success_rate: f64,
    /// Mean hop depth.
    pub(crate) hops_mean: f64,
    /// Mean requests per lookup.
    pub(crate) requests_mean: f64,
    /// Lookup latency, median, ms.
    pub(crate) latency_p50_ms: f64,
    /// Lookup latency, 90th percentile, ms.
    pub(crate) latency_p90_ms: f64,
}

/// One comparison: both sides and what the lab's router did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    /// The setup.
    pub(crate) setup: Setup,
    /// The simulator's figures.
    pub(crate) simulated: Figures,
    /// The real processes' figures (`qis probe`).
    pub(crate) real: Figures,
    /// Real nodes that were running when the probe ended.
    pub(crate) nodes_alive: usize,
    /// Datagrams the router delivered and dropped.
    pub(crate) router_forwarded: u64,
    /// Datagrams the router dropped (the model's loss).
    pub(crate) router_dropped: u64,
    /// Wall seconds of the real side.
    pub(crate) real_wall_s: f64,
}

impl Comparison {
    /// `|real − simulated|` of the hop mean, and the relative differences of the latency
    /// median and of requests per lookup (real / simulated − 1).
    pub(crate) fn differences(&self) -> (f64, f64, f64) {
        let (s, r) = (&self.simulated, &self.real);
        (
            (r.hops_mean - s.hops_mean).abs(),
            r.latency_p50_ms / s.latency_p50_ms - 1.0,
            r.requests_mean / s.requests_mean - 1.0,
        )
    }
}

/// The simulator's config for `setup`: its defaults, every node at an address of its own
/// (the lab gives each host its own /24), the setup's loss and median RTT.
pub(crate) fn sim_config(setup: &Setup) -> SimConfig {
    let mut config = SimConfig::new(setup.nodes, setup.lookups, setup.seed);
    config.network.loss = setup.loss;
    config.network.rtt_median_ms = setup.rtt_ms;
    config.addresses.clustered = 0.0;
    config
}

/// Delays and drops as the simulator's model: host `i < nodes` at node `i`'s site, the last
/// host at the observer's.
struct SiteModel {
    table: SiteTable,
    rng: netlab::Uniform,
}

impl SiteModel {
    fn site(&self, host: usize) -> &qis_sim::SitePoint {
        self.table.nodes.get(host).unwrap_or(&self.table.observer)
    }
}

impl LinkModel for SiteModel {
    fn fate(&mut self, from: usize, to: usize, _bytes: usize) -> Option<Duration> {
        if self.table.loss > 0.0 && self.rng.next() < self.table.loss {
            return None;
        }
        let base = self.table.one_way_ms(self.site(from), self.site(to));
        let jitter = -self.table.jitter_ms * (1.0 - self.rng.next()).ln();
        Some(Duration::from_secs_f64((base + jitter) / 1000.0))
    }
}

/// The simulator's figures of a run.
fn simulated(report: &SimReport) -> Figures {
    Figures {
        success_rate: report.success_rate,
        hops_mean: report.hops.mean,
        requests_mean: report.requests_per_lookup.mean,
        latency_p50_ms: report.latency_ms.p50,
        latency_p90_ms: report.latency_ms.p90,
    }
}

/// The probe's figures from its JSON report.
fn probed(json: &serde_json::Value) -> Figures {
    let number = |path: &[&str]| {
        path.iter()
            .fold(json, |v, key| &v[*key])
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    Figures {
        success_rate: number(&["success_rate"]),
        hops_mean: number(&["hops", "mean"]),
        requests_mean: number(&["requests_per_lookup", "mean"]),
        latency_p50_ms: number(&["latency_ms", "p50"]),
        latency_p90_ms: number(&["latency_ms", "p90"]),
    }
}

/// Runs both sides of `setup` with the `qis` binary at `qis`, the lab's namespaces named
/// from `prefix`, node data under `work`. Progress lines go to stderr.
pub(crate) fn compare(
    setup: Setup,
    qis: &Path,
    prefix: &str,
    work: &Path,
) -> Result<Comparison, String> {
    let config = sim_config(&setup);
    let table = qis_sim::site_table(&config);
    eprintln!("sim-vs-real: simulating {} nodes ...", setup.nodes);
    let simulated = simulated(&qis_sim::simulate(config));
    let started = Instant::now();
    let model = SiteModel {
        table,
        rng: netlab::Uniform(setup.seed ^ 0x5157_5652),
    };
    // One host per node and one for the probe.
    let lab = Lab::create(prefix, setup.nodes + 1, Box::new(model))?;
    eprintln!(
        "sim-vs-real: lab of {} namespaces up; starting {} nodes ...",
        setup.nodes + 1,
        setup.nodes
    );
    let mut nodes = start_nodes(&lab, setup.nodes, qis, work)?;
    // The simulator's settle time after the last join.
    std::thread::sleep(SETTLE);
    eprintln!("sim-vs-real: probing with {} lookups ...", setup.lookups);
    let json = probe(
        &lab,
        setup.nodes,
        setup.lookups,
        setup.seed,
        PROBE_TIMEOUT,
        qis,
    )?;
    let mut nodes_alive = 0;
    for node in &mut nodes {
        nodes_alive += usize::from(node.0.try_wait().is_ok_and(|s| s.is_none()));
    }
    drop(nodes);
    let counts = &lab.counts;
    Ok(Comparison {
        setup,
        simulated,
        real: probed(&json),
        nodes_alive,
        router_forwarded: counts.forwarded.load(std::sync::atomic::Ordering::Relaxed),
        router_dropped: counts.dropped.load(std::sync::atomic::Ordering::Relaxed),
        real_wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The simulator's default settle time after the network formed.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);

/// Upper bound on the probe (300 lookups take about 4 minutes on the model's wide area).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1200);

/// Runs `qis probe` with `lookups` lookups (targets from `seed`) from host `host`, joining
/// through host 0; its JSON report.
pub(crate) fn probe(
    lab: &Lab,
    host: usize,
    lookups: usize,
    seed: u64,
    timeout: Duration,
    qis: &Path,
) -> Result<serde_json::Value, String> {
    let output = lab
        .command(host, &qis.display().to_string())
        .args(["probe", "--network", NETWORK, "--id-difficulty", "0"])
        .args(["--bootstrap", &format!("{}:{PORT}", host_addr(0))])
        .args(["--lookups", &lookups.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--timeout-s", &timeout.as_secs().to_string()])
        .args(["--json", "--no-progress"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("qis probe: {e}"))?;
    if !output.status.success() {
        return Err(format!("qis probe failed: {}", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("qis probe printed no JSON: {e}"))
}

/// Starts `count` real nodes on hosts `0..count` at the simulator's join rate, each joining
/// through node 0 and the node started just before it; data under `work`.
pub(crate) fn start_nodes(
    lab: &Lab,
    count: usize,
    qis: &Path,
    work: &Path,
) -> Result<Vec<NodeProcess>, String> {
    let gap = Duration::from_secs_f64(1.0 / default_join_rate(count));
    let mut nodes = Vec::with_capacity(count);
    let first = Instant::now();
    for i in 0..count {
        let data = work.join(format!("node-{i}"));
        let mut cmd = lab.command(i, &qis.display().to_string());
        cmd.args(["node", "--network", NETWORK, "--id-difficulty", "0"])
            .args(["--listen", &format!("{}:{PORT}", host_addr(i))])
            .arg("--data-dir")
            .arg(&data)
            .args(["--no-rate-limit", "--status-every", "3600"])
            // Full nodes from the start, as in the simulator it is compared with (every lab
            // host is reachable; reachability checks are measured by tests/nat.rs).
            .args(["--role", "node"]);
        for seed in [0, i.saturating_sub(1)] {
            if seed < i {
                cmd.args(["--bootstrap", &format!("{}:{PORT}", host_addr(seed))]);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("qis node {i}: {e}"))?;
        nodes.push(NodeProcess(child));
        let due = first + gap * (i as u32 + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    Ok(nodes)
}
