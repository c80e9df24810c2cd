//! The `qis` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = qis::cli::parse();
    qis::cli::init_logging(cli.verbose, cli.quiet);
    match qis::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("qis: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
