//! `qis-compare`: qis and its peers (the `mainline` crate, OpenDHT, rust-libp2p's Kademlia)
//! side by side on 127.0.0.1 — lookup latency, datagrams and bytes per lookup, memory per
//! node, CPU per 1,000 lookups, recall, value puts and gets, and single-node throughput under
//! one load generator — printed as one table with the ratio qis/peer.
//!
//! Without the `qis` feature only the peers run (the qis columns show "-"). OpenDHT and
//! libp2p are compiled in by the features `opendht` and `libp2p`; a peer asked for but not
//! built is skipped with a line saying how to build it.

mod krpc;
#[cfg(feature = "libp2p")]
mod libp2p_system;
mod loadgen;
mod mainline_system;
mod measure;
#[cfg(have_opendht)]
mod odmsg;
#[cfg(have_opendht)]
mod opendht_system;
mod peers;
#[cfg(feature = "qis")]
mod qis_system;
mod report;
mod rng;
mod runner;
mod system;

use clap::Parser;
use mainline_system::NetMode;
use runner::RunConfig;
use system::System;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "qis vs mainline, OpenDHT and libp2p Kademlia, side by side on loopback"
)]
struct Args {
    /// Network sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,300")]
    nodes: Vec<usize>,
    /// Measured random-target lookups per system and size.
    #[arg(long, default_value_t = 200)]
    lookups: usize,
    /// Unmeasured lookups per system and size before measuring.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Peers to measure beside qis, comma-separated (mainline, opendht, libp2p); default
    /// every peer built in.
    #[arg(long, value_delimiter = ',')]
    peers: Option<Vec<peers::Peer>>,
    /// Values put at one node and fetched at another, per system and size (0 skips).
    #[arg(long, default_value_t = 50)]
    values: usize,
    /// Lookups (or values) run on one system before switching to the next.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Seed of lookup origins, targets and load-generator requests.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the results as JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Seconds of load on the single node (0 skips the throughput test).
    #[arg(long, default_value_t = 5.0)]
    throughput_secs: f64,
    /// Size of the network the single node under load joins.
    #[arg(long, default_value_t = 100)]
    throughput_network: usize,
    /// Requests the load generator keeps outstanding.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Source addresses the load generator sends from (127.1.x.y, one socket each, requests
    /// spread round-robin): OpenDHT limits each source address to about 1,024 requests/s, so
    /// one source measures its limiter, not its node.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=4096))]
    throughput_sources: u16,
    /// Seconds of idle time measured after each build.
    #[arg(long, default_value_t = 1.0)]
    idle_secs: f64,
    /// How the mainline network is built.
    #[arg(long, value_enum, default_value_t = NetMode::Testnet)]
    mainline_net: NetMode,
    /// Stay in the machine's network namespace (counters then include any other UDP traffic
    /// on this machine) instead of entering a private one.
    #[arg(long)]
    no_netns: bool,
    /// Run the qis network on `[::1]` (IPv6) instead of 127.0.0.1; the peers stay on IPv4.
    #[arg(long)]
    ipv6: bool,
}

fn main() {
    let args = Args::parse();
    // Before any thread exists: a namespace change covers only threads created after it.
    let isolated = !args.no_netns
        && match measure::netns::isolate() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("warning: no private network namespace ({e}); counters are machine-wide");
                false
            }
        };
    if let Err(e) = run(&args, isolated) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// qis (when built in) and every requested peer that is built in, qis first; a peer that
/// is not built in is reported and left out.
fn systems(args: &Args) -> system::Result<Vec<Box<dyn System>>> {
    let mut systems: Vec<Box<dyn System>> = Vec::new();
    #[cfg(feature = "qis")]
    systems.push(Box::new(qis_system::QisSystem::new(args.ipv6)?));
    let wanted = args
        .peers
        .clone()
        .unwrap_or_else(|| peers::Peer::ALL.to_vec());
    for peer in wanted {
        match peers::open(peer, args.mainline_net)? {
            Some(sys) => systems.push(sys),
            None => eprintln!("{}: skipped: {}", peer.name(), peer.how_to_build()),
        }
    }
    if systems.is_empty() {
        return Err("no system to measure: build with the qis feature or a peer".into());
    }
    Ok(systems)
}

/// Measures every size, then throughput, then prints.
fn run(args: &Args, isolated: bool) -> system::Result<()> {
    let cfg = RunConfig {
        lookups: args.lookups,
        warmup: args.warmup,
        batch: args.batch,
        seed: args.seed,
        idle_secs: args.idle_secs,
        lo_overhead: measure::net::calibrate_overhead(),
        values: args.values,
    };
    let mut systems = systems(args)?;
    let mut sizes = Vec::new();
    for (i, &n) in args.nodes.iter().enumerate() {
        if n < 2 {
            return Err(format!("--nodes {n}: need at least 2 nodes"));
        }
        // Alternate which system is built first, so neither always gets the fresher heap.
        systems.rotate_left(i.min(1));
        eprintln!("measuring {n} nodes, {} lookups each...", args.lookups);
        sizes.extend(runner::measure_size(&mut systems, n, &cfg)?);
    }
    let mut throughput = Vec::new();
    if args.throughput_secs > 0.0 {
        for sys in systems.iter_mut() {
            eprintln!(
                "throughput: {} for {} s...",
                sys.name(),
                args.throughput_secs
            );
            let t = runner::measure_throughput(
                &mut **sys,
                args.throughput_network,
                args.throughput_secs.min(120.0),
                args.window,
                usize::from(args.throughput_sources),
                args.seed,
            )?;
            match t {
                Some(t) => throughput.push(t),
                None => eprintln!(
                    "throughput: {} has no load protocol yet, skipped",
                    sys.name()
                ),
            }
        }
    }
    let names: Vec<String> = systems.iter().map(|s| s.name().to_string()).collect();
    let mut order = names.clone();
    order.sort_by_key(|n| n != "qis");
    let report = report::Report {
        ratios: report::ratios(&order, &sizes),
        systems: order,
        seed: args.seed,
        lookups: args.lookups,
        lo_overhead_bytes: cfg.lo_overhead,
        isolated_netns: isolated,
        mainline_net: args.mainline_net,
        sizes,
        throughput,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        report::print(&report);
    }
    Ok(())
}
