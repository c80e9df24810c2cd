//! `qis sim`: the command-line face of the simulator. [`SimArgs`] is a clap `Args` struct the
//! `qis` binary mounts as its `sim` subcommand; [`run`] does the work.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qis_core::Duration;
use qis_core::constants::MAX_LOOKUP_PATHS;
use qis_sim::{AddressConfig, NetworkConfig};
use qis_sim::{ChurnConfig, Formation, SimConfig, Timers, default_join_rate};
use qis_sim::{SimReport, simulate_with_progress, sweep_table, write_sweep_outputs};
use std::io::IsTerminal;
use std::path::Path;
use std::path::PathBuf;

/// Most requests a lookup path may keep in flight (`--alpha`).
const MAX_ALPHA: usize = 16;
/// Most nodes one shared /24 can hold in the address model (`--cluster-size`): its usable hosts.
const MAX_CLUSTER_SIZE: usize = qis_sim::HOSTS_PER_SLASH_24 as usize;

/// Simulate a qis network in one process: real protocol cores, virtual time.
///
/// The settings every run of a sweep shares serialise (skipping the sweep's axes and the
/// output options) into the manifest of a shard, so `merge` can tell shares of one sweep.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    /// Join the shards of a sweep (`--shard I/N`) into its sweep files.
    #[command(subcommand)]
    #[serde(skip)]
    pub command: Option<SimCommand>,
    /// Network size; a comma-separated list (e.g. 1000,10000,100000) runs a sweep.
    #[serde(skip)]
    #[arg(long, value_delimiter = ',', default_value = "2000", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub nodes: Vec<usize>,
    /// Random FIND_NODE lookups to measure per run.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub lookups: usize,
    /// Seed: the same seed gives the same report (apart from speed figures).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = whole::<u64>)]
    #[serde(skip)]
    pub seed: u64,
    /// Seeds of a sweep: each network size runs once per seed (e.g. 1-8, or 1,3,5-7), and
    /// the sweep's files give each figure's mean, min and max across them.
    #[arg(
        long,
        value_parser = parse_seeds,
        conflicts_with = "seed",
        value_name = "LIST",
        allow_hyphen_values = true
    )]
    #[serde(skip)]
    pub seeds: Option<Seeds>,
    /// Run one share of the sweep's runs, I of N (counted from 1; run k goes to share
    /// k mod N + 1), and write them with a manifest to --out/shard.json for `qis sim merge`.
    #[arg(
        long,
        value_parser = qis_sim::Shard::parse,
        value_name = "I/N",
        allow_hyphen_values = true
    )]
    #[serde(skip)]
    pub shard: Option<qis_sim::Shard>,
    /// Average fraction of datagrams lost, e.g. 0.05.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub loss: f64,
    /// Make loss bursty (Gilbert–Elliott) with this mean burst length in datagrams.
    #[arg(long, allow_negative_numbers = true)]
    pub burst: Option<f64>,
    /// Churn: median session length (e.g. 1h, 30m, 600s); sessions are Weibull-distributed.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    #[serde(serialize_with = "secs")]
    pub churn: Option<Duration>,
    /// Weibull shape of session lengths (measured P2P sessions: 0.4 to 0.6).
    #[arg(
        long,
        default_value_t = 0.5,
        allow_negative_numbers = true,
        requires = "churn"
    )]
    pub churn_shape: f64,
    /// Fraction of departures that are crashes (the node restarts later with the same id and
    /// the records it held, as a `qis node` keeps them on disk); the rest leave for good and
    /// are replaced by new nodes.
    #[arg(
        long,
        default_value_t = 0.5,
        allow_negative_numbers = true,
        requires = "churn"
    )]
    pub crash_fraction: f64,
    /// Crashed nodes restart empty (as nodes did before they kept their records on disk).
    #[arg(long, requires = "churn")]
    pub crash_loses_store: bool,
    /// Length of the measurement window (default: lookups at 100/s, or 2h with churn/values).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    #[serde(serialize_with = "secs")]
    pub duration: Option<Duration>,
    /// Values to publish at the start of the window (signed records, republished).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub values: usize,
    /// Gets of published values over the window (default: 10 per value).
    #[arg(long, allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub gets: Option<usize>,
    /// Pre-fill routing tables instead of joining every node through the protocol (fast).
    #[arg(long)]
    pub prefill: bool,
    /// After joining, refresh every bucket shallower than the node's neighbourhood (the
    /// Kademlia paper's join; about log2 N extra lookups per join).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub join_refresh: bool,
    /// Joins per virtual second while the network forms (default: N/60, at least 20).
    #[arg(long, allow_negative_numbers = true)]
    pub join_rate: Option<f64>,
    /// Fraction of nodes the address model packs into shared /24s (cloud ranges, carrier NAT
    /// pools; a few big, most small); the rest get random addresses. 0: all spread.
    #[arg(long, default_value_t = AddressConfig::default().clustered, value_name = "F", allow_negative_numbers = true)]
    pub clustered: f64,
    /// Mean number of nodes per shared /24 (at most 254 fit in one).
    #[arg(long, default_value_t = AddressConfig::default().cluster_size, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub cluster_size: usize,
    /// The routing table's prefix limits.
    #[command(flatten)]
    #[serde(flatten)]
    pub prefix_limits: PrefixLimitArgs,
    /// Median round-trip time of the latency model in ms.
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    pub rtt_ms: f64,
    /// Bucket refresh interval (default 1h).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    #[serde(serialize_with = "secs")]
    pub refresh: Option<Duration>,
    /// Re-replication interval (default 1h).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    #[serde(serialize_with = "secs")]
    pub replicate: Option<Duration>,
    /// Republish interval (default 24h).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    #[serde(serialize_with = "secs")]
    pub republish: Option<Duration>,
    /// Print one JSON object (a list for a sweep) on stdout instead of the table.
    #[arg(long)]
    #[serde(skip)]
    pub json: bool,
    /// Where a sweep writes sweep.json, sweep.csv, hops.svg and latency_cdf.svg.
    #[arg(long, default_value = "sim-out")]
    #[serde(skip)]
    pub out: PathBuf,
    /// No progress bar (also implied by `qis --quiet` and by a stderr that is not a terminal).
    #[arg(long)]
    #[serde(skip)]
    pub no_progress: bool,
    /// Prove ids with the real scheme (ed25519 signatures, Argon2id id work checked at every
    /// first contact) instead of the model (same message sizes, a hash's cost). Slow: about a
    /// millisecond of CPU per pair of nodes that meet; for runs of a few hundred nodes.
    #[arg(long)]
    pub real_identities: bool,
    /// Id difficulty with --real-identities (leading zero bits of each node's id work).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "BITS",
        requires = "real_identities",
        allow_negative_numbers = true,
        value_parser = whole::<u8>
    )]
    pub id_difficulty: u8,
    /// Fraction of nodes that are adversaries (0 to 1): they run the real core, prove their
    /// ids and answer pings, and attack as --attack says. Lookups, puts and gets are made by
    /// honest nodes, and a lookup succeeds when it finds the honest node closest to its target.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "F",
        allow_negative_numbers = true
    )]
    pub adversaries: f64,
    /// Fraction of nodes behind a port-restricted NAT (0 to 1): a datagram reaches one only
    /// from an address it has sent to. With any, every node but the first decides its role by
    /// reachability checks, as `qis node` does by default, and the report counts the verdicts
    /// against the truth and the table entries that point behind a NAT. Needs the protocol
    /// formation (not --prefill).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "F",
        allow_negative_numbers = true
    )]
    pub unreachable: f64,
    /// What adversaries do, comma-separated, handed out in turn: drop (answer pings, drop the
    /// rest), misroute (answer lookups with colluders), censor-store (acknowledge stores and
    /// discard them), serve-publisher-only (serve values only to whoever stored them), on-off
    /// (behave for a quarter of the window, then misroute and censor). Two targeted attacks
    /// run extra nodes with ids ground on a --grind-cpu-hours budget, one per attacker address,
    /// with or without --adversaries (at most one of them a run): eclipse-key (ids closest to
    /// the keys of the first --eclipse-keys values; they discard those keys' stores and answer
    /// gets of them, and lookups near them, with colluders) and sybil-table (ids filling the
    /// buckets of one honest victim's table; they join through it and answer its lookups with
    /// colluders).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "drop,misroute,censor-store",
        value_name = "LIST"
    )]
    pub attack: Vec<String>,
    /// Targeted attacks: CPU-hours of id grinding, priced at the measured 3,279 Argon2id
    /// candidates per core-second and difficulty 12 (about 2,882 valid ids an hour).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "H",
        allow_negative_numbers = true
    )]
    pub grind_cpu_hours: f64,
    /// Targeted attacks: how the attacker's addresses lie: one-prefix (all in one /24, at most
    /// 256) or spread (each in its own /24).
    #[arg(long, default_value = "spread", value_name = "PLAN")]
    pub attack_addresses: String,
    /// Targeted attacks: addresses the attacker has; it runs one node (one id) on each.
    #[arg(long, default_value_t = 256, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub attacker_addresses: usize,
    /// eclipse-key: how many values' keys to eclipse (the first ones published; at most
    /// --values).
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub eclipse_keys: usize,
    /// eclipse-key: gets of each eclipsed key by random honest nodes over the window (besides
    /// the workload's gets, which count too).
    #[arg(long, default_value_t = 100, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub eclipse_gets: usize,
    /// sybil-table: lookups of random targets by the victim over the window.
    #[arg(long, default_value_t = 100, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub victim_lookups: usize,
    /// Disjoint paths each lookup walks (1 to 8): d paths cost about d times the requests and
    /// survive adversaries that lie on some of them.
    #[arg(long, default_value_t = qis_core::constants::DEFAULT_LOOKUP_PATHS, value_name = "D", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub paths: usize,
    /// Disjoint paths each get, and each put a publisher makes, walks (1 to 8).
    #[arg(long, default_value_t = qis_core::constants::DEFAULT_GET_PATHS, value_name = "D", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub get_paths: usize,
    /// Requests each lookup path keeps in flight (α).
    #[arg(long, default_value_t = qis_core::constants::ALPHA, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    pub alpha: usize,
    /// Threads the simulator runs on (default: every core). The report is the same whatever
    /// the number, apart from the simulator's own speed and memory figures; runs with
    /// adversaries use one.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = whole::<usize>)]
    #[serde(skip)]
    pub threads: Option<usize>,
}

