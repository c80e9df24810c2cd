//! The `qis` command.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = qis::cli::Cli::parse();
    qis::cli::init_logging(cli.verbose, cli.quiet);
    match qis::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("qis: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
