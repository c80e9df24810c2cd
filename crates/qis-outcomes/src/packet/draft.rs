//! [`Draft`]: a packet as a person or a tool states it, before normalisation and validation.
//! Every field is optional until [`Draft::build`], which names the first missing one.

use super::body::{NO_FILTER, OutcomeBody};
use super::error::PacketError;
use super::hyper::{HyperKey, HyperValue};
use super::method::Method;
use super::scale::{DataScale, ScoreScale};
use super::validate::{check_delta, normalize, validate};
use qis_core::RecordId;

/// A packet under construction (from a packet file, from a run directory, or from flags).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draft {
    /// Base model name or family (folded when built).
    pub family: Option<String>,
    /// Task type.
    pub task: Option<String>,
    /// Domain tags.
    pub tags: Vec<String>,
    /// Training data size bucket.
    pub data_scale: Option<DataScale>,
    /// Benchmark name.
    pub benchmark: Option<String>,
    /// Metric name (`acc`, `exact_match`).
    pub metric: Option<String>,
    /// Filter applied before scoring (default: `none`).
    pub filter: Option<String>,
    /// Few-shot examples per prompt.
    pub shots: Option<u64>,
    /// Scale of both scores (default: unit interval).
    pub score_scale: Option<ScoreScale>,
    /// Whether higher scores are better (default: true).
    pub higher_is_better: Option<bool>,
    /// Base model score.
    pub baseline: Option<f64>,
    /// Fine-tuned model score.
    pub outcome: Option<f64>,
    /// Stated delta; checked against `outcome - baseline` when present.
    pub delta: Option<f64>,
    /// Fine-tuning method.
    pub method: Option<Method>,
    /// Key hyperparameters (any order; normalised when built).
    pub hyperparams: Vec<(HyperKey, HyperValue)>,
    /// Whether the evaluation data was held out from training.
    pub held_out: Option<bool>,
    /// Evaluation examples.
    pub eval_samples: Option<u64>,
    /// Confidence in `[0, 1]`.
    pub confidence: Option<f64>,
    /// Packets this result built on.
    pub built_on: Vec<RecordId>,
}

fn required<T: Clone>(value: &Option<T>, field: &str) -> Result<T, PacketError> {
    value.clone().ok_or_else(|| PacketError::Missing {
        field: field.into(),
    })
}

/// An `f64` as the `f32` a packet stores, refusing values the conversion would make infinite.
fn to_f32(field: &str, value: f64) -> Result<f32, PacketError> {
    let narrow = value as f32;
    if value.is_finite() && !narrow.is_finite() {
        return Err(PacketError::OutOfRange {
            field: field.into(),
            value: value.to_string(),
            range: "±3.4e38".into(),
        });
    }
    Ok(narrow)
}

impl Draft {
    /// Sets or replaces a hyperparameter.
    pub fn set_hyperparam(&mut self, key: HyperKey, value: HyperValue) {
        self.hyperparams.retain(|(k, _)| *k != key);
        self.hyperparams.push((key, value));
    }

    /// Normalises and validates the draft into a packet body; the first missing or invalid field
    /// is reported.
    pub fn build(&self) -> Result<OutcomeBody, PacketError> {
        let eval_samples = required(&self.eval_samples, "eval_samples")?;
        let eval_samples = u32::try_from(eval_samples).map_err(|_| PacketError::OutOfRange {
            field: "eval_samples".into(),
            value: eval_samples.to_string(),
            range: "1..=4294967295".into(),
        })?;
        let shots = match self.shots {
            Some(shots) => Some(u8::try_from(shots).map_err(|_| PacketError::OutOfRange {
                field: "shots".into(),
                value: shots.to_string(),
                range: "0..=255".into(),
            })?),
            None => None,
        };
        let body = OutcomeBody {
            family: required(&self.family, "family")?,
            task: required(&self.task, "task")?,
            tags: self.tags.clone(),
            data_scale: required(&self.data_scale, "data_scale")?,
            benchmark: required(&self.benchmark, "benchmark")?,
            metric: required(&self.metric, "metric")?,
            filter: self.filter.clone().unwrap_or_else(|| NO_FILTER.into()),
            shots,
            score_scale: self.score_scale.unwrap_or(ScoreScale::Unit),
            higher_is_better: self.higher_is_better.unwrap_or(true),
            baseline: to_f32("baseline", required(&self.baseline, "baseline")?)?,
            outcome: to_f32("outcome", required(&self.outcome, "outcome")?)?,
            method: required(&self.method, "method")?,
            hyperparams: self.hyperparams.clone(),
            held_out: required(&self.held_out, "held_out")?,
            eval_samples,
            confidence: to_f32("confidence", required(&self.confidence, "confidence")?)?,
            built_on: self.built_on.clone(),
        };
        let body = normalize(body);
        validate(&body)?;
        if let Some(stated) = self.delta {
            check_delta(&body, stated)?;
        }
        Ok(body)
    }
}