/// The routing table's prefix limits, as `qis node` and `qis sim` take them.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct PrefixLimitArgs {
    /// Routing-table entries of one bucket allowed per /24 (IPv6 /48) (0: no limit); loopback
    /// is exempt.
    #[arg(
        long,
        default_value_t = qis_core::constants::DEFAULT_MAX_PER_PREFIX_IN_BUCKET,
        value_name = "N",
        allow_negative_numbers = true, value_parser = whole::<usize>
    )]
    pub max_per_prefix_in_bucket: usize,
    /// Routing-table entries allowed per /24 (IPv6 /48) in all (0: no limit); loopback is
    /// exempt. A LAN test network of more nodes than this in one /24 sets it to 0.
    #[arg(
        long,
        default_value_t = qis_core::constants::DEFAULT_MAX_PER_PREFIX_IN_TABLE,
        value_name = "N",
        allow_negative_numbers = true, value_parser = whole::<usize>
    )]
    pub max_per_prefix_in_table: usize,
}

/// `qis sim`'s subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimCommand {
    /// Join the shards of one sweep (each a `qis sim --shard I/N --out DIR` directory) into
    /// the sweep's files, as one process running the whole sweep would have written them.
    Merge(MergeArgs),
}

/// `qis sim merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The shards' output directories (each holds a shard.json), in any order.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write sweep.json, sweep.csv, sweep_points.json, sweep_points.csv, hops.svg
    /// and latency_cdf.svg.
    #[arg(long, default_value = "sim-out")]
    pub out: PathBuf,
    /// Print the runs' reports as one JSON list on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The seeds of a sweep (`--seeds`), in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeds(pub Vec<u64>);

