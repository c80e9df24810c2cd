//! `qis packet new | check | from-run`: write, validate and draft outcome packets locally.

use super::common::CliError;
use clap::Subcommand;
use qis_outcomes::check_packet_file as check;
use qis_outcomes::{DataScale, Method, ScoreScale};
use qis_outcomes::{HyperKey, HyperValue};
use qis_outcomes::{Overrides, RunDraft, ScoreSource, from_run};
use qis_outcomes::{packet_example, packet_template as template};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `qis packet` subcommands.
#[allow(clippy::large_enum_variant)] // parsed once per process
#[derive(Debug, Subcommand)]
pub enum PacketCommand {
    /// Write a commented packet template to FILE (or stdout) to fill in by hand: every
    /// statement about the run is a placeholder that `check` refuses until it is filled in.
    New {
        /// Where to write it; stdout if absent.
        file: Option<PathBuf>,
        /// Write a complete, valid example instead (a Swahili news summarisation run).
        #[arg(long)]
        example: bool,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Validate a packet file: print its canonical form, encoded size and semantic keys.
    Check {
        /// The packet file.
        file: PathBuf,
        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Draft a packet from what a training run wrote (HF Trainer, PEFT, TRL, axolotl,
    /// torchtune, Unsloth, LLaMA-Factory, lm-evaluation-harness), showing where every field
    /// came from.
    FromRun {
        /// The run's output directory.
        dir: PathBuf,
        /// Write the drafted packet file here (with each value's origin as a comment).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long)]
        force: bool,
        /// Print one JSON object on stdout instead of text: every field with its value and
        /// origin, the notes, the file written (for the Python package).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        flags: RunFlags,
    },
}

/// Values a run's files may lack, one flag each; a flag always wins over the files.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFlags {
    /// Base model family, e.g. llama-3-8b (aliases such as meta-llama/Meta-Llama-3-8B fold).
    #[arg(long)]
    pub family: Option<String>,
    /// Task type, e.g. medical-qa, summarization.
    #[arg(long)]
    pub task: Option<String>,
    /// Domain tag (repeatable, or comma-separated).
    #[arg(long = "tag", visible_alias = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Training-data bucket: <100, 100-1k, 1k-10k, 10k-100k, >100k.
    #[arg(long, value_parser = parse_scale)]
    pub data_scale: Option<DataScale>,
    /// Benchmark name (also picks the lm-eval task when results hold several).
    #[arg(long)]
    pub benchmark: Option<String>,
    /// Metric of both scores: picks the lm-eval metric (default: the task's first) or names the
    /// metric of scores given by flag (acc, exact_match, ...).
    #[arg(long)]
    pub metric: Option<String>,
    /// lm-eval filter when a task reports several (e.g. strict-match).
    #[arg(long)]
    pub lm_eval_filter: Option<String>,
    /// Few-shot examples per prompt, where the results do not say.
    #[arg(long, value_name = "N")]
    pub shots: Option<u64>,
    /// Where scores come from: auto, lm-eval or trainer.
    #[arg(long, value_parser = parse_source, default_value = "auto")]
    pub score_source: ScoreSource,
    /// Scale of both scores: unit (0–1), percent (0–100) or unbounded.
    #[arg(long, value_parser = parse_score_scale)]
    pub score_scale: Option<ScoreScale>,
    /// Lower scores are better (perplexity, loss, error rate).
    #[arg(long)]
    pub lower_is_better: bool,
    /// Baseline score (the base model's).
    #[arg(long)]
    pub baseline: Option<f64>,
    /// Outcome score (the fine-tuned model's, same benchmark and settings).
    #[arg(long)]
    pub outcome: Option<f64>,
    /// Number of evaluation examples.
    #[arg(long)]
    pub eval_samples: Option<u64>,
    /// Whether the evaluation data was held out from training (true/false).
    #[arg(long)]
    pub held_out: Option<bool>,
    /// Confidence that the delta is real, 0–1 (default: from reported standard errors).
    #[arg(long)]
    pub confidence: Option<f64>,
    /// Method, e.g. lora, qlora, dora, full, dpo+qlora, orpo.
    #[arg(long, value_parser = parse_method)]
    pub method: Option<Method>,
    /// Hyperparameter NAME=VALUE (repeatable), e.g. lora_rank=16 learning_rate=2e-4.
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(HyperKey, HyperValue)>,
    /// What this result built on (repeatable): a packet id, or a recommendation `qis
    /// recommend` saved (its id or file), whose contributors are recorded and against which
    /// your result is checked in your ledger when you publish it.
    #[arg(long, value_parser = super::ledger::parse_built_on, value_name = "ID|FILE")]
    pub built_on: Vec<super::ledger::BuiltOn>,
    /// The fine-tuned model's lm-eval results file, wherever it is (when the run directory's
    /// results are elsewhere, or qis took them for the base model's).
    #[arg(long, value_name = "FILE")]
    pub outcome_results: Option<PathBuf>,
    /// The base model's lm-eval results file, wherever it is.
    #[arg(long, value_name = "FILE")]
    pub baseline_results: Option<PathBuf>,
}

fn parse_scale(s: &str) -> Result<DataScale, String> {
    DataScale::parse(s)
        .ok_or_else(|| format!("expected one of <100, 100-1k, 1k-10k, 10k-100k, >100k; got {s:?}"))
}

fn parse_score_scale(s: &str) -> Result<ScoreScale, String> {
    ScoreScale::parse(s).ok_or_else(|| format!("expected unit, percent or unbounded; got {s:?}"))
}

fn parse_source(s: &str) -> Result<ScoreSource, String> {
    match s {
        "auto" => Ok(ScoreSource::Auto),
        "lm-eval" | "lmeval" => Ok(ScoreSource::LmEval),
        "trainer" => Ok(ScoreSource::Trainer),
        _ => Err(format!("expected auto, lm-eval or trainer; got {s:?}")),
    }
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse_stated(s)
}

fn parse_param(s: &str) -> Result<(HyperKey, HyperValue), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    if name.trim().is_empty() || value.trim().is_empty() {
        return Err(format!("expected NAME=VALUE, got {s:?}"));
    }
    Ok((
        HyperKey::parse(name.trim()),
        HyperValue::parse(value.trim()),
    ))
}

impl RunFlags {
    /// The flags as from-run overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            family: self.family.clone(),
            task: self.task.clone(),
            tags: self.tags.clone(),
            data_scale: self.data_scale,
            benchmark: self.benchmark.clone(),
            metric: self.metric.clone(),
            lm_eval_filter: self.lm_eval_filter.clone(),
            shots: self.shots,
            score_source: self.score_source,
            score_scale: self.score_scale,
            higher_is_better: self.lower_is_better.then_some(false),
            baseline: self.baseline,
            outcome: self.outcome,
            eval_samples: self.eval_samples,
            held_out: self.held_out,
            confidence: self.confidence,
            method: self.method.clone(),
            hyperparams: self.params.clone(),
            built_on: super::ledger::built_on_ids(&self.built_on),
            outcome_results: self.outcome_results.clone(),
            baseline_results: self.baseline_results.clone(),
        }
    }
}

