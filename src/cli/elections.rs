//! `qis elections`: the elections simulator (crate `qis-elections`).

use super::CliError;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qis_elections::{Config, LiarMode, Report, Squat, report, run};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Flags of `qis elections`.
#[derive(Debug, Args)]
pub struct ElectionsArgs {
    /// Publishers (several, comma-separated, run one after another).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub publishers: Vec<u64>,
    /// Rounds: each honest publisher queries, runs and deposits once per round.
    #[arg(long, default_value_t = 8)]
    pub rounds: u64,
    /// Share of publishers who lie, in [0, 1] (several, comma-separated: one run each).
    #[arg(long, value_delimiter = ',', default_value = "0,0.2")]
    pub liars: Vec<f64>,
    /// Seed of the world and of every publisher: the same seed gives the same report.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// How liars lie: inflate (one key, inflated claims), collude (vouching for each other's
    /// lies), whitewash (a fresh key every round), sybil (ten fresh keys a round, reporting
    /// on each other). Several, comma-separated: one run each.
    #[arg(long, value_delimiter = ',', default_value = "inflate", value_parser = parse_mode)]
    pub liar_mode: Vec<LiarMode>,
    /// Share of honest publishers who reproduce one packet (among the highest claims they
    /// found) per round, in [0, 1].
    #[arg(long, default_value_t = qis_elections::REPRODUCE_SHARE, value_name = "SHARE")]
    pub reproduce: f64,
    /// Squatters: publisher keys that fill the most popular task's key with valid packets
    /// every round (0: none).
    #[arg(long, default_value_t = 0, value_name = "KEYS")]
    pub squatters: u64,
    /// Address prefixes the squatters store from.
    #[arg(long, default_value_t = 10, value_name = "PREFIXES")]
    pub squat_prefixes: u64,
    /// Print the reports as JSON (one array) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG of regret by round to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Runs `qis elections`.
pub(super) fn run_elections(args: ElectionsArgs) -> Result<(), CliError> {
    if !(0.0..=1.0).contains(&args.reproduce) {
        return Err(CliError::Input(format!(
            "--reproduce: {} is outside [0, 1]",
            args.reproduce
        )));
    }
    let mut configs = Vec::new();
    for &publishers in &args.publishers {
        if publishers == 0 || args.rounds == 0 {
            return Err(CliError::Input(
                "--publishers and --rounds must be at least 1".into(),
            ));
        }
        for (&liar_share, &liar_mode) in args
            .liars
            .iter()
            .flat_map(|l| args.liar_mode.iter().map(move |m| (l, m)))
        {
            if !(0.0..=1.0).contains(&liar_share) {
                return Err(CliError::Input(format!(
                    "--liars: {liar_share} is outside [0, 1]"
                )));
            }
            configs.push(Config {
                publishers,
                rounds: args.rounds,
                liar_share,
                seed: args.seed,
                squat: Squat {
                    keys: args.squatters,
                    prefixes: args.squat_prefixes,
                },
                liar_mode,
                reproduce_share: args.reproduce,
            });
        }
    }
    let bar = progress_bar(!args.no_progress, configs.len() as u64 * args.rounds);
    let reports: Vec<Report> = configs
        .iter()
        .map(|config| run(config, |_| bar.inc(1)))
        .collect();
    bar.finish_and_clear();
    if args.json {
        let json =
            serde_json::to_string(&reports).map_err(|e| CliError::Failed(format!("JSON: {e}")))?;
        println!("{json}");
    } else {
        for r in &reports {
            println!("{}", report::table(r));
        }
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, report::svg(&reports))
            .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

fn parse_mode(text: &str) -> Result<LiarMode, String> {
    LiarMode::ALL
        .into_iter()
        .find(|m| m.label() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = LiarMode::ALL.iter().map(|m| m.label()).collect();
            format!("{text:?} is not one of {}", names.join(", "))
        })
}

fn progress_bar(enabled: bool, steps: u64) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} rounds ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