/// Most seeds one sweep takes (`--seeds`): a guard against a typo such as `1-10000000`.
const MAX_SEEDS: usize = 10_000;

/// Parses `--seeds`: comma-separated seeds and inclusive ranges (`1-8`, `1,3,5-7`), each once.
pub fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!(
                "`{text}` has an empty seed (give e.g. 1-8 or 1,3,5-7)"
            ));
        }
        if part.starts_with('-') {
            return Err(format!(
                "{part} is negative: seeds are whole numbers, 0 or more"
            ));
        }
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (whole::<u64>(a)?, whole::<u64>(b)?),
            None => {
                let seed = whole::<u64>(part)?;
                (seed, seed)
            }
        };
        if last < first {
            return Err(format!("`{part}`: a range goes up (e.g. 1-8)"));
        }
        if last - first >= MAX_SEEDS as u64 || seeds.len() + (last - first) as usize >= MAX_SEEDS {
            return Err(format!("more than {MAX_SEEDS} seeds"));
        }
        for seed in first..=last {
            if seeds.contains(&seed) {
                return Err(format!("seed {seed} is given twice"));
            }
            seeds.push(seed);
        }
    }
    Ok(Seeds(seeds))
}

/// Serialises an optional duration as seconds (null when unset).
fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Why `qis sim` could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An argument is out of range.
    #[error("--{name}: {reason}")]
    InvalidArgument {
        /// The flag.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the sweep's files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Serialising the report failed.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The shards given to `qis sim merge` are not one whole sweep.
    #[error("qis sim merge: {0}")]
    Merge(#[from] qis_sim::MergeError),
}

/// Parses `90`, `90s`, `500ms`, `30m`, `1.5h` or `2d` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    if text.starts_with('-') {
        return Err(format!(
            "`{text}` is negative: give a duration such as 90s, 30m or 1h"
        ));
    }
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 90s, 30m, 1h)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ms, s, m, h or d)"
            ));
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a duration (try 90s, 30m, 1h)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a whole number of 0 or more (a count, a seed, a size), saying so when it is negative
/// or not a number rather than leaving it to clap's "invalid digit found in string".
pub fn whole<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "{trimmed} is negative: give a whole number, 0 or more"
        ));
    }
    trimmed
        .parse()
        .map_err(|_| format!("`{trimmed}` is not a whole number (0 or more) of a usable size"))
}

