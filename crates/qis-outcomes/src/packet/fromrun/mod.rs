//! `qis packet from-run DIR`: draft a packet from what a training run wrote, with the origin of
//! every value, so the publisher sees `field = value (from file:key)` before signing.
//!
//! # What is read, in order of precedence (the first source of a value wins)
//!
//! 1. PEFT `adapter_config.json`: base model (a `bnb-4bit`/GPTQ/AWQ id means a quantised base),
//!    adapter type (`use_dora`), `use_rslora`, `r`, `lora_alpha`, `lora_dropout`,
//!    `target_modules`;
//! 2. the model card `README.md`: front matter `base_model` and `tags` (a trainer's name, such
//!    as `dpo`, suggests the objective), the bitsandbytes block (`load_in_4bit` makes a LoRA run
//!    QLoRA), the Trainer's hyperparameter list (`learning_rate`, `total_train_batch_size` or
//!    its parts, `num_epochs`, `lr_scheduler_type`, warm-up), and the axolotl config block;
//! 3. training YAML, told apart by their keys: LLaMA-Factory (`stage`, `finetuning_type`, …),
//!    [torchtune] recipes, [axolotl] configs, [TRL / alignment-handbook](trl) recipes and
//!    accelerate configs (`num_processes`); DeepSpeed JSON (`train_batch_size` and its parts);
//! 4. `all_results.json`, `eval_results.json`, `train_results.json`: `train_samples` (the data
//!    scale; estimated from throughput, or from steps × effective batch ÷ epochs, when absent),
//!    `eval_samples`, final `eval_*` metrics;
//! 5. `trainer_state.json` (the newest `checkpoint-*/trainer_state.json` when the run left none
//!    at the top): `num_train_epochs`, `global_step`, `train_batch_size`, the log keys
//!    (`rewards/*`, `logps/*`: a preference objective), evaluations in `log_history` (step 0 =
//!    `eval_on_start`);
//! 6. a full model's `config.json` (`_name_or_path`; marks a full fine-tune without adapter);
//! 7. LLaMA-Factory `trainer_log.jsonl` (checked; it holds losses only) and torchtune's metric
//!    log (`Step N |`: the steps taken);
//! 8. lm-evaluation-harness `results*.json` files, also in the hidden folders lm-eval names
//!    after a local path (`.__out`), or given by `--outcome-results` / `--baseline-results`.
//!
//! Intermediate `checkpoint-*` directories are otherwise skipped; `training_args.bin` is a
//! pickle and is never opened. Flags ([`Overrides`]) win over everything on disk. A config's
//! stated objective wins over the card's tags and the log keys. When the packet would not fit
//! its 512 bytes, the least used hyperparameters are dropped first, each named in a note.
//!
//! # Scores
//!
//! With [`ScoreSource::Auto`], lm-eval results are used when present: the fine-tuned model's
//! result is paired with the base model's under the same task, metric, filter, shots, limit and
//! sample count, or refused with the difference named. A task with several filters (gsm8k's
//! `strict-match` and `flexible-extract`) needs `--lm-eval-filter`. Without lm-eval results, a
//! Trainer evaluation at step 0 is paired with the final one (same metric, same evaluation
//! set); the Trainer does not record its evaluation set's name, so `--benchmark` names it. An
//! lm-eval score is never paired with a Trainer score: they are different evaluations.
//! Confidence comes from the reported standard errors (see [`confidence`]).
//!
//! # Errors
//!
//! Broken files (truncated JSON, NaN, negative counts) are reported alone, each naming file and
//! key: nothing is drafted from a broken run. Otherwise every missing field is reported with
//! the flag that supplies it.

pub(crate) mod axolotl;
pub(crate) mod confidence;
pub(crate) mod config;
mod context;
pub(crate) mod files;
pub(crate) mod findings;
pub(crate) mod hf;
pub(crate) mod llamafactory;
pub(crate) mod lmeval;
pub(crate) mod overrides;
pub(crate) mod problem;
pub(crate) mod provenance;
mod scores;
mod shaping;
pub(crate) mod torchtune;
pub(crate) mod training;
pub(crate) mod trl;
pub(crate) mod yaml;

pub use overrides::{Overrides, ScoreSource};
pub use problem::{FromRunError, RunProblem};
pub use provenance::{Provenance, RunDraft};

use super::body::OutcomeBody;
use super::draft::Draft;
use super::error::PacketError;
use findings::Findings;
use std::collections::BTreeMap;
use std::path::Path;

