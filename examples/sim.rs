//! Runs the simulator from the command line until the `qis` binary mounts it as `qis sim`:
//! `cargo run --release --example sim -- --nodes 10000 --lookups 2000`.

use clap::Parser;
use qis::sim::SimArgs;

/// `qis sim` as a standalone program.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: SimArgs,
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = qis::sim::run(cli.sim) {
        eprintln!("qis sim: {error}");
        std::process::exit(2);
    }
}