/// Checks a fraction flag: `value` in `[0, 1)`, or `[0, 1]` when `one_allowed`. NaN and
/// infinities are outside.
fn fraction(name: &'static str, value: f64, one_allowed: bool) -> Result<(), SimError> {
    let inside = value >= 0.0 && (value < 1.0 || (one_allowed && value == 1.0));
    if inside {
        return Ok(());
    }
    let close = if one_allowed { ']' } else { ')' };
    Err(invalid(name, format!("{value} is outside [0, 1{close}")))
}

/// Checks a flag that must be a finite number above zero (NaN and infinities are refused).
fn positive(name: &'static str, value: f64) -> Result<(), SimError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(name, format!("{value} is not a positive number")))
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SimError {
    SimError::InvalidArgument {
        name,
        reason: reason.into(),
    }
}

impl SimArgs {
    /// The run settings for a network of `nodes`.
    pub fn config(&self, nodes: usize) -> Result<SimConfig, SimError> {
        if nodes == 0 || nodes > u32::MAX as usize / 2 {
            return Err(invalid(
                "nodes",
                format!("{nodes} is not a usable network size"),
            ));
        }
        fraction("loss", self.loss, false)?;
        if let Some(burst) = self.burst {
            if !(burst.is_finite() && burst >= 1.0) {
                return Err(invalid(
                    "burst",
                    format!("{burst}: the mean burst length must be at least 1 datagram"),
                ));
            }
            if self.loss == 0.0 {
                return Err(invalid(
                    "burst",
                    "bursts of loss need a loss rate: add --loss F (e.g. --loss 0.05)",
                ));
            }
        }
        positive("churn-shape", self.churn_shape)?;
        fraction("crash-fraction", self.crash_fraction, true)?;
        positive("rtt-ms", self.rtt_ms)?;
        fraction("clustered", self.clustered, true)?;
        if !(1..=MAX_CLUSTER_SIZE).contains(&self.cluster_size) {
            return Err(invalid(
                "cluster-size",
                format!(
                    "{} is outside 1 to {MAX_CLUSTER_SIZE} (the hosts of one /24)",
                    self.cluster_size
                ),
            ));
        }
        for (name, value) in [
            ("churn", self.churn),
            ("duration", self.duration),
            ("refresh", self.refresh),
            ("replicate", self.replicate),
            ("republish", self.republish),
        ] {
            if value.is_some_and(|d| d.is_zero()) {
                return Err(invalid(name, "must be longer than zero"));
            }
        }
        if self.gets.is_some_and(|g| g > 0) && self.values == 0 {
            return Err(invalid(
                "gets",
                "there are no values to get: add --values N",
            ));
        }
        if let Some(rate) = self.join_rate {
            positive("join-rate", rate)?;
        }
        fraction("adversaries", self.adversaries, false)?;
        fraction("unreachable", self.unreachable, false)?;
        if self.unreachable > 0.0 && self.prefill {
            return Err(invalid(
                "unreachable",
                "a prefilled network enters every node into tables without asking: use the protocol formation (drop --prefill)",
            ));
        }
        let measures_something = self.lookups > 0
            || self.values > 0
            || self
                .attack
                .iter()
                .any(|a| qis_sim::Attack::from_name(a.trim()).is_some_and(|a| a.is_targeted()));
        if !measures_something {
            return Err(invalid(
                "lookups",
                "0 lookups and no --values leave nothing to measure: give --lookups N (N > 0) or --values N",
            ));
        }
        let defaults = Timers::default();
        let mut config = SimConfig::new(nodes, self.lookups, self.seed);
        config.network = NetworkConfig {
            rtt_median_ms: self.rtt_ms,
            loss: self.loss,
            burst: self.burst,
            ..NetworkConfig::default()
        };
        config.addresses = AddressConfig {
            clustered: self.clustered,
            cluster_size: self.cluster_size,
        };
        config.max_per_prefix_in_bucket = self.prefix_limits.max_per_prefix_in_bucket;
        config.max_per_prefix_in_table = self.prefix_limits.max_per_prefix_in_table;
        config.churn = self.churn.map(|median| ChurnConfig {
            shape: self.churn_shape,
            crash_fraction: self.crash_fraction,
            crash_keeps_store: !self.crash_loses_store,
            ..ChurnConfig::with_median(median)
        });
        config.formation = if self.prefill {
            Formation::Prefill
        } else {
            Formation::Protocol
        };
        config.join_refresh = self.join_refresh;
        config.join_rate = self.join_rate.unwrap_or_else(|| default_join_rate(nodes));
        config.duration = self.duration;
        config.values = self.values;
        config.gets = self.gets.unwrap_or(self.values * 10);
        config.timers = Timers {
            refresh: self.refresh.unwrap_or(defaults.refresh),
            replicate: self.replicate.unwrap_or(defaults.replicate),
            republish: self.republish.unwrap_or(defaults.republish),
        };
        config.progress = !self.no_progress;
        if !(1..=MAX_LOOKUP_PATHS).contains(&self.paths) {
            return Err(invalid(
                "paths",
                format!("{} is outside 1 to {MAX_LOOKUP_PATHS}", self.paths),
            ));
        }
        config.lookup_paths = self.paths;
        if !(1..=MAX_LOOKUP_PATHS).contains(&self.get_paths) {
            return Err(invalid(
                "get-paths",
                format!("{} is outside 1 to {MAX_LOOKUP_PATHS}", self.get_paths),
            ));
        }
        config.get_paths = self.get_paths;
        if !(1..=MAX_ALPHA).contains(&self.alpha) {
            return Err(invalid(
                "alpha",
                format!("{} is outside 1 to {MAX_ALPHA}", self.alpha),
            ));
        }
        config.alpha = self.alpha;
        if self.threads == Some(0) {
            return Err(invalid("threads", "0 is not a number of threads"));
        }
        config.threads = self.threads.unwrap_or(0);
        config.unreachable = self.unreachable;
        let attacks = self
            .attack
            .iter()
            .map(|name| {
                qis_sim::Attack::from_name(name.trim()).ok_or_else(|| {
                    let known: Vec<&str> = qis_sim::Attack::ALL.iter().map(|a| a.name()).collect();
                    invalid(
                        "attack",
                        format!("unknown attack {name:?} (known: {})", known.join(", ")),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (targeted, drawn): (Vec<_>, Vec<_>) =
            attacks.into_iter().partition(|a| a.is_targeted());
        if targeted.len() > 1 {
            return Err(invalid(
                "attack",
                "eclipse-key and sybil-table: one targeted attack a run",
            ));
        }
        if self.adversaries > 0.0 {
            if drawn.is_empty() {
                return Err(invalid(
                    "attack",
                    "--adversaries needs at least one of drop, misroute, censor-store, serve-publisher-only, on-off",
                ));
            }
            config.adversaries = Some(qis_sim::AdversaryConfig {
                fraction: self.adversaries,
                attacks: drawn,
            });
        }
        if let Some(&attack) = targeted.first() {
            if self.real_identities {
                return Err(invalid(
                    "attack",
                    format!(
                        "{}: ground ids are modelled; not with --real-identities",
                        attack.name()
                    ),
                ));
            }
            let plan =
                qis_sim::AddressPlan::from_name(self.attack_addresses.trim()).ok_or_else(|| {
                    invalid(
                        "attack-addresses",
                        format!("{:?}: use one-prefix or spread", self.attack_addresses),
                    )
                })?;
            let targeted = qis_sim::TargetedConfig {
                grind_cpu_hours: self.grind_cpu_hours,
                addresses: self.attacker_addresses,
                plan,
                eclipse_keys: self.eclipse_keys,
                eclipse_gets: self.eclipse_gets,
                victim_lookups: self.victim_lookups,
                ..qis_sim::TargetedConfig::new(attack)
            };
            targeted
                .check(nodes, config.values)
                .map_err(|(name, reason)| invalid(name, reason))?;
            config.targeted = Some(targeted);
        }
        if self.real_identities {
            let difficulty = qis_core::Difficulty::new(self.id_difficulty)
                .map_err(|e| invalid("id-difficulty", e.to_string()))?;
            config.identities = qis_sim::SimIdentities::Real(difficulty);
        }
        Ok(config)
    }
}

fn progress_bar(enabled: bool, nodes: usize) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} joins+lookups ({eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("N={nodes}"));
    bar
}

/// Runs `qis sim`: one run; a sweep when several sizes or seeds are given; one share of a
/// sweep with `--shard`; or `qis sim merge`.
pub fn run(args: SimArgs) -> Result<(), SimError> {
    if let Some(SimCommand::Merge(merge)) = &args.command {
        return run_merge(merge);
    }
    let plan = args.plan()?;
    // Every size is checked, held by this shard or not, so each shard refuses what all do.
    let mut configs = Vec::new();
    for &nodes in &plan.nodes {
        configs.push((nodes, args.config(nodes as usize)?));
    }
    let runs = plan.runs();
    let held: Vec<qis_sim::RunId> = match args.shard {
        Some(shard) => runs
            .iter()
            .copied()
            .filter(|r| shard.holds(r.index))
            .collect(),
        None => runs.clone(),
    };
    let several = runs.len() > 1 || args.shard.is_some();
    let mut reports: Vec<SimReport> = Vec::new();
    for run in &held {
        let (_, config) = configs
            .iter()
            .find(|(nodes, _)| *nodes == run.nodes)
            .expect("a config for every size of the plan");
        let config = SimConfig {
            seed: run.seed,
            ..config.clone()
        };
        let bar = progress_bar(config.progress, config.nodes);
        let report = simulate_with_progress(config, bar);
        if !args.json && several {
            eprintln!("{report}");
        }
        reports.push(report);
    }
    if let Some(shard) = args.shard {
        let file = qis_sim::ShardFile::new(plan, shard, reports);
        let path = file.write(&args.out).map_err(|source| SimError::Io {
            path: args.out.clone(),
            source,
        })?;
        if args.json {
            println!("{}", serde_json::to_string(&file.reports)?);
        } else {
            print!("{}", sweep_table(&file.reports));
            println!(
                "wrote {} (shard {shard}: {} of {} runs; join the shards with qis sim merge)",
                path.display(),
                file.runs.len(),
                runs.len()
            );
        }
        return Ok(());
    }
    if !several {
        if args.json {
            println!("{}", serde_json::to_string(&reports[0])?);
        } else {
            print!("{}", reports[0]);
        }
        return Ok(());
    }
    write_sweep(&args.out, &reports, args.json)
}

/// Writes a sweep's files into `out` and prints its table (or its reports as JSON).
fn write_sweep(out: &Path, reports: &[SimReport], json: bool) -> Result<(), SimError> {
    let written = write_sweep_outputs(out, reports).map_err(|source| SimError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    if json {
        println!("{}", serde_json::to_string(&reports)?);
        return Ok(());
    }
    print!("{}", sweep_table(reports));
    let points = qis_sim::sweep_points(reports);
    if points.iter().any(|p| p.seeds.len() > 1) {
        print!("{}", qis_sim::points_table(&points));
    }
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!("wrote {}", names.join(", "));
    Ok(())
}

/// `qis sim merge DIR...`: checks the shards are one whole sweep and writes its files.
fn run_merge(merge: &MergeArgs) -> Result<(), SimError> {
    let shards = merge
        .dirs
        .iter()
        .map(|dir| Ok((dir.clone(), qis_sim::ShardFile::read(dir)?)))
        .collect::<Result<Vec<_>, qis_sim::MergeError>>()?;
    let (_, reports) = qis_sim::merge_shards(shards)?;
    write_sweep(&merge.out, &reports, merge.json)
}

impl SimArgs {
    /// The sweep these arguments ask for: sizes against seeds, and the other settings.
    pub fn plan(&self) -> Result<qis_sim::SweepPlan, SimError> {
        if self.nodes.is_empty() {
            return Err(invalid("nodes", "give at least one network size"));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.nodes[..i].contains(n) {
                return Err(invalid("nodes", format!("{n} is given twice")));
            }
        }
        let seeds = match &self.seeds {
            Some(Seeds(seeds)) => seeds.clone(),
            None => vec![self.seed],
        };
        // A struct serialises to an object: its fields by flag name.
        let settings = serde_json::to_value(self)?
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(qis_sim::SweepPlan {
            nodes: self.nodes.iter().map(|&n| n as u64).collect(),
            seeds,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[derive(clap::Parser)]
    struct Wrapped {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn args(flags: &str) -> SimArgs {
        let argv = std::iter::once("qis").chain(flags.split_whitespace());
        <Wrapped as clap::Parser>::try_parse_from(argv)
            .expect("flags parse")
            .sim
    }

    #[test]
    fn targeted_attacks_are_configured_and_bad_flags_refused() {
        let config = args("--attack eclipse-key --values 3 --eclipse-keys 2 --grind-cpu-hours 5")
            .config(1000)
            .unwrap();
        let t = config.targeted.expect("targeted attack");
        assert_eq!((t.eclipse_keys, t.grind_cpu_hours), (2, 5.0));
        assert!(config.adversaries.is_none());
        let both =
            args("--adversaries 0.1 --attack drop,sybil-table --attack-addresses one-prefix")
                .config(1000)
                .unwrap();
        assert_eq!(
            both.adversaries.unwrap().attacks,
            vec![qis_sim::Attack::Drop]
        );
        assert_eq!(both.targeted.unwrap().plan, qis_sim::AddressPlan::OnePrefix);
        for bad in [
            "--attack eclipse-key --values 3 --grind-cpu-hours -1",
            "--attack eclipse-key --values 3 --grind-cpu-hours NaN",
            "--attack eclipse-key --values 3 --grind-cpu-hours 1e12",
            "--attack eclipse-key --values 3 --attack-addresses one-prefix --attacker-addresses 257",
            "--attack eclipse-key --values 3 --attack-addresses nowhere",
            "--attack eclipse-key --values 3 --eclipse-keys 4",
            "--attack eclipse-key",
            "--attack eclipse-key,sybil-table --values 3",
            "--attack sybil-table --attacker-addresses 0",
            "--attack sybil-table --real-identities",
            "--adversaries 0.2 --attack sybil-table",
            "--attack bogus",
        ] {
            assert!(args(bad).config(1000).is_err(), "{bad}");
        }
    }
}
