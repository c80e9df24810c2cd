//! Reproduction reports: "I re-ran packet X, and this is what I measured".
//!
//! A reproduction is a signed record of kind
//! [`RecordKind::Reproduction`](qis_core::RecordKind::Reproduction), at most
//! [`MAX_RECORD`](qis_core::constants::MAX_RECORD) bytes like every record. Its payload is one byte
//! of format version ([`REPRODUCTION_FORMAT_VERSION`]), then the postcard encoding of a
//! [`ReproductionBody`]: the id of packet X, X's context (family, task, tags), how the
//! reproducer measured (benchmark, metric, filter, shots, scale, direction) and what it measured
//! (its own baseline and outcome, evaluation size, held-out flag).
//!
//! It is stored under X's semantic keys, so the query that finds X finds its reproductions
//! too, with no extra lookup per packet; all of them but the task-alone key, which every
//! packet of the task shares and which is the first to fill: a query that reaches X only
//! there weighs X at a similarity of at most 0.15 (a fortieth of an exact match's weight),
//! and a report must not take the room of a packet where it matters least. (In the elections
//! simulator at 1,000 publishers, reports under the task key pushed 11% of the honest packets
//! out of the most popular task's key by round 8.) X's context travels in the report so that a node can
//! check the key it is asked to store under is one of X's keys without holding X; a report
//! naming a context other than X's is stored under keys where X is not, and simply never meets
//! X. A reproduction counts only when its measurement setting equals X's (a re-run on another
//! benchmark is not a reproduction): the client checks that when it reads both, in
//! [`standing`](crate::standing).
//!
//! What a reproduction is worth is decided by each client, never by the network: it counts by
//! its reproducer's standing, so reports by keys nobody vouches for (fresh Sybils, colluding
//! liars) weigh nothing.

use super::body::{EvalSetting, normalized_gain_of};
use super::draft::Draft;
use super::error::PacketError;
use super::keys::{KeyLevel, SemanticKey, context_keys};
use super::scale::ScoreScale;
use super::signed::OutcomePacket;
use super::validate::{Measured, validate_context, validate_measurement};
use super::versioned::{VersionedError, decode_versioned, encode_versioned};
use ed25519_dalek::SigningKey;
use qis_core::{PublicKey, RecordError, RecordId, RecordKind, SignedRecord};
use serde::{Deserialize, Serialize};

/// Format version of a reproduction body: the first byte of its payload. A later layout bumps
/// it, and a reader refuses a report of another version by name.
pub const REPRODUCTION_FORMAT_VERSION: u8 = 1;

/// What a reproducer states about its re-run of a packet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReproductionBody {
    /// The packet re-run.
    pub of: RecordId,
    /// That packet's family (its keys are derived from family, task and tags).
    pub family: String,
    /// That packet's task.
    pub task: String,
    /// That packet's tags.
    pub tags: Vec<String>,
    /// The benchmark the reproducer measured on.
    pub benchmark: String,
    /// The metric of both scores.
    pub metric: String,
    /// The filter applied to answers (`none` for none).
    pub filter: String,
    /// Few-shot examples per prompt, if stated.
    pub shots: Option<u8>,
    /// The scale both scores are on.
    pub score_scale: ScoreScale,
    /// Whether a higher score is better.
    pub higher_is_better: bool,
    /// The reproducer's score of the base model.
    pub baseline: f32,
    /// The reproducer's score of its re-run of the recipe.
    pub outcome: f32,
    /// Whether its evaluation data was held out from training.
    pub held_out: bool,
    /// Its number of evaluation examples (≥ 1).
    pub eval_samples: u32,
}

/// Why a reproduction was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReproductionError {
    /// The record is of another kind.
    #[error("record kind is {0}, not a reproduction")]
    NotReproduction(String),
    /// The payload is of another format version.
    #[error(
        "payload does not decode as a reproduction: format version {found}, this qis reads version {supported}"
    )]
    Version {
        /// The version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The payload does not decode.
    #[error("payload does not decode as a reproduction: {0}")]
    Decode(String),
    /// A field breaks a rule (the same rules as a packet's field of that name).
    #[error(transparent)]
    Field(#[from] PacketError),
    /// The record layer refused (signature, key, size).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The re-run was measured otherwise than the packet it names.
    #[error(
        "the re-run was measured as {found}, the packet as {expected}: a reproduction must use the packet's benchmark, metric, filter and shots"
    )]
    Setting {
        /// The packet's setting.
        expected: String,
        /// The re-run's setting.
        found: String,
    },
    /// A publisher tried to reproduce its own packet.
    #[error("a reproduction of one's own packet is not evidence: it would count for nothing")]
    OwnPacket,
}

