//! The simulator: many protocol cores in one process, in virtual time.
//!
//! It runs the very [`qis_core::Node`] the UDP driver runs, with the same codec: every
//! datagram a core emits is delivered, as bytes, to the receiving core after a modelled delay,
//! or lost. A conservative parallel engine orders deliveries and each node's single next
//! deadline: the nodes' events wait in a calendar of 1 ms slots (`calendar`), each slot is one
//! window whose nodes advance independently on a pool of threads (`window`, `pool`), and the
//! simulation's own actions (joins, churn, the workload) wait in a queue of their own
//! (`engine`) and run at the barriers between windows; a network model (`network`) gives per-pair latency and loss; churn
//! (`membership`) crashes, removes and adds nodes; an address model (`addresses`) places nodes
//! in shared and spread /24s; a workload (`workload`) runs lookups,
//! puts and gets; the ground truth (`truth`) scores them. The same seed gives the same
//! report, byte for byte, whatever the number of threads, apart from the simulator's own speed
//! and memory figures.

mod addresses;
mod adversary;
mod calendar;
mod config;
mod engine;
mod measure;
mod membership;
mod memory;
mod network;
pub mod plots;
mod points;
mod pool;
mod prefix_report;
mod random;
mod reach_report;
mod report;
mod shard;
mod svg;
mod sweep;
mod targeted;
mod testnet;
mod truth;
mod window;
mod workload;
mod world;

pub use addresses::{AddressConfig, HOSTS_PER_SLASH_24};
pub use adversary::{AdversaryConfig, Attack, AttackCounts};
pub use config::{ChurnConfig, Formation, SimConfig, SimIdentities, Timers, default_join_rate};
pub use network::{NetworkConfig, SITE_TABLE_FORMAT, SitePoint, SiteTable};
pub use points::{Across, Metric, SweepPoint, points_table, sweep_points};
pub use reach_report::{ReachabilityReport, VerdictCounts};
pub use report::{AdversaryReport, Latency, SimReport, Spread};
pub use shard::{
    MergeError, RunId, SHARD_FILE, SHARD_FORMAT, SHARD_VERSION, Shard, ShardFile, SweepPlan,
    merge_shards,
};
pub use sweep::{SWEEP_FILES, sweep_table, write_sweep_outputs};
pub use targeted::{
    AddressPlan, CANDIDATES_PER_CORE_SECOND, EclipseKeyReport, EclipseReport, MAX_GRIND_CPU_HOURS,
    ONE_PREFIX_ADDRESSES, PRICED_DIFFICULTY_BITS, SybilBucket, SybilReport, TargetedConfig,
    valid_ids_for,
};
pub use testnet::{DEFAULT_ONE_WAY, Delivered, NetCounts, TestNet};
pub use world::Simulation;

use indicatif::ProgressBar;
use qis_core::{Node, PeerAddr, Time};

/// The wall-clock date of virtual time zero, in seconds since the Unix epoch (2026-01-01
/// 00:00 UTC): simulated nodes are told the date from it (a fixed date, so a run is the same
/// whenever it is made).
pub const SIM_UNIX_EPOCH: u64 = 1_767_225_600;

/// Tells `node` the wall clock at virtual time `now` ([`SIM_UNIX_EPOCH`] plus `now`). Virtual
/// time never drifts, so once at start is enough.
pub(crate) fn set_wall_clock<A: PeerAddr>(node: &mut Node<A>, now: Time) {
    node.set_unix_time(now, SIM_UNIX_EPOCH + now.as_micros() / 1_000_000);
}
use std::time::Instant;

/// Runs one simulation to the end and reports it. `progress` shows how far it got (pass
/// [`ProgressBar::hidden`] for none).
pub fn simulate_with_progress(config: SimConfig, progress: ProgressBar) -> SimReport {
    memory::reset_peak();
    let rss_before = memory::current_rss();
    let started = Instant::now();
    let mut sim = Simulation::new(config, progress);
    sim.stats.rss_before = rss_before;
    sim.run();
    let wall = started.elapsed().as_secs_f64();
    let report = sim.report(wall);
    sim.progress.finish_and_clear();
    report
}

/// Where the nodes of a run of `config` sit (the same draws the run makes, node `i` the `i`-th
/// node added) and the model's scale, so a harness can delay real datagrams as the simulator
/// delays them (`cargo bench --bench sim_vs_real`).
pub fn site_table(config: &SimConfig) -> SiteTable {
    let mut rng = world::sites_stream(config.seed);
    let network = network::Network::new(config.network, &mut rng);
    network.site_table(config.nodes, &mut rng)
}

/// How the engine ran one simulation: figures about the simulator itself, which the report
/// leaves out because they depend on the number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Threads the windows ran on.
    pub threads: usize,
    /// Windows run (one per millisecond of virtual time that had node events).
    pub windows: u64,
    /// Windows cut into chunks shared out among the threads.
    pub parallel_windows: u64,
}

/// Runs one simulation without a progress bar, and says how the engine ran it.
pub fn simulate_with_stats(config: SimConfig) -> (SimReport, EngineStats) {
    let started = Instant::now();
    let mut sim = Simulation::new(config, ProgressBar::hidden());
    sim.run();
    let report = sim.report(started.elapsed().as_secs_f64());
    (report, sim.engine_stats())
}

/// Runs one simulation without a progress bar.
pub fn simulate(config: SimConfig) -> SimReport {
    simulate_with_progress(config, ProgressBar::hidden())
}