/// Drafts a packet from the run directory `dir`, applying `overrides`.
///
/// On success the draft is complete and valid ([`RunDraft::build`] cannot fail). On failure the
/// error lists every problem; when the files were readable it also carries the partial draft,
/// so the CLI can show what was found next to what is missing.
pub fn from_run(dir: &Path, overrides: &Overrides) -> Result<RunDraft, FromRunError> {
    let run_files = files::walk(dir).map_err(|p| FromRunError {
        problems: vec![p],
        partial: None,
    })?;
    let mut found = Findings::default();
    read_all(dir, &run_files, &mut found);
    read_given_results(dir, overrides, &mut found);
    if !found.problems.is_empty() {
        let mut problems = Vec::new();
        for p in found.problems {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        return Err(FromRunError {
            problems,
            partial: None,
        });
    }
    let mut assembly = Assembly {
        notes: found.notes.clone(),
        ..Assembly::default()
    };
    if run_files.saw_pickle {
        assembly
            .notes
            .push("training_args.bin ignored: it is a pickle, and loading one runs code".into());
    }
    context::assemble_context(&found, overrides, &mut assembly);
    scores::assemble_scores(&found, overrides, &mut assembly);
    assembly.finish(overrides)
}

/// Reads every known file in precedence order.
fn read_all(dir: &Path, run_files: &files::RunFiles, found: &mut Findings) {
    if let Some(path) = run_files.named("adapter_config.json").first() {
        hf::adapter_config(dir, path, found);
    }
    for path in run_files.named("README.md") {
        hf::model_card(dir, path, found);
    }
    for path in run_files.ending_with(&[".yaml", ".yml"]) {
        training_yaml(dir, path, found);
    }
    for path in run_files.ending_with(&[".json"]) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if (name.contains("deepspeed") || name.starts_with("ds_") || name.starts_with("zero"))
            && let Some(json) = found.keep(files::read_json(dir, path))
        {
            training::deepspeed_config(&json, &files::display(path), found);
        }
    }
    for name in [
        "all_results.json",
        "eval_results.json",
        "train_results.json",
    ] {
        if let Some(path) = run_files.named(name).first() {
            hf::results(dir, path, found);
        }
    }
    if let Some(path) = run_files.named("trainer_state.json").first() {
        hf::trainer_state(dir, path, found);
    } else if let Some(path) = run_files.newest_checkpoint_state() {
        found.notes.push(format!(
            "no final trainer_state.json: read the newest checkpoint's, {}",
            files::display(path)
        ));
        hf::trainer_state(dir, path, found);
    }
    if let Some(path) = run_files.named("config.json").first() {
        hf::model_config(dir, path, found);
    }
    if let Some(path) = run_files.named("trainer_log.jsonl").first() {
        llamafactory::trainer_log(dir, path, found);
    }
    for path in &run_files.all {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if torchtune::is_metric_log(name) {
            torchtune::metric_log(dir, path, found);
        }
    }
    let results: Vec<_> = run_files
        .all
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(lmeval::is_results_name)
        })
        .collect();
    for path in results {
        let role = lmeval::Role::Auto {
            run_dirs: &run_files.dirs,
        };
        lmeval::read(dir, path, role, found);
    }
}

/// A YAML file: a LLaMA-Factory, torchtune, axolotl, TRL / alignment-handbook or accelerate
/// config, told apart by their own keys; any other YAML is left alone, and one that does not
/// parse is noted (a run folder holds YAML of every kind).
fn training_yaml(dir: &Path, path: &Path, found: &mut Findings) {
    if llamafactory::training_yaml(dir, path, found) {
        return;
    }
    let doc = match yaml::read_yaml(dir, path) {
        Ok(doc) => doc,
        Err(problem) => {
            found.notes.push(format!("{problem}; skipped"));
            return;
        }
    };
    let config = config::Config {
        doc: &doc,
        file: files::display(path),
    };
    if torchtune::is_torchtune(&doc) {
        torchtune::read(&config, found);
    } else if axolotl::is_axolotl(&doc) {
        axolotl::read(&config, found);
    } else if trl::is_trl(&doc) {
        trl::read(&config, found);
    } else {
        training::accelerate_config(&doc, &config.file, found);
    }
}

/// Results files given by `--outcome-results` / `--baseline-results` (paths as given, read
/// wherever they are); a file also found in the run directory is taken in its given role.
fn read_given_results(dir: &Path, overrides: &Overrides, found: &mut Findings) {
    for (path, tuned, flag) in [
        (&overrides.outcome_results, true, "--outcome-results"),
        (&overrides.baseline_results, false, "--baseline-results"),
    ] {
        let Some(path) = path else { continue };
        let before = found.lm_eval.len();
        let read = lmeval::read(Path::new(""), path, lmeval::Role::Forced(tuned), found);
        if !read && found.lm_eval.len() == before {
            found.problems.push(RunProblem::file(
                &files::display(path),
                None,
                format!("given with {flag}, but not an lm-evaluation-harness results file (no results and config)"),
            ));
        }
        if let Ok(given) = std::fs::canonicalize(path) {
            found.lm_eval.retain(|f| {
                f.forced || std::fs::canonicalize(dir.join(&f.file)).ok().as_ref() != Some(&given)
            });
        }
    }
}