impl ReproductionBody {
    /// A report on packet `of`, with the context and setting copied from it, and the
    /// reproducer's own scores.
    pub fn of_packet(
        of: &OutcomePacket,
        baseline: f32,
        outcome: f32,
        eval_samples: u32,
        held_out: bool,
    ) -> ReproductionBody {
        ReproductionBody::of_body(of.id(), &of.body, baseline, outcome, eval_samples, held_out)
    }

    /// A report on packet `of` whose body is `x` (see [`of_packet`](Self::of_packet)).
    pub fn of_body(
        of: RecordId,
        x: &crate::OutcomeBody,
        baseline: f32,
        outcome: f32,
        eval_samples: u32,
        held_out: bool,
    ) -> ReproductionBody {
        ReproductionBody {
            of,
            family: x.family.clone(),
            task: x.task.clone(),
            tags: x.tags.clone(),
            benchmark: x.benchmark.clone(),
            metric: x.metric.clone(),
            filter: x.filter.clone(),
            shots: x.shots,
            score_scale: x.score_scale,
            higher_is_better: x.higher_is_better,
            baseline,
            outcome,
            held_out,
            eval_samples,
        }
    }

    /// A report on packet `of` from a drafted re-run (a packet file's fields or `from-run`'s
    /// draft): its scores, evaluation size and held-out flag. Whatever the draft says of the
    /// measurement (benchmark, metric, filter, shots, scale, direction) must equal the packet's,
    /// after the same canonicalisation; what it leaves unsaid is the packet's. The draft's
    /// context, method and hyperparameters are not read: a reproduction re-runs the packet's.
    pub fn from_draft(
        of: &OutcomePacket,
        draft: &Draft,
    ) -> Result<ReproductionBody, ReproductionError> {
        let x = &of.body;
        let stated = Draft {
            benchmark: draft.benchmark.clone().or(Some(x.benchmark.clone())),
            metric: draft.metric.clone().or(Some(x.metric.clone())),
            filter: draft.filter.clone().or(Some(x.filter.clone())),
            shots: draft.shots.or(x.shots.map(u64::from)),
            score_scale: draft.score_scale.or(Some(x.score_scale)),
            higher_is_better: draft.higher_is_better.or(Some(x.higher_is_better)),
            // The rest only so that the draft builds; none of it is kept.
            family: Some(x.family.clone()),
            task: Some(x.task.clone()),
            tags: x.tags.clone(),
            data_scale: Some(x.data_scale),
            method: Some(x.method.clone()),
            confidence: Some(0.5),
            hyperparams: Vec::new(),
            built_on: Vec::new(),
            ..draft.clone()
        };
        let run = stated.build()?;
        let body = ReproductionBody::of_packet(
            of,
            run.baseline,
            run.outcome,
            run.eval_samples,
            run.held_out,
        );
        if !body.measured_like(&run) {
            return Err(ReproductionError::Setting {
                expected: x.setting().to_string(),
                found: run.setting().to_string(),
            });
        }
        body.validate()?;
        Ok(body)
    }

    /// The reproducer's gain in unit-interval points, by the rule of
    /// [`OutcomeBody::normalized_gain`](crate::OutcomeBody::normalized_gain).
    pub fn normalized_gain(&self) -> f64 {
        normalized_gain_of(
            self.score_scale,
            self.higher_is_better,
            self.baseline,
            self.outcome,
        )
    }

