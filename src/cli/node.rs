//! `qis node`: run a DHT node until Ctrl-C or SIGTERM.

use super::common::{CliError, NetworkArgs, data_home, lookup, reachable_from, runtime};
use super::control;
use qis_core::Config;
use qis_core::TableConfig;
use qis_core::wire::Role;
use qis_core::{Id, RecordId};
use qis_udp::PublishedDir;
use qis_udp::portmap::{MappingState, PortMapConfig, PortMapper};
use qis_udp::{DataDirLock, Journal, NetError, NodeHandle, SocketOptions, bind_udp, spawn_keeping};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{debug, info, warn};

/// Arguments of `qis node`, grouped in `--help` by what an operator changes: where the node
/// listens and whom it joins, where it keeps its data, how it is watched, and its limits.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// A TOML file of settings whose keys are the long flags below (`listen = "0.0.0.0:4000"`,
    /// `bootstrap = ["seed.example:4000"]`, `metrics-public = true`); a flag given on the
    /// command line wins over the file's key. Unknown keys and values of the wrong type are
    /// refused, naming the key.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<PathBuf>,
    /// Address to listen on, HOST:PORT: 127.0.0.1:4000, 0.0.0.0:4000, [::]:4000 (dual-stack) or
    /// a host name (localhost:4000; of a name with several addresses, the first IPv4 one that
    /// binds). Port 0 picks a free port; the default data directory is then named after the
    /// port picked (so such a node gets a new id each start unless --data-dir is given).
    /// Required, here or in --config.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Network")]
    pub listen: Option<String>,
    /// A node to join through (HOST:PORT); repeat for several. Every address a name resolves
    /// to is asked (those of the listening socket's address family). Omit for the first node.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Network")]
    pub bootstrap: Vec<String>,
    /// Ask the home router (the default route's gateway) to forward this node's UDP port, so
    /// others reach it without manual forwarding: PCP / NAT-PMP first, then UPnP-IGD. The
    /// mapping is renewed while the node runs and deleted at a clean stop (SIGINT, SIGTERM);
    /// its external address is logged and shown by `qis status`. Off by default.
    #[arg(long, help_heading = "Network")]
    pub port_mapping: bool,
    #[command(flatten, next_help_heading = "Network")]
    network: NetworkArgs,
    /// What the node is to the network. `auto`: a client (it gets, puts and publishes, and no
    /// other node enters it into its table) until peers in distinct address prefixes reach it
    /// from addresses it never contacted, then a full node; checked again every 30 minutes and
    /// when the address peers see it at changes (a NAT that rebinds). A network's first node
    /// (no --bootstrap) and a node listening on loopback count as reachable. `node`: a full
    /// node without checks (an operator who knows the port is open). `client`: never serves.
    #[arg(long, value_enum, default_value_t = RoleArg::Auto, help_heading = "Network")]
    pub role: RoleArg,
    /// In the automatic role, how often to ask one peer which address it sees the node at, in
    /// seconds; a new address starts a reachability check at once.
    #[arg(long, default_value_t = qis_core::constants::ADDRESS_WATCH_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(1..), value_name = "SECS", help_heading = "Network")]
    pub address_watch_s: u64,
    /// Where the node key, the journal of records held for others and the control socket of
    /// `qis status` live (default: <data home>/node-<port>). A restarted node with the same
    /// directory keeps its id and what it held. The directory is locked while the node runs: a
    /// second node on it exits with status 1, naming the pid of the first. A damaged key file
    /// (an interrupted write in an older qis) is moved aside and replaced, with a warning.
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    pub data_dir: Option<PathBuf>,
    /// Data directories whose `published/` records this node republishes (repeatable).
    /// Default: its own data directory and <data home>/publisher, where `qis publish` keeps
    /// what it published. New files are picked up within a minute.
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    pub republish_from: Vec<PathBuf>,
    /// Log a status line this often, in seconds (0: never).
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECS",
        help_heading = "Monitoring"
    )]
    pub status_every: u64,
    /// Serve the node's counters in the Prometheus text format at http://ADDR/metrics, e.g.
    /// 127.0.0.1:9100 (off by default). Loopback addresses only, unless --metrics-public.
    #[arg(long, value_name = "ADDR", help_heading = "Monitoring")]
    pub metrics: Option<SocketAddr>,
    /// Allow --metrics on an address other hosts can reach (0.0.0.0:9100, a LAN address). The
    /// endpoint has no authentication: anyone who reaches it reads the node's counters.
    #[arg(long, requires = "metrics", help_heading = "Monitoring")]
    pub metrics_public: bool,
    /// Routing-table entries allowed per IP address (0: no limit). Loopback addresses are
    /// exempt, so any number of local nodes can know each other.
    #[arg(long, default_value_t = qis_core::constants::DEFAULT_MAX_PER_IP, value_name = "N", help_heading = "Limits")]
    pub max_per_ip: usize,
    /// The routing table's prefix limits.
    #[command(flatten, next_help_heading = "Limits")]
    pub prefix_limits: super::sim::PrefixLimitArgs,
    /// Serve any number of requests per source (for load tests).
    #[arg(long, help_heading = "Limits")]
    pub no_rate_limit: bool,
    /// Upload budget in bytes of UDP payload per second, all traffic together: maintenance
    /// (refreshes, verification pings, re-replication, republishing) yields first, then
    /// answers and lookups; a datagram over it is not sent (counted as `upload_shed`). No
    /// 10 s window exceeds it by more than 10%. Default: no limit.
    #[arg(long, value_name = "BYTES_PER_S", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Limits")]
    pub max_upload: Option<u64>,
}

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Decided by reachability checks.
    Auto,
    /// A full node, unchecked.
    Node,
    /// A client: asks, never serves.
    Client,
}

