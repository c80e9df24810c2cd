//! The `qis` command line: run a node, put and get values, ping, simulate, and work with
//! outcome packets. Errors are one line naming what is wrong; exit code 2 means bad input,
//! 1 means the operation failed (nothing found, nobody answered).

mod answer;
mod client;
mod common;
mod elections;
mod ledger;
mod node;
mod outcomes;
mod packet;
mod probe;
mod published;
mod reproduce;
pub mod sim;

pub use common::CliError;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// qis: share what fine-tuning runs taught you, over a Kademlia DHT.
#[derive(Debug, Parser)]
#[command(name = "qis", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a DHT node until Ctrl-C.
    Node(node::NodeArgs),
    /// Store a value under a key (a short-lived client; it does not join routing tables).
    Put(client::PutArgs),
    /// Fetch every value stored under a key.
    Get(client::GetArgs),
    /// Check that a node answers, and measure the round trip.
    Ping(client::PingArgs),
    /// Join a live network as a client and measure it: hop depth, rounds, requests, lookup
    /// latency and request round trips of lookups to random targets, and its size.
    Probe(probe::ProbeArgs),
    /// Write, validate or draft outcome packets (no network).
    #[command(subcommand)]
    Packet(packet::PacketCommand),
    /// Sign an outcome packet and store it under its semantic keys.
    Publish(outcomes::PublishArgs),
    /// List the packets this publisher keeps for republishing, or withdraw one.
    Published(published::PublishedArgs),
    /// List packets from contexts similar to yours, most similar first.
    Query(outcomes::QueryArgs),
    /// Synthesise a recommendation (method, hyperparameters, expected gain) from similar runs.
    Recommend(outcomes::RecommendArgs),
    /// Report your re-run of somebody's packet (stored under its keys): a reproduction that
    /// holds up raises the packet and its publisher in every client's synthesis, one that
    /// fails lowers them.
    Reproduce(reproduce::ReproduceArgs),
    /// Simulate a network of many nodes in one process (real protocol cores, virtual time).
    Sim(sim::SimArgs),
    /// Simulate publishers who query, fine-tune and deposit over rounds, some of them liars,
    /// and measure the regret of qis's advice against no network and the write-up's router.
    Elections(elections::ElectionsArgs),
}

/// Sets up tracing on stderr.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,qis=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Node(args) => node::run(args),
        Command::Put(args) => client::put(args),
        Command::Get(args) => client::get(args),
        Command::Ping(args) => client::ping(args),
        Command::Probe(mut args) => {
            args.no_progress |= cli.quiet;
            probe::run(args)
        }
        Command::Packet(command) => packet::run(command),
        Command::Publish(args) => outcomes::publish(args),
        Command::Published(args) => published::run(args),
        Command::Query(args) => outcomes::query(args),
        Command::Recommend(args) => outcomes::recommend_cmd(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Elections(mut args) => {
            args.no_progress |= cli.quiet;
            elections::run_elections(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(mut args) => {
            args.no_progress |= cli.quiet;
            sim::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
