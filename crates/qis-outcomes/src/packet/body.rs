//! The packet body: everything a publisher states about one fine-tuning result. It is the
//! payload of a [`SignedRecord`](qis_core::SignedRecord): one byte of format version
//! ([`PACKET_FORMAT_VERSION`]), then the postcard encoding of the fields. Publisher, creation
//! time and signature live in the record and are not repeated here.

use super::error::PacketError;
use super::hyper::{HyperKey, HyperValue};
use super::method::Method;
use super::scale::{DataScale, ScoreScale};
use super::versioned::{VersionedError, decode_versioned, encode_versioned};
use qis_core::RecordId;
use serde::{Deserialize, Serialize};

/// Format version of an outcome packet body: the first byte of every packet payload. A later
/// layout bumps it, so a reader refuses a packet it cannot read by name
/// ([`PacketError::Version`]) instead of misreading its fields. Bodies from before the version
/// byte existed (pre-release) start with the family's length, 1 to 48, and are refused the same
/// way; they were never published on the main network.
///
/// Version 2 added the metric, the evaluation filter and the number of shots, so that gains
/// are compared only between packets measured alike. A version-1 packet does not say how it
/// was measured and cannot be given those fields by anyone but its publisher, so it is refused
/// (nodes count it as a policy refusal; `query` counts it as unreadable) rather than guessed.
pub const PACKET_FORMAT_VERSION: u8 = 2;

/// One fine-tuning result, in canonical form once validated
/// ([`validate_body`](crate::validate_body)).
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
    /// The metric both scores are (canonical, as lm-evaluation-harness names it): `acc`,
    /// `acc_norm`, `exact_match`, `word_perplexity`.
    pub metric: String,
    /// The filter applied to the model's answers before scoring (lm-evaluation-harness:
    /// `strict-match`, `flexible-extract`); `none` when there is none.
    pub filter: String,
    /// Few-shot examples in each prompt, if stated (0: zero-shot).
    pub shots: Option<u8>,
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

/// The filter of a packet whose answers were scored as they stand.
pub const NO_FILTER: &str = "none";

/// How a packet's scores were measured: benchmark, metric, filter and shots. Two packets'
/// gains are comparable as numbers only when their settings are equal; displayed as
/// `gsm8k exact_match (5-shot, filter flexible-extract)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EvalSetting<'a> {
    /// The benchmark.
    pub benchmark: &'a str,
    /// The metric.
    pub metric: &'a str,
    /// The filter (`none` for none).
    pub filter: &'a str,
    /// Few-shot examples, if stated.
    pub shots: Option<u8>,
}

impl std::fmt::Display for EvalSetting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.benchmark, self.metric)?;
        let shots = self.shots.map(|s| format!("{s}-shot"));
        let filter = (self.filter != NO_FILTER).then(|| format!("filter {}", self.filter));
        let details: Vec<String> = shots.into_iter().chain(filter).collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

/// The improvement from `baseline` to `outcome`: positive when the score moved the way that is
/// better.
pub(crate) fn gain_of(higher_is_better: bool, baseline: f32, outcome: f32) -> f64 {
    let delta = f64::from(outcome) - f64::from(baseline);
    if higher_is_better { delta } else { -delta }
}

/// [`gain_of`] in unit-interval points (the rule of [`OutcomeBody::normalized_gain`]), shared by
/// packets and reproductions so both are compared on one scale.
pub(crate) fn normalized_gain_of(
    scale: ScoreScale,
    higher_is_better: bool,
    baseline: f32,
    outcome: f32,
) -> f64 {
    let gain = gain_of(higher_is_better, baseline, outcome);
    match scale.to_unit_factor() {
        Some(factor) => gain * factor,
        None => {
            let reference = f64::from(baseline).abs().max(1e-9);
            (gain / reference).clamp(-1.0, 1.0)
        }
    }
}

impl OutcomeBody {
    /// `outcome - baseline`, computed in `f64` from the stored `f32` scores.
    pub fn delta(&self) -> f64 {
        f64::from(self.outcome) - f64::from(self.baseline)
    }

