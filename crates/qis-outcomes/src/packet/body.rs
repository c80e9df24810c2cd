//! The packet body: everything a publisher states about one fine-tuning result. It is the
//! postcard-encoded payload of a [`SignedRecord`](qis_core::SignedRecord); publisher,
//! creation time and signature live in the record and are not repeated here.

use super::hyper::{HyperKey, HyperValue};
use super::method::Method;
use super::scale::{DataScale, ScoreScale};
use qis_core::RecordId;
use serde::{Deserialize, Serialize};

/// One fine-tuning result, in canonical form once [validated](super::validate).
///
/// The delta is not stored: it is `outcome - baseline` by definition ([`delta`](Self::delta)),
/// and storing it would only create a way for the two to disagree. A stated delta is checked
/// when a packet is drafted ([`Draft`](super::draft::Draft)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeBody {
    /// Base model family, folded ([`fold_family`](super::family::fold_family)): `llama-3-8b`.
    pub family: String,
    /// Task type, canonical token: `summarization`, `medical-qa`.
    pub task: String,
    /// Domain tags, canonical tokens, sorted and deduplicated: `["news", "swahili"]`.
    pub tags: Vec<String>,
    /// Training data size bucket.
    pub data_scale: DataScale,
    /// Benchmark (canonical, usually an lm-evaluation-harness task name): `medqa_4options`.
    pub benchmark: String,
    /// The scale both scores are on.
    pub score_scale: ScoreScale,
    /// Whether a higher score is better (false for perplexity, loss, error rate).
    pub higher_is_better: bool,
    /// Score of the base model (before fine-tuning).
    pub baseline: f32,
    /// Score of the fine-tuned model, same benchmark and settings.
    pub outcome: f32,
    /// How the model was fine-tuned.
    pub method: Method,
    /// Key hyperparameters, sorted by key, each key at most once.
    pub hyperparams: Vec<(HyperKey, HyperValue)>,
    /// Whether the evaluation data was held out from training.
    pub held_out: bool,
    /// Number of evaluation examples (≥ 1).
    pub eval_samples: u32,
    /// Publisher's confidence that the delta is real, in `[0, 1]`.
    pub confidence: f32,
    /// Packets this result built on (credited when it proves useful), at most
    /// [`MAX_BUILT_ON`](super::limits::MAX_BUILT_ON).
    pub built_on: Vec<RecordId>,
}

impl OutcomeBody {
    /// `outcome - baseline`, computed in `f64` from the stored `f32` scores.
    pub fn delta(&self) -> f64 {
        f64::from(self.outcome) - f64::from(self.baseline)
    }

    /// The improvement: the delta, negated when lower scores are better. Positive means the
    /// fine-tune helped.
    pub fn gain(&self) -> f64 {
        if self.higher_is_better {
            self.delta()
        } else {
            -self.delta()
        }
    }

    /// The gain in unit-interval points (percent scores divided by 100), so gains on different
    /// benchmarks can be combined. Unbounded scales have no common unit: their gain is taken
    /// relative to the baseline's magnitude and clamped to `[-1, 1]`.
    pub fn normalized_gain(&self) -> f64 {
        match self.score_scale.to_unit_factor() {
            Some(factor) => self.gain() * factor,
            None => {
                let reference = f64::from(self.baseline).abs().max(1e-9);
                (self.gain() / reference).clamp(-1.0, 1.0)
            }
        }
    }

    /// The value of hyperparameter `key`, if stated.
    pub fn hyperparam(&self, key: &HyperKey) -> Option<&HyperValue> {
        self.hyperparams
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The postcard encoding (the record payload).
    pub fn encode(&self) -> Vec<u8> {
        // Encoding plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a payload, refusing trailing bytes (two encodings of one packet must not exist).
    pub fn decode(bytes: &[u8]) -> Result<OutcomeBody, postcard::Error> {
        let (body, rest) = postcard::take_from_bytes::<OutcomeBody>(bytes)?;
        if rest.is_empty() {
            Ok(body)
        } else {
            Err(postcard::Error::DeserializeBadEncoding)
        }
    }
}