    /// How the re-run was measured.
    pub fn setting(&self) -> EvalSetting<'_> {
        EvalSetting {
            benchmark: &self.benchmark,
            metric: &self.metric,
            filter: &self.filter,
            shots: self.shots,
        }
    }

    /// The keys it is stored under: those of the packet it names, except the task-alone key
    /// (see the module documentation).
    pub fn keys(&self) -> Vec<SemanticKey> {
        let mut keys = context_keys(Some(&self.family), &self.task, &self.tags);
        keys.retain(|k| k.level != KeyLevel::Task);
        keys
    }

    /// Checks every field by the rules of the packet field of the same name.
    pub fn validate(&self) -> Result<(), PacketError> {
        validate_context(&self.family, &self.task, &self.tags)?;
        validate_measurement(&Measured {
            benchmark: &self.benchmark,
            metric: &self.metric,
            filter: &self.filter,
            scale: self.score_scale,
            higher_is_better: self.higher_is_better,
            baseline: self.baseline,
            outcome: self.outcome,
            eval_samples: self.eval_samples,
        })
    }

    /// Whether it was measured as `packet` was (benchmark, metric, filter, shots, scale,
    /// direction), so the two gains compare as numbers.
    pub fn measured_like(&self, packet: &crate::OutcomeBody) -> bool {
        self.setting() == packet.setting()
            && self.score_scale == packet.score_scale
            && self.higher_is_better == packet.higher_is_better
    }

    /// The record payload: [`REPRODUCTION_FORMAT_VERSION`], then the postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode_versioned(REPRODUCTION_FORMAT_VERSION, self)
    }

    /// Decodes a payload: another format version, undecodable fields, trailing bytes or a
    /// non-canonical encoding are refused.
    pub fn decode(bytes: &[u8]) -> Result<ReproductionBody, ReproductionError> {
        decode_versioned(bytes, REPRODUCTION_FORMAT_VERSION, "reproduction").map_err(|e| match e {
            VersionedError::Version(found) => ReproductionError::Version {
                found,
                supported: REPRODUCTION_FORMAT_VERSION,
            },
            VersionedError::Decode(reason) => ReproductionError::Decode(reason),
        })
    }
}

/// A reproduction report: the validated body and the signed record that carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reproduction {
    /// What the reproducer states.
    pub body: ReproductionBody,
    /// The signed envelope.
    pub record: SignedRecord,
}

impl Reproduction {
    /// Validates and signs a report on `of` (whose setting it must share, and which must not be
    /// the signer's own).
    pub fn sign(
        body: ReproductionBody,
        of: &OutcomePacket,
        key: &SigningKey,
        created: u64,
    ) -> Result<Reproduction, ReproductionError> {
        body.validate()?;
        if !body.measured_like(&of.body) || body.of != of.id() {
            return Err(ReproductionError::Setting {
                expected: of.body.setting().to_string(),
                found: body.setting().to_string(),
            });
        }
        if of.publisher().0 == key.verifying_key().to_bytes() {
            return Err(ReproductionError::OwnPacket);
        }
        Reproduction::sign_body(body, key, created)
    }

    /// Validates and signs a report without the packet it names at hand (a simulation, which
    /// holds packets decoded): nothing checks here that the setting is the packet's, and a
    /// report that is not measured like its packet counts for nothing in synthesis.
    pub fn sign_body(
        body: ReproductionBody,
        key: &SigningKey,
        created: u64,
    ) -> Result<Reproduction, ReproductionError> {
        body.validate()?;
        let record = SignedRecord::sign(key, RecordKind::Reproduction, created, body.encode())?;
        Ok(Reproduction { body, record })
    }

    /// Opens a received record: kind, signature, decoding and validity.
    pub fn from_record(record: SignedRecord) -> Result<Reproduction, ReproductionError> {
        if record.kind != RecordKind::Reproduction {
            return Err(ReproductionError::NotReproduction(format!(
                "{:?}",
                record.kind
            )));
        }
        record.verify_signature()?;
        Reproduction::open_verified(record)
    }

    /// Decodes and validates the body of a record whose signature the caller has verified.
    pub(crate) fn open_verified(record: SignedRecord) -> Result<Reproduction, ReproductionError> {
        let body = ReproductionBody::decode(&record.payload)?;
        body.validate()?;
        Ok(Reproduction { body, record })
    }

    /// The report's id: the record's [content id](qis_core::SignedRecord::content_id), so the
    /// same report published again (at another time) is one report, as a packet is.
    pub fn id(&self) -> RecordId {
        self.record.content_id()
    }

    /// Who re-ran the packet.
    pub fn reproducer(&self) -> PublicKey {
        self.record.publisher
    }

    /// When the report was signed (Unix seconds, as the reproducer states).
    pub fn created(&self) -> u64 {
        self.record.created
    }

    /// The keys it is stored under (the reproduced packet's).
    pub fn keys(&self) -> Vec<SemanticKey> {
        self.body.keys()
    }
}