    /// The improvement: the delta, negated when lower scores are better. Positive means the
    /// fine-tune helped.
    pub fn gain(&self) -> f64 {
        gain_of(self.higher_is_better, self.baseline, self.outcome)
    }

    /// The gain in unit-interval points (percent scores divided by 100), so gains on different
    /// benchmarks can be combined. Unbounded scales have no common unit: their gain is taken
    /// relative to the baseline's magnitude and clamped to `[-1, 1]`.
    pub fn normalized_gain(&self) -> f64 {
        normalized_gain_of(
            self.score_scale,
            self.higher_is_better,
            self.baseline,
            self.outcome,
        )
    }

    /// How both scores were measured: packets are compared like for like only when this is
    /// equal.
    pub fn setting(&self) -> EvalSetting<'_> {
        EvalSetting {
            benchmark: &self.benchmark,
            metric: &self.metric,
            filter: &self.filter,
            shots: self.shots,
        }
    }

    /// The value of hyperparameter `key`, if stated.
    pub fn hyperparam(&self, key: &HyperKey) -> Option<&HyperValue> {
        self.hyperparams
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The record payload: [`PACKET_FORMAT_VERSION`], then the postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode_versioned(PACKET_FORMAT_VERSION, self)
    }

    /// Decodes a payload: a format version other than [`PACKET_FORMAT_VERSION`] is refused as
    /// [`PacketError::Version`]; undecodable fields, trailing bytes or a non-canonical encoding
    /// (two encodings of one packet must not exist) as [`PacketError::Decode`].
    pub fn decode(bytes: &[u8]) -> Result<OutcomeBody, PacketError> {
        decode_versioned(bytes, PACKET_FORMAT_VERSION, "packet").map_err(|e| match e {
            VersionedError::Version(found) => PacketError::Version {
                found,
                supported: PACKET_FORMAT_VERSION,
            },
            VersionedError::Decode(reason) => PacketError::Decode(reason),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::template::{example as template, parse_packet_file};

    fn sample() -> OutcomeBody {
        parse_packet_file(&template()).unwrap().build().unwrap()
    }

    #[test]
    fn the_payload_starts_with_the_format_version_and_round_trips() {
        let body = sample();
        let payload = body.encode();
        assert_eq!(payload[0], PACKET_FORMAT_VERSION);
        assert_eq!(payload.len(), 1 + postcard::to_stdvec(&body).unwrap().len());
        assert_eq!(OutcomeBody::decode(&payload).unwrap(), body);
    }

    #[test]
    fn a_padded_varint_is_not_a_second_encoding_of_the_packet() {
        let body = sample();
        let mut padded = body.encode();
        // The family's length, written as a two-byte varint of the same value.
        assert!(padded[1] < 0x80);
        padded[1] |= 0x80;
        padded.insert(2, 0);
        assert_eq!(
            postcard::from_bytes::<OutcomeBody>(&padded[1..]).unwrap(),
            body
        );
        assert!(matches!(
            OutcomeBody::decode(&padded),
            Err(PacketError::Decode(reason)) if reason.contains("canonical")
        ));
    }

    #[test]
    fn another_format_version_is_refused_by_name() {
        let mut payload = sample().encode();
        payload[0] = PACKET_FORMAT_VERSION + 1;
        let error = OutcomeBody::decode(&payload).unwrap_err();
        assert_eq!(
            error,
            PacketError::Version {
                found: PACKET_FORMAT_VERSION + 1,
                supported: PACKET_FORMAT_VERSION
            }
        );
        assert!(
            error
                .to_string()
                .contains("format version 3, this qis reads version 2"),
            "{error}"
        );
        // A version-1 packet (no metric, filter or shots) is refused the same way.
        payload[0] = 1;
        assert!(matches!(
            OutcomeBody::decode(&payload),
            Err(PacketError::Version { found: 1, .. })
        ));
        // A body without the version byte (pre-release) starts with the family's length.
        let unversioned = postcard::to_stdvec(&sample()).unwrap();
        assert!(matches!(
            OutcomeBody::decode(&unversioned),
            Err(PacketError::Version { .. })
        ));
        assert!(matches!(
            OutcomeBody::decode(&[]),
            Err(PacketError::Decode(_))
        ));
    }
}