/// The core's role settings for `--role`: (fixed role, automatic). `auto` is fixed to a full
/// node for a network's first node and on loopback, where nobody could probe it from outside
/// and nobody needs to.
fn role_settings(role: RoleArg, bound: SocketAddr, bootstrap: &[SocketAddr]) -> (Role, bool) {
    match role {
        RoleArg::Node => (Role::Node, false),
        RoleArg::Client => (Role::Client, false),
        RoleArg::Auto if bootstrap.is_empty() || bound.ip().is_loopback() => (Role::Node, false),
        RoleArg::Auto => (Role::Client, true),
    }
}

/// Runs `qis node`.
pub(super) fn run(args: NodeArgs) -> Result<ExitCode, CliError> {
    let runtime = runtime()?;
    let outcome = runtime.block_on(serve(args));
    // Without waiting for id work a stop signal cut short (its threads end with the process).
    runtime.shutdown_background();
    outcome
}

async fn serve(args: NodeArgs) -> Result<ExitCode, CliError> {
    // Listening for SIGTERM and SIGINT from the start: one that comes while the node starts
    // (its id work can take seconds) is handled as soon as it runs, with the same clean stop.
    let mut stop = StopSignals::listen()?;
    let started = std::time::Instant::now();
    let listen = args.listen.as_deref().ok_or_else(|| {
        CliError::Input(
            "--listen HOST:PORT is required (on the command line, or as `listen` in --config)"
                .into(),
        )
    })?;
    // Bind first: a listen that fails creates nothing, and with port 0 the default data
    // directory is named after the port the system picked (never a shared `node-0`).
    let socket = bind_listen(listen).await?;
    let bound = socket.local_addr()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| data_home().join(format!("node-{}", bound.port())));
    // Held until the process ends.
    let _lock = DataDirLock::acquire(&data_dir, "node")?;
    for dir in [
        data_dir.clone(),
        PublishedDir::in_data_dir(&data_dir).path().to_path_buf(),
    ] {
        match qis_udp::remove_stale_temporaries(&dir) {
            Ok(0) => {}
            Ok(removed) => {
                info!(dir = %dir.display(), removed, "removed temporary files left by an interrupted write")
            }
            Err(error) => {
                warn!(%error, "could not remove temporary files left by an interrupted write")
            }
        }
    }
    let network = args.network.id()?;
    // The id work of a new data directory can take long at a high difficulty: a stop signal
    // meanwhile ends the node at once (the key is kept, the work starts over next time;
    // nothing else was made yet).
    let difficulty = args.network.difficulty()?;
    let key_dir = data_dir.clone();
    let solving = tokio::task::spawn_blocking(move || {
        qis_udp::load_or_create_credentials(&key_dir, difficulty, qis_udp::default_solver_threads())
    });
    let credentials = tokio::select! {
        solved = solving => solved.map_err(|e| CliError::Failed(format!("loading the node key: {e}")))??,
        signal = stop.recv() => {
            info!("{signal} while loading the node key or solving its id work: stopped before serving");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let bootstrap = bootstrap_addresses(&args.bootstrap, bound).await?;
    // The main network stores only the record kinds the outcome layer registers; raw values
    // (`qis put`) are for named test networks.
    let policy = if network == qis_core::wire::NetworkId::MAIN {
        qis_outcomes::OutcomePolicy::strict()
    } else {
        qis_outcomes::OutcomePolicy::allowing_raw()
    };
    let (role, auto_role) = role_settings(args.role, bound, &bootstrap);
    if auto_role {
        info!(
            "role auto: a client until peers in distinct prefixes reach this node from addresses it never contacted"
        );
    } else if args.role == RoleArg::Auto {
        info!("role auto: a full node (the network's first node, or on loopback)");
    }
    let config = Config {
        network,
        role,
        auto_role,
        address_watch: qis_core::Duration::from_secs(args.address_watch_s),
        table: TableConfig {
            max_per_host: args.max_per_ip,
            max_per_prefix_in_bucket: args.prefix_limits.max_per_prefix_in_bucket,
            max_per_prefix_in_table: args.prefix_limits.max_per_prefix_in_table,
            // Loopback is exempt from the address limits only on named test networks (local
            // networks of nodes on one machine); on the main network no peer is local.
            limit_local: network == qis_core::wire::NetworkId::MAIN,
            ..TableConfig::default()
        },
        rate_limit: if args.no_rate_limit {
            None
        } else {
            Some(Default::default())
        },
        policy: std::sync::Arc::new(policy),
        max_upload: args.max_upload,
        ..Config::default()
    };
    // What the node held before it stopped: a store is acknowledged only once written here.
    let (journal, replayed) = Journal::open(&data_dir, unix_secs())?;
    let node = spawn_keeping(socket, &credentials, config, journal, replayed).await?;
    let metrics = serve_metrics(args.metrics, args.metrics_public, &node).await?;
    let about = control::About {
        network: args.network.network.clone(),
        data_dir: data_dir.clone(),
        started,
    };
    // `qis status` cannot reach a node without it, but the node serves the network all the
    // same (a data directory path too long for a Unix socket, say).
    let control = match control::serve(node.clone(), about) {
        Ok(server) => Some(server),
        Err(error) => {
            warn!(%error, path = %data_dir.join(super::status::CONTROL_SOCKET).display(), "no control socket: qis status cannot reach this node");
            None
        }
    };
    let node_for_join = node.clone();
    let node_for_republish = node.clone();
    info!(id = %node.id(), addr = %node.local_addr(), data_dir = %data_dir.display(), network = %args.network.network, "node started");
    if let Some(control) = &control {
        debug!(path = %control.path().display(), "control socket for qis status");
    }
    let republish_dirs = if args.republish_from.is_empty() {
        vec![data_dir.clone(), data_home().join("publisher")]
    } else {
        args.republish_from.clone()
    };
    // After the node serves: a datagram forwarded by a new mapping finds it listening.
    let port_mapping = args.port_mapping.then(|| {
        let mapper = PortMapper::spawn(bound, PortMapConfig::default());
        let watching = tokio::spawn(log_port_mapping(mapper.subscribe(), on_mapped(&node)));
        (mapper, watching)
    });
    // With port mapping, the join waits for the gateway's first answer (bounded): the first
    // reachability check follows the join, and its probes, arriving before the forwarding
    // rule, would leave flows in the gateway's conntrack that keep later probes from the
    // same peers out for its UDP timeout (30 s on Linux).
    let first_mapping = port_mapping.as_ref().map(|(mapper, _)| mapper.subscribe());
    let joining = tokio::spawn(async move {
        if let Some(mut state) = first_mapping {
            let settled = state.wait_for(|s| !matches!(s, MappingState::Trying));
            let _ = tokio::time::timeout(FIRST_MAPPING_WAIT, settled).await;
        }
        join_until_connected(node_for_join, bootstrap).await;
        republish_forever(node_for_republish, republish_dirs).await;
    });
    let status = tokio::spawn(report_status(node.clone(), args.status_every));
    let roles = tokio::spawn(log_role_changes(node.clone()));
    let signal = stop.recv().await;
    info!("{signal}: shutting down");
    // The mapping goes first, while the node still answers (its removal is bounded).
    if let Some((mapper, watching)) = port_mapping {
        watching.abort();
        match mapper.shutdown().await {
            Ok(Some(mapping)) => {
                info!(external = %mapping.external, via = %mapping.protocol, "port mapping removed")
            }
            Ok(None) => {}
            Err(error) => {
                warn!(%error, "port mapping not confirmed removed: the gateway drops it when its lifetime ends")
            }
        }
    }
    // Stop taking input first: no more status readers, scrapes, joins or republishing; then
    // the node reads its last datagram, syncs the journal and sends what that produced.
    drop(control);
    drop(metrics);
    joining.abort();
    status.abort();
    roles.abort();
    let last = node.stop().await?;
    let m = last.metrics;
    let journal = last.journal.unwrap_or_default();
    info!(
        signal,
        uptime_s = started.elapsed().as_secs(),
        table = last.table_size,
        records = last.records,
        datagrams_in = m.datagrams_in,
        datagrams_out = m.datagrams_out,
        dropped = m.dropped(),
        journal_bytes = journal.bytes,
        journal_failures = journal.failures,
        "stopped: journal synced"
    );
    Ok(ExitCode::SUCCESS)
}

/// Binds `--listen`: a name's addresses are tried IPv4 first, and the first that binds is the
/// node's (a node has one address); an error names the first address that failed.
async fn bind_listen(listen: &str) -> Result<tokio::net::UdpSocket, CliError> {
    let addrs = lookup("--listen", listen).await?;
    let mut failed = None;
    for addr in &addrs {
        match bind_udp(*addr, &SocketOptions::default()) {
            Ok(socket) => {
                if addrs.len() > 1 {
                    let all: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    info!(
                        "--listen {listen} names {}; listening on {addr} (a node has one address)",
                        all.join(", ")
                    );
                }
                return Ok(socket);
            }
            Err(source) => {
                failed.get_or_insert(NetError::Bind {
                    addr: *addr,
                    source,
                });
            }
        }
    }
    Err(failed.expect("lookup gives at least one address").into())
}

/// Every address of every `--bootstrap` name that the socket bound at `local` can reach;
/// a name of which it can reach none is refused (bad input).
async fn bootstrap_addresses(
    names: &[String],
    local: SocketAddr,
) -> Result<Vec<SocketAddr>, CliError> {
    let mut out = Vec::new();
    for name in names {
        let found = lookup("--bootstrap", name).await?;
        let (usable, skipped): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.into_iter().partition(|a| reachable_from(local, *a));
        if usable.is_empty() {
            return Err(CliError::Input(format!(
                "--bootstrap {name}: none of its addresses ({}) is reachable from --listen {local} (another address family; listen on [::] for both)",
                skipped
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !skipped.is_empty() {
            debug!(
                name,
                ?skipped,
                "bootstrap addresses of another address family, not asked"
            );
        }
        for addr in usable {
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    Ok(out)
}

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM (plain `kill`, systemd, container stops), listened
/// for from when it is made.
struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Waits for the first of them and names it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// How long the join waits, at most, for the gateway's first answer to the port mapping.
const FIRST_MAPPING_WAIT: Duration = Duration::from_secs(10);

/// How long after a mapping the node checks its reachability again.
const MAPPING_SETTLE: Duration = Duration::from_secs(1);

/// What the node does each time the gateway maps its port to a (new) external address: a
/// mapped node is worth checking again (in the automatic role it may become a full node).
fn on_mapped(node: &NodeHandle) -> impl FnMut(SocketAddr) + Send + 'static {
    let node = node.clone();
    move |external: SocketAddr| {
        debug!(%external, "port mapped: checking reachability again");
        let node = node.clone();
        // A moment for the gateway: its forwarding rule may land just after its answer, and a
        // probe that beats it is dropped like any stranger's.
        tokio::spawn(async move {
            tokio::time::sleep(MAPPING_SETTLE).await;
            node.recheck_reachability();
        });
    }
}

/// Logs what the port mapper does (a mapping at info, failures at warn the first time and at
/// debug when they repeat) and calls `mapped` with each new external address.
async fn log_port_mapping(
    mut state: tokio::sync::watch::Receiver<MappingState>,
    mut mapped: impl FnMut(SocketAddr),
) {
    let mut last_external = None;
    let mut last_reason = None;
    loop {
        let now = state.borrow_and_update().clone();
        match now {
            MappingState::Mapped(mapping) => {
                last_reason = None;
                if last_external != Some(mapping.external) {
                    last_external = Some(mapping.external);
                    info!(
                        "port mapping: external {} via {}, lifetime {} s",
                        mapping.external, mapping.protocol, mapping.lifetime_s
                    );
                    mapped(mapping.external);
                }
            }
            MappingState::Failed { reason, attempt } => {
                last_external = None;
                if last_reason.as_ref() != Some(&reason) {
                    warn!(
                        attempt,
                        "port mapping failed: {reason}; the node runs on without it"
                    );
                } else {
                    debug!(attempt, "port mapping failed again: {reason}");
                }
                last_reason = Some(reason);
            }
            MappingState::Trying | MappingState::Removed => {}
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// Bootstraps, retrying with backoff while no bootstrap node answers (it may start later).
async fn join_until_connected(node: NodeHandle, bootstrap: Vec<SocketAddr>) {
    if bootstrap.is_empty() {
        info!("no --bootstrap: waiting for others to join through this node");
        return;
    }
    let mut wait = Duration::from_secs(2);
    loop {
        match node.bootstrap(bootstrap.clone()).await {
            Ok(report) if report.bootstrap_answered > 0 => {
                info!(
                    bootstrap_answered = report.bootstrap_answered,
                    table = report.table_size,
                    hops = report.lookup.hops,
                    requests = report.lookup.requests,
                    "joined the network"
                );
                return;
            }
            Ok(_) => warn!(retry_in_s = wait.as_secs(), "no bootstrap node answered"),
            Err(_) => return,
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(60));
    }
}

/// Publishes (and so keeps republishing) every record found in the `published/` folders, and
/// looks at them again every minute: a new file is published, a file signed again (the same
/// content, a newer record) replaces the one published before, and a file withdrawn (`qis
/// published withdraw`) is no longer republished.
async fn republish_forever(node: NodeHandle, dirs: Vec<PathBuf>) {
    // What we publish, by content id: the record's id and its keys.
    let mut publishing: BTreeMap<RecordId, (RecordId, Vec<Id>)> = BTreeMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        let mut found = BTreeMap::new();
        for dir in &dirs {
            let published = PublishedDir::in_data_dir(dir);
            let (entries, bad) = published.load_all();
            for (path, why) in bad {
                warn!(path = %path.display(), why, "skipping a published file");
            }
            for entry in entries {
                found.insert(entry.content_id(), entry);
            }
        }
        let gone: Vec<RecordId> = publishing
            .keys()
            .filter(|content| !found.contains_key(content))
            .copied()
            .collect();
        for content in gone {
            if let Some((_, keys)) = publishing.remove(&content) {
                for key in keys {
                    let _ = node.unpublish(key, content).await;
                }
                info!(packet = %content, "no longer republishing a withdrawn record");
            }
        }
        for (content, entry) in found {
            let record_id = entry.record.id();
            if publishing
                .get(&content)
                .is_some_and(|(id, _)| *id == record_id)
            {
                continue;
            }
            // A newer signing of the same content replaces the old one under each key (the
            // node keys what it publishes by content); keys the new entry lacks are dropped.
            if let Some((_, old_keys)) = publishing.remove(&content) {
                for key in old_keys.iter().filter(|k| !entry.keys.contains(k)) {
                    let _ = node.unpublish(*key, content).await;
                }
            }
            publishing.insert(content, (record_id, entry.keys.clone()));
            for key in entry.keys {
                let node = node.clone();
                let record = entry.record.clone();
                tokio::spawn(async move {
                    if let Ok(report) = node.publish(key, record).await {
                        info!(key = %&key.to_hex()[..16], acks = report.acks, verified = report.verified, "republishing a published record");
                    }
                });
            }
        }
    }
}

async fn report_status(node: NodeHandle, every: u64) {
    if every == 0 {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(every));
    ticker.tick().await;
    let mut bytes_before = 0;
    loop {
        ticker.tick().await;
        let Ok(stats) = node.stats().await else {
            return;
        };
        let m = stats.metrics;
        // What the node sent since the last status line: its idle traffic when nobody uses it.
        let upload_bytes_per_s = m.bytes_out.saturating_sub(bytes_before) / every;
        bytes_before = m.bytes_out;
        let journal = stats.journal.unwrap_or_default();
        info!(
            role = super::status::role_name(stats.role),
            reachability = stats.reachability.map_or("fixed", |r| r.verdict.name()),
            table = stats.table_size,
            table_refused_prefix = m.table_refused_prefix,
            records = stats.records,
            datagrams_in = m.datagrams_in,
            datagrams_out = m.datagrams_out,
            bytes_out = m.bytes_out,
            upload_bytes_per_s,
            upload_shed = m.upload_shed,
            answered = m.requests_answered,
            dropped = m.dropped(),
            shed_host = m.dropped_rate_limited,
            shed_budget = m.dropped_over_budget,
            stores_busy = m.store_refused_busy,
            journal_bytes = journal.bytes,
            journal_failures = journal.failures,
            "status"
        );
    }
}

/// Logs each change of the automatic role's verdict as it happens (checked every second), so
/// an operator sees when the node became a full node or fell back to a client, and why.
async fn log_role_changes(node: NodeHandle) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last = None;
    loop {
        ticker.tick().await;
        let Ok(stats) = node.stats().await else {
            return;
        };
        let Some(reach) = stats.reachability else {
            return;
        };
        let now = (reach.verdict, reach.external, stats.role);
        if last != Some(now) {
            let external = reach
                .external
                .map_or("unknown".to_string(), |a| a.to_string());
            info!(
                verdict = %reach.verdict.name(),
                role = %super::status::role_name(stats.role),
                external = %external,
                checks = reach.checks,
                probes = reach.last_probes,
                asked = reach.last_asked,
                "reachability"
            );
            last = Some(now);
        }
    }
}

/// Starts the `--metrics` endpoint, if asked for; it stops when the returned server is dropped.
/// A non-loopback address is refused (bad input) unless `public`.
async fn serve_metrics(
    addr: Option<SocketAddr>,
    public: bool,
    node: &NodeHandle,
) -> Result<Option<qis_udp::MetricsServer>, CliError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    if !addr.ip().is_loopback() && !public {
        return Err(CliError::Input(format!(
            "--metrics {addr}: not a loopback address, and the endpoint has no authentication; add --metrics-public to serve it to other hosts"
        )));
    }
    let server = qis_udp::serve_metrics(addr, node.clone())
        .await
        .map_err(|e| CliError::Failed(format!("--metrics {addr}: cannot listen: {e}")))?;
    info!(
        "metrics at http://{}/metrics (Prometheus text format)",
        server.local_addr()
    );
    Ok(Some(server))
}

/// Seconds since the Unix epoch (0 for a clock set before 1970).
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