/// Runs `qis packet …`.
pub(super) fn run(command: PacketCommand) -> Result<ExitCode, CliError> {
    match command {
        PacketCommand::New {
            file,
            example,
            force,
        } => new(file.as_deref(), example, force),
        PacketCommand::Check { file, json } => {
            let report = check(&file).map_err(|e| CliError::Input(e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .expect("a check report of strings and numbers serialises")
                );
            } else {
                print!("{}", report.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        PacketCommand::FromRun {
            dir,
            out,
            force,
            json,
            flags,
        } => {
            let draft = draft_from_run(&dir, &flags)?;
            if let Some(out) = &out {
                write_new(out, &draft.to_packet_file(), force)?;
            }
            if json {
                println!("{}", draft_json(&draft, out.as_deref()));
            } else {
                print!("{}", draft.render());
                if let Some(out) = &out {
                    eprintln!("wrote {}", out.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `from-run --json`: the fields in packet-file order, each with its value as the packet file
/// states it and where it came from (null when nothing but the defaults set it), the notes, and
/// the file written.
fn draft_json(draft: &RunDraft, out: Option<&Path>) -> serde_json::Value {
    let fields: Vec<_> = draft
        .fields()
        .into_iter()
        .map(|(name, value)| {
            let origin = draft.provenance.get(&name).map(|p| {
                let mut origin = serde_json::to_value(p).expect("a provenance of strings");
                origin["text"] = p.to_string().into();
                origin
            });
            serde_json::json!({ "name": name, "value": value, "origin": origin })
        })
        .collect();
    serde_json::json!({
        "fields": fields,
        "notes": draft.notes,
        "out": out,
    })
}

/// Drafts a packet from a run directory; on failure prints what was found, then fails with
/// every problem.
pub(super) fn draft_from_run(dir: &Path, flags: &RunFlags) -> Result<RunDraft, CliError> {
    from_run(dir, &flags.overrides()).map_err(|error| {
        if let Some(partial) = &error.partial {
            eprintln!("found so far:\n{}", partial.render());
        }
        CliError::Input(format!("{}: no packet:\n{error}", dir.display()))
    })
}

fn new(file: Option<&Path>, example: bool, force: bool) -> Result<ExitCode, CliError> {
    let text = if example {
        packet_example()
    } else {
        template()
    };
    match file {
        None => print!("{text}"),
        Some(path) => {
            write_new(path, &text, force)?;
            let next = if example {
                "edit it to your run"
            } else {
                "fill in every \"<e.g. …>\""
            };
            eprintln!(
                "wrote {}; {next}, then: qis packet check {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path`; an existing file is replaced only with `force`, and otherwise
/// left as it was with an error saying so.
fn write_new(path: &Path, text: &str, force: bool) -> Result<(), CliError> {
    use std::io::Write;
    if force {
        return qis_udp::write_atomically(path, text.as_bytes(), 0o644)
            .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::Input(format!(
                    "{} exists and was left as it is; give another name or --force to replace it",
                    path.display()
                ))
            } else {
                CliError::Input(format!("{}: {e}", path.display()))
            }
        })?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