/// The draft under construction, the origin of each field, and why missing fields are missing.
#[derive(Default)]
pub(crate) struct Assembly {
    pub(crate) draft: Draft,
    pub(crate) provenance: BTreeMap<String, Provenance>,
    /// For a field still missing at the end: why it was not found.
    pub(crate) why_missing: BTreeMap<&'static str, String>,
    pub(crate) problems: Vec<RunProblem>,
    pub(crate) notes: Vec<String>,
}

impl Assembly {
    pub(crate) fn note_from(&mut self, field: &str, from: &Provenance) {
        self.provenance.insert(field.to_string(), from.clone());
    }

    /// Applies overrides, then reports every missing field with its flag.
    fn finish(mut self, overrides: &Overrides) -> Result<RunDraft, FromRunError> {
        self.apply_overrides(overrides);
        shaping::settle_scale(&mut self);
        let d = &self.draft;
        let required: [(&str, &str, bool); 11] = [
            ("family", "--family", d.family.is_some()),
            ("task", "--task", d.task.is_some()),
            ("data_scale", "--data-scale", d.data_scale.is_some()),
            ("benchmark", "--benchmark", d.benchmark.is_some()),
            ("metric", "--metric", d.metric.is_some()),
            ("baseline", "--baseline", d.baseline.is_some()),
            ("outcome", "--outcome", d.outcome.is_some()),
            ("method", "--method", d.method.is_some()),
            ("held_out", "--held-out", d.held_out.is_some()),
            ("eval_samples", "--eval-samples", d.eval_samples.is_some()),
            ("confidence", "--confidence", d.confidence.is_some()),
        ];
        for (field, flag, present) in required {
            // A field left out by an earlier problem (ambiguity, incomparable scores) is covered
            // by that problem's message.
            if present || (!self.why_missing.contains_key(field) && !self.problems.is_empty()) {
                continue;
            }
            let why = self
                .why_missing
                .get(field)
                .cloned()
                .unwrap_or_else(|| "not found in the run directory".into());
            self.problems.push(RunProblem::Missing {
                field: field.into(),
                flag: flag.into(),
                why,
            });
        }
        if self.problems.is_empty() {
            shaping::fit_size(&mut self);
        }
        let run = RunDraft {
            draft: self.draft,
            provenance: self.provenance,
            notes: self.notes,
        };
        if self.problems.is_empty()
            && let Err(e) = run.draft.build()
        {
            self.problems.push(RunProblem::Invalid(e));
        }
        if self.problems.is_empty() {
            Ok(run)
        } else {
            Err(FromRunError {
                problems: self.problems,
                partial: Some(Box::new(run)),
            })
        }
    }

    fn apply_overrides(&mut self, o: &Overrides) {
        let mut mark = |field: &str, flag: &str| {
            self.provenance.insert(
                field.to_string(),
                Provenance::Override {
                    flag: flag.to_string(),
                },
            );
        };
        let d = &mut self.draft;
        macro_rules! take {
            ($field:ident, $flag:expr) => {
                if let Some(value) = &o.$field {
                    d.$field = Some(value.clone());
                    mark(stringify!($field), $flag);
                }
            };
        }
        take!(family, "--family");
        take!(task, "--task");
        take!(data_scale, "--data-scale");
        take!(benchmark, "--benchmark");
        take!(metric, "--metric");
        take!(shots, "--shots");
        if let Some(filter) = &o.lm_eval_filter {
            d.filter = Some(filter.clone());
            mark("filter", "--lm-eval-filter");
        }
        take!(score_scale, "--score-scale");
        take!(higher_is_better, "--lower-is-better");
        take!(baseline, "--baseline");
        take!(outcome, "--outcome");
        take!(eval_samples, "--eval-samples");
        take!(held_out, "--held-out");
        take!(confidence, "--confidence");
        take!(method, "--method");
        if !o.tags.is_empty() {
            d.tags = o.tags.clone();
            mark("tags", "--tag");
        }
        if !o.built_on.is_empty() {
            d.built_on = o.built_on.clone();
            mark("built_on", "--built-on");
        }
        for (key, value) in &o.hyperparams {
            d.set_hyperparam(key.clone(), value.clone());
            mark(key.name(), "--param");
        }
    }
}

impl RunDraft {
    /// The packet body (the draft is complete and valid when `from_run` returned it).
    pub fn build(&self) -> Result<OutcomeBody, PacketError> {
        self.draft.build()
    }
}
