//! `qis probe`: joins a live network as a client and measures it with lookups to random
//! targets, each the core's real iterative lookup; see [`crate::probe`] for the figures.

use super::client::{join, start_client};
use super::common::{CliError, NetworkArgs, explain_silence, resolve, runtime};
use super::sim::whole;
use crate::probe::{ProbeReport, ProbeSamples, ProbeSetup, Stopped, write_probe_outputs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qis_core::Id;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The most lookups one probe runs: enough for percentiles to the 99.9th, few enough that a
/// typo does not flood a network.
const MAX_LOOKUPS: u64 = 1_000_000;

/// The longest `--timeout-s` (a day).
const MAX_TIMEOUT_S: f64 = 86_400.0;

/// The exit code after Ctrl-C (128 + SIGINT), as shells report an interrupted command.
const INTERRUPTED_EXIT: u8 = 130;

/// Arguments of `qis probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// A node to join through (HOST:PORT); repeat for several.
    #[arg(long, required = true, value_name = "ADDR")]
    pub bootstrap: Vec<String>,
    /// Lookups to run, one after another, each to a random target.
    #[arg(long, default_value_t = 100, value_name = "N", allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub lookups: u64,
    /// Stop after this many seconds in all (joining included) and report what was measured.
    #[arg(
        long,
        default_value_t = 300.0,
        value_name = "S",
        allow_negative_numbers = true
    )]
    pub timeout_s: f64,
    /// Derive the targets from this seed (the same seed asks the same targets); without it
    /// they come from OS randomness.
    #[arg(long, value_name = "U64", allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seed: Option<u64>,
    /// Print the report as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write probe.json, hops.svg, latency_cdf.svg and hops_distribution.svg here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    network: NetworkArgs,
}

impl ProbeArgs {
    /// Checks the flags before anything touches the network.
    fn check(&self) -> Result<Duration, CliError> {
        if self.lookups == 0 {
            return Err(CliError::Input(
                "--lookups 0: nothing to measure; give at least 1".into(),
            ));
        }
        if self.lookups > MAX_LOOKUPS {
            return Err(CliError::Input(format!(
                "--lookups {}: at most {MAX_LOOKUPS} per probe",
                self.lookups
            )));
        }
        let s = self.timeout_s;
        if !(s.is_finite() && s > 0.0 && s <= MAX_TIMEOUT_S) {
            return Err(CliError::Input(format!(
                "--timeout-s {s}: expected seconds above 0, at most {MAX_TIMEOUT_S}"
            )));
        }
        if let Some(dir) = &self.out
            && dir.exists()
            && !dir.is_dir()
        {
            return Err(CliError::Input(format!(
                "--out {}: exists and is not a directory",
                dir.display()
            )));
        }
        Ok(Duration::from_secs_f64(s))
    }
}

/// The 32 bytes the targets derive from: the seed's, or fresh OS randomness.
fn target_seed(seed: Option<u64>) -> Result<[u8; 32], CliError> {
    match seed {
        Some(seed) => Ok(*Id::hash(&seed.to_le_bytes()).as_bytes()),
        None => {
            let mut bytes = [0u8; 32];
            qis_udp::os_entropy(&mut bytes)
                .map_err(|e| CliError::Failed(format!("no OS randomness for targets: {e}")))?;
            Ok(bytes)
        }
    }
}

/// Target `i`: a hash of the seed bytes and `i`, uniform over the id space.
fn target(seed: &[u8; 32], i: u64) -> Id {
    let mut input = [0u8; 40];
    input[..32].copy_from_slice(seed);
    input[32..].copy_from_slice(&i.to_le_bytes());
    Id::hash(&input)
}

fn progress_bar(enabled: bool, lookups: u64) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(lookups), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} lookups ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Runs `qis probe`.
pub(super) fn run(args: ProbeArgs) -> Result<ExitCode, CliError> {
    let limit = args.check()?;
    let network = args.network.id()?;
    let scheme = args.network.scheme()?;
    let seed = target_seed(args.seed)?;
    let report = runtime()?.block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        let bootstrap = tokio::time::timeout_at(deadline, resolve(&args.bootstrap))
            .await
            .unwrap_or_else(|_| Err(timed_out(args.timeout_s)))?;
        let client = start_client(network, scheme, &bootstrap).await?;
        let joined = tokio::select! {
            joined = tokio::time::timeout_at(deadline, join(&client, &bootstrap, &args.bootstrap)) => {
                joined.unwrap_or_else(|_| Err(timed_out(args.timeout_s)))
            }
            _ = &mut interrupt => Err(CliError::Failed("interrupted before joining: nothing measured".into())),
        };
        let report = match joined {
            Err(error) => {
                let error = explain_silence(&client, &bootstrap, &args.network)
                    .await
                    .unwrap_or(error);
                client.shutdown().await;
                return Err(error);
            }
            Ok(report) => report,
        };
        let setup = ProbeSetup {
            network: args.network.network.clone(),
            bootstrap: args.bootstrap.clone(),
            bootstrap_answered: report.bootstrap_answered,
            table_size: report.table_size,
            lookups_asked: args.lookups,
            seed: args.seed,
            k: qis_core::Config::default().k,
        };
        let mut samples = ProbeSamples::new(setup);
        let bar = progress_bar(!args.no_progress, args.lookups);
        let started = Instant::now();
        let mut stopped = None;
        for i in 0..args.lookups {
            tokio::select! {
                done = tokio::time::timeout_at(deadline, client.find_node(target(&seed, i))) => match done {
                    Ok(report) => samples.add(&report?),
                    Err(_) => {
                        stopped = Some(Stopped::TimeLimit);
                        break;
                    }
                },
                _ = &mut interrupt => {
                    stopped = Some(Stopped::Interrupted);
                    break;
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let report = samples.report(stopped, started.elapsed().as_secs_f64());
        client.shutdown().await;
        Ok::<ProbeReport, CliError>(report)
    })?;
    if let Some(dir) = &args.out {
        write_probe_outputs(dir, &report)
            .map_err(|e| CliError::Failed(format!("--out {}: {e}", dir.display())))?;
    }
    if args.json {
        let json = serde_json::to_string(&report)
            .map_err(|e| CliError::Failed(format!("the report as JSON: {e}")))?;
        println!("{json}");
    } else {
        print!("{report}");
    }
    if report.lookups == 0 {
        return Err(CliError::Failed(
            "no lookup finished: nothing was measured".into(),
        ));
    }
    Ok(match report.stopped {
        Some(Stopped::Interrupted) => ExitCode::from(INTERRUPTED_EXIT),
        _ => ExitCode::SUCCESS,
    })
}

fn timed_out(secs: f64) -> CliError {
    CliError::Failed(format!(
        "timed out after {secs} s (--timeout-s) before joining"
    ))
}
