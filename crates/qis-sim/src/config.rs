//! What one simulation run is asked to do.

use super::addresses::AddressConfig;
use super::network::NetworkConfig;
use qis_core::Duration;
use qis_core::constants::{
    BUCKET_REFRESH, DEFAULT_MAX_PER_PREFIX_IN_BUCKET, DEFAULT_MAX_PER_PREFIX_IN_TABLE,
    REPLICATE_INTERVAL, REPUBLISH_INTERVAL,
};
use serde::Serialize;

/// How the network forms before measurements start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Formation {
    /// Every node joins through the protocol (ping a bootstrap node, look up its own id,
    /// refresh if configured), building its own routing table.
    Protocol,
    /// Routing tables are filled directly with k random live nodes per bucket (fast, for big
    /// runs; no joining traffic), then measurements start.
    Prefill,
}

/// Churn: node sessions and what ends them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChurnConfig {
    /// Median session length.
    #[serde(serialize_with = "super::report::as_secs")]
    pub median_session: Duration,
    /// Weibull shape of session lengths (measured P2P sessions: about 0.4 to 0.6).
    pub shape: f64,
    /// Fraction of departures that are crashes (the node comes back later with the same id);
    /// the rest leave for good and are replaced by new nodes.
    pub crash_fraction: f64,
    /// A crashed node comes back with the records it held for others, as a `qis node` does
    /// from its journal (true), or empty, as before nodes kept them (false).
    pub crash_keeps_store: bool,
    /// Mean time until the departure is matched by an arrival (a restart or a new node).
    #[serde(serialize_with = "super::report::as_secs")]
    pub mean_arrival_delay: Duration,
}

impl ChurnConfig {
    /// Churn with the given median session and the defaults for the rest.
    pub fn with_median(median_session: Duration) -> ChurnConfig {
        ChurnConfig {
            median_session,
            shape: 0.5,
            crash_fraction: 0.5,
            crash_keeps_store: true,
            mean_arrival_delay: Duration::from_secs(60),
        }
    }
}

/// Protocol timers the nodes run with.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timers {
    /// Bucket refresh after this long idle.
    #[serde(serialize_with = "super::report::as_secs")]
    pub refresh: Duration,
    /// Re-replication interval of held records.
    #[serde(serialize_with = "super::report::as_secs")]
    pub replicate: Duration,
    /// Republish interval of own records.
    #[serde(serialize_with = "super::report::as_secs")]
    pub republish: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            refresh: BUCKET_REFRESH,
            replicate: REPLICATE_INTERVAL,
            republish: REPUBLISH_INTERVAL,
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Nodes in the network (the population churn keeps it at).
    pub nodes: usize,
    /// Random FIND_NODE lookups to measure.
    pub lookups: usize,
    /// Seed of every random draw: the same seed gives the same report.
    pub seed: u64,
    /// Latency and loss.
    pub network: NetworkConfig,
    /// How nodes are spread over /24s.
    pub addresses: AddressConfig,
    /// Routing-table entries of one bucket allowed per /24 (0: no limit).
    pub max_per_prefix_in_bucket: usize,
    /// Routing-table entries allowed per /24 in all (0: no limit).
    pub max_per_prefix_in_table: usize,
    /// Churn during the measurement window, if any.
    pub churn: Option<ChurnConfig>,
    /// How the network forms.
    pub formation: Formation,
    /// Whether joining nodes refresh every bucket shallower than their neighbourhood.
    pub join_refresh: bool,
    /// Joins per virtual second while the network forms.
    pub join_rate: f64,
    /// The first nodes join through node 0; later ones through a random node already in.
    pub first_through_node_zero: usize,
    /// Quiet time between formation and measurements.
    pub settle: Duration,
    /// Lookups started per virtual second when no window is set.
    pub lookup_rate: f64,
    /// Length of the measurement window; `None`: as long as the lookups take at
    /// `lookup_rate`, or two hours with churn or values.
    pub duration: Option<Duration>,
    /// Values published at the start of the window (each republished by its publisher).
    pub values: usize,
    /// Gets of published values, spread over the window.
    pub gets: usize,
    /// Node timers.
    pub timers: Timers,
    /// Show a progress bar on stderr (only if it is a terminal).
    pub progress: bool,
    /// How nodes prove their ids: modelled (the default: same message sizes, a hash's cost)
    /// or the real scheme (ed25519 and Argon2id, slow: for small runs that check the model).
    pub identities: SimIdentities,
    /// Adversarial nodes, if any (`--adversaries`, `--attack`).
    pub adversaries: Option<crate::adversary::AdversaryConfig>,
    /// A targeted attack with ground ids (`--attack eclipse-key` or `sybil-table`), if any.
    pub targeted: Option<crate::targeted::TargetedConfig>,
    /// Disjoint paths each lookup walks (`Config::lookup_paths`).
    pub lookup_paths: usize,
    /// Requests in flight per path (`Config::alpha`).
    pub alpha: usize,
    /// Disjoint paths each get walks (`Config::get_paths`).
    pub get_paths: usize,
    /// Fraction of nodes behind a port-restricted NAT (`--unreachable`): a datagram reaches
    /// one only from an address it has sent to. With any, every node but node 0 runs the
    /// automatic role and decides by reachability checks (see `qis_core::ReachReport`).
    pub unreachable: f64,
    /// Threads the engine runs on (0: every core). The report does not depend on it, apart
    /// from the simulator's own speed and memory figures.
    pub threads: usize,
}

/// How simulated nodes prove their ids (see `qis_core::IdentityScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimIdentities {
    /// Modelled proofs: ids drawn as if solved, signatures that verify by construction.
    #[default]
    Modelled,
    /// Real ed25519 keys and Argon2id id work of this difficulty, checked in full.
    Real(qis_core::Difficulty),
}

impl SimConfig {
    /// A run of `nodes` nodes and `lookups` lookups with the defaults for everything else.
    pub fn new(nodes: usize, lookups: usize, seed: u64) -> SimConfig {
        SimConfig {
            nodes,
            lookups,
            seed,
            network: NetworkConfig::default(),
            addresses: AddressConfig::default(),
            max_per_prefix_in_bucket: DEFAULT_MAX_PER_PREFIX_IN_BUCKET,
            max_per_prefix_in_table: DEFAULT_MAX_PER_PREFIX_IN_TABLE,
            churn: None,
            formation: Formation::Protocol,
            join_refresh: true,
            join_rate: default_join_rate(nodes),
            first_through_node_zero: 100,
            settle: Duration::from_secs(30),
            lookup_rate: 100.0,
            duration: None,
            values: 0,
            gets: 0,
            timers: Timers::default(),
            progress: false,
            identities: SimIdentities::Modelled,
            adversaries: None,
            targeted: None,
            lookup_paths: qis_core::constants::DEFAULT_LOOKUP_PATHS,
            alpha: qis_core::constants::ALPHA,
            get_paths: qis_core::constants::DEFAULT_GET_PATHS,
            unreachable: 0.0,
            threads: 0,
        }
    }

    /// The measurement window.
    pub fn window(&self) -> Duration {
        if let Some(d) = self.duration {
            return d;
        }
        if self.churn.is_some() || self.values > 0 {
            return Duration::from_secs(2 * 3600);
        }
        Duration::from_secs_f64((self.lookups as f64 / self.lookup_rate.max(1e-3)).max(1.0))
    }
}

/// Joins per second by default: a network forms in about a minute of virtual time, but never
/// faster than 20 joins per second for small networks.
pub fn default_join_rate(nodes: usize) -> f64 {
    (nodes as f64 / 60.0).max(20.0)
}
