//! Values the caller supplies (the CLI fills this from flags). An override always wins over a
//! value found on disk, and its provenance says so.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Method;
use super::super::scale::{DataScale, ScoreScale};
use qis_core::RecordId;
use std::path::PathBuf;

/// Which evidence on disk provides the baseline and outcome scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScoreSource {
    /// lm-evaluation-harness results if there are any, else a Trainer evaluation at step 0
    /// paired with the final evaluation.
    #[default]
    Auto,
    /// lm-evaluation-harness results only.
    LmEval,
    /// The Trainer's own evaluation: step 0 (`eval_on_start`) against the final evaluation.
    Trainer,
}

/// Caller-provided values, one per `qis packet from-run` flag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--family`
    pub family: Option<String>,
    /// `--task`
    pub task: Option<String>,
    /// `--tag` (repeatable)
    pub tags: Vec<String>,
    /// `--data-scale`
    pub data_scale: Option<DataScale>,
    /// `--benchmark`: also selects the lm-eval task when results hold several.
    pub benchmark: Option<String>,
    /// `--metric`: the lm-eval metric (default: the task's first listed metric).
    pub metric: Option<String>,
    /// `--lm-eval-filter`: the lm-eval filter when a task reports several (`strict-match`).
    pub lm_eval_filter: Option<String>,
    /// `--shots`: few-shot examples per prompt, where the results do not say.
    pub shots: Option<u64>,
    /// `--score-source`
    pub score_source: ScoreSource,
    /// `--score-scale`
    pub score_scale: Option<ScoreScale>,
    /// `--lower-is-better` sets this to false.
    pub higher_is_better: Option<bool>,
    /// `--baseline`
    pub baseline: Option<f64>,
    /// `--outcome`
    pub outcome: Option<f64>,
    /// `--eval-samples`
    pub eval_samples: Option<u64>,
    /// `--held-out`
    pub held_out: Option<bool>,
    /// `--confidence`
    pub confidence: Option<f64>,
    /// `--method`
    pub method: Option<Method>,
    /// `--param NAME=VALUE` (repeatable)
    pub hyperparams: Vec<(HyperKey, HyperValue)>,
    /// `--built-on ID` (repeatable)
    pub built_on: Vec<RecordId>,
    /// `--outcome-results FILE`: the fine-tuned model's lm-eval results, wherever they are.
    pub outcome_results: Option<PathBuf>,
    /// `--baseline-results FILE`: the base model's lm-eval results, wherever they are.
    pub baseline_results: Option<PathBuf>,
}
