//! Node settings. Defaults are the protocol constants; the simulator and tests may shorten
//! timers, but they run the same code.

use crate::constants::{
    ADDRESS_WATCH_INTERVAL, ALPHA, BUCKET_REFRESH, DEFAULT_GET_PATHS, DEFAULT_LOOKUP_PATHS, K,
    REPLICATE_INTERVAL, REPUBLISH_INTERVAL,
};
use crate::ratelimit::RateLimit;
use crate::record::{RecordPolicy, SignatureOnly};
use crate::routing::TableConfig;
use crate::store::StoreLimits;
use crate::time::Duration;
use crate::wire::{NetworkId, Role};
use std::sync::Arc;

/// How often a node runs its maintenance (token rotation, expiry, refresh, replication,
/// republish). Each node starts at a random phase so a network never ticks in step.
pub const MAINTENANCE_TICK: Duration = Duration::from_secs(60);

/// Verification pings (to admit nodes that contacted us) in flight at once, at most.
pub const MAX_VERIFICATIONS: usize = 16;

/// Store requests one put keeps in flight at once.
pub const MAX_STORES_IN_FLIGHT: usize = 32;

/// Everything a node can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The network to join; datagrams from other networks are dropped.
    pub network: NetworkId,
    /// Full node, or client that only asks and is never entered into others' tables. With
    /// `auto_role` this is ignored: the node starts as a client and reachability decides.
    pub role: Role,
    /// Decide the role by reachability checks (see [`crate::ReachReport`]): a client until
    /// peers in distinct prefixes reach it from addresses it never contacted, then a full node;
    /// checked again periodically and when its observed address changes.
    pub auto_role: bool,
    /// How often an automatic-role node asks a peer which address it sees (the address watch).
    pub address_watch: Duration,
    /// Replication factor and lookup width (k).
    pub k: usize,
    /// Lookup parallelism (α), per disjoint path.
    pub alpha: usize,
    /// Disjoint paths each lookup walks (1 to `MAX_LOOKUP_PATHS`): more paths cost about that
    /// many times the requests and survive adversaries that lie on some of them.
    pub lookup_paths: usize,
    /// Disjoint paths each get, and each put a publisher makes or republishes, walks (a put
    /// stores at the closest of all its paths' answers). Holders that withhold values answer a get with the
    /// colluders closest to the key, and one path that meets them ends among liars: two paths
    /// measured enough where one was not (see `DEFAULT_GET_PATHS`).
    pub get_paths: usize,
    /// Routing-table settings.
    pub table: TableConfig,
    /// Store limits.
    pub store: StoreLimits,
    /// Per-source request rate limit; `None` disables it (the simulator has no attackers).
    pub rate_limit: Option<RateLimit>,
    /// Decides which records may be stored.
    pub policy: Arc<dyn RecordPolicy>,
    /// Most records one get collects.
    pub max_get_records: usize,
    /// After joining, look up a random id in every bucket shallower than the deepest one
    /// found, as the Kademlia paper prescribes. Costs about log2(N) lookups per join.
    pub join_refresh: bool,
    /// Refresh a bucket after this long without activity.
    pub refresh_interval: Duration,
    /// Re-replicate stored records this often.
    pub replicate_interval: Duration,
    /// Republish own records this often.
    pub republish_interval: Duration,
    /// Queue every change to the records held for others for [`crate::Node::poll_held_change`],
    /// for a driver that keeps them across restarts. Off, nothing is queued.
    pub journal_held: bool,
    /// Upload budget in bytes of UDP payload per second (`qis node --max-upload`); `None`:
    /// no limit. Maintenance yields first (see [`crate::UploadBudget`]).
    pub max_upload: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            network: NetworkId::MAIN,
            role: Role::Node,
            auto_role: false,
            address_watch: ADDRESS_WATCH_INTERVAL,
            k: K,
            alpha: ALPHA,
            lookup_paths: DEFAULT_LOOKUP_PATHS,
            get_paths: DEFAULT_GET_PATHS,
            table: TableConfig::default(),
            store: StoreLimits::default(),
            rate_limit: Some(RateLimit::default()),
            policy: Arc::new(SignatureOnly),
            max_get_records: 100_000,
            join_refresh: true,
            refresh_interval: BUCKET_REFRESH,
            replicate_interval: REPLICATE_INTERVAL,
            republish_interval: REPUBLISH_INTERVAL,
            journal_held: false,
            max_upload: None,
        }
    }
}
