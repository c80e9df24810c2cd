//! The `qis` command line: run a node, put and get values, ping, simulate, and work with
//! outcome packets. Errors are one line naming what is wrong; exit code 2 means bad input,
//! 1 means the operation failed (nothing found, nobody answered).

mod answer;
mod client;
mod common;
mod config;
mod control;
mod elections;
mod ledger;
mod node;
mod outcomes;
mod packet;
mod probe;
mod published;
mod reproduce;
pub mod sim;
mod status;

pub use common::CliError;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Run a DHT node until Ctrl-C or SIGTERM.
    Node(node::NodeArgs),
    /// Show a running node's id, role, routing table, stored records and drops (through its
    /// control socket in the data directory; no network port).
    Status(status::StatusArgs),
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

/// Parses the command line, with the settings of a `--config` file where the subcommand takes
/// one (flags win over the file). Exits as clap does on `--help`, `--version` and a bad flag,
/// and with status 2 and one line on a bad configuration file.
pub fn parse() -> Cli {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = Cli::command();
    let matches = command.clone().get_matches_from(&argv);
    let matches = match config::merged_command_line(&command, &argv, &matches) {
        Ok(None) => matches,
        Ok(Some((merged, path))) => command
            .try_get_matches_from(merged)
            .unwrap_or_else(|error| {
                // Each key was checked alone; what is left is a combination of them.
                eprintln!(
                    "qis: error: --config {}: {}",
                    path.display(),
                    config::one_line(&error)
                );
                std::process::exit(2)
            }),
        Err(error) => {
            eprintln!("qis: error: {error}");
            std::process::exit(i32::from(error.exit_code()))
        }
    };
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
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
        Command::Status(args) => status::run(args),
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
