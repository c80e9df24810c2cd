//! What the parsers found, each value with its origin. Parsers run in a fixed order and the
//! first value offered for a slot wins, so precedence is the parser order (see
//! [`from_run`](super::from_run)).

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Objective;
use super::lmeval::LmEvalFile;
use super::problem::RunProblem;
use super::provenance::Provenance;
use std::collections::BTreeMap;

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub from: Provenance,
}

/// Sets `slot` unless an earlier source already did.
pub(crate) fn offer<T>(slot: &mut Option<Sourced<T>>, value: T, from: Provenance) {
    if slot.is_none() {
        *slot = Some(Sourced { value, from });
    }
}

/// The Trainer's own evaluation metrics (`eval_*` other than loss and timings).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TrainerEval {
    /// Metrics logged at step 0 (`eval_on_start`), by name without the `eval_` prefix.
    pub at_start: BTreeMap<String, Sourced<f64>>,
    /// Metrics of the final evaluation, by name without the `eval_` prefix.
    pub at_end: BTreeMap<String, Sourced<f64>>,
    /// Size of the evaluation set.
    pub samples: Option<Sourced<u64>>,
}

/// Per-device batch, gradient accumulation and device count, each with its origin.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct BatchParts {
    /// Examples per device per forward pass.
    pub micro: Option<Sourced<i64>>,
    /// Gradient accumulation steps.
    pub accumulation: Option<Sourced<i64>>,
    /// Devices (processes) training together.
    pub devices: Option<Sourced<i64>>,
}

/// Everything found in a run directory.
#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    /// Base model name or hub id.
    pub base_model: Option<Sourced<String>>,
    /// PEFT adapter type, lower case (`lora`, `dora`, `ia3`, …).
    pub adapter: Option<Sourced<String>>,
    /// Bits of the quantised frozen base, when the base was quantised for training.
    pub quant_bits: Option<Sourced<i64>>,
    /// LLaMA-Factory `finetuning_type` (`lora`, `full`, `freeze`).
    pub finetuning_type: Option<Sourced<String>>,
    /// A full model `config.json` was written (a full fine-tune when no adapter exists).
    pub full_model: Option<Sourced<()>>,
    /// The training objective, as a training config states it.
    pub objective: Option<Sourced<Objective>>,
    /// The objective as the logs or the model card's tags suggest it (used when no config
    /// states one).
    pub objective_hint: Option<Sourced<Objective>>,
    /// The adapter uses rank-stabilised scaling (`use_rslora`).
    pub rslora: Option<Sourced<()>>,
    /// Parts of the effective batch, for when no file states the total.
    pub batch: BatchParts,
    /// Sample packing: training sequences are packed examples, not examples.
    pub packing: Option<Sourced<bool>>,
    /// Optimizer steps taken (`global_step`).
    pub steps: Option<Sourced<u64>>,
    /// Warm-up in steps, for when no ratio is written.
    pub warmup_steps: Option<Sourced<u64>>,
    /// Hyperparameters.
    pub hyper: BTreeMap<HyperKey, Sourced<HyperValue>>,
    /// Training examples.
    pub train_samples: Option<Sourced<u64>>,
    /// The Trainer's evaluation.
    pub trainer_eval: TrainerEval,
    /// lm-evaluation-harness result files.
    pub lm_eval: Vec<LmEvalFile>,
    /// Problems with the files.
    pub problems: Vec<RunProblem>,
    /// Things the publisher should know.
    pub notes: Vec<String>,
}

impl Findings {
    /// Offers a hyperparameter (first offer wins).
    pub(crate) fn offer_hyper(&mut self, key: HyperKey, value: HyperValue, from: Provenance) {
        self.hyper.entry(key).or_insert(Sourced { value, from });
    }

    /// Records the problem of a `Result` and returns its value, if any.
    pub(crate) fn keep<T>(&mut self, result: Result<T, RunProblem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.problems.push(problem);
                None
            }
        }
    }
}
