//! Evidence: a packet, its similarity to the query, and the trust feedback has earned it.

use crate::packet::KeyLevel;
use crate::packet::keys::Ranked;
use crate::packet::{OutcomeBody, OutcomePacket};
use qis_core::{PublicKey, RecordId};
use std::sync::Arc;

/// Where per-packet trust comes from. Feedback (reproduction reports, credit) will implement
/// this; until then [`NoFeedback`] trusts every packet equally.
pub trait Trust {
    /// A multiplier ≥ 0 for the packet `id` from `publisher` (1.0 = neutral).
    fn trust(&self, id: &RecordId, publisher: &PublicKey) -> f64;
}

/// Trust 1.0 for every packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFeedback;

impl Trust for NoFeedback {
    fn trust(&self, _id: &RecordId, _publisher: &PublicKey) -> f64 {
        1.0
    }
}

/// One packet as evidence for a recommendation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// The packet id.
    pub id: RecordId,
    /// Who published it.
    pub publisher: PublicKey,
    /// When it was published (Unix seconds).
    pub created: u64,
    /// What the packet states (shared: a simulation hands the same packet to thousands of
    /// queries without copying it).
    pub body: Arc<OutcomeBody>,
    /// Similarity of its context to the query, in `[0, 1]`.
    pub similarity: f64,
    /// The key level it matched the query at (`None` when not known, e.g. in a simulation that
    /// weighs by similarity alone).
    pub level: Option<KeyLevel>,
    /// Trust multiplier from feedback (1.0 = neutral).
    pub trust: f64,
    /// The publisher's standing in `[0, 1]` ([`standing`](super::standing)): how far its
    /// stated gains are believed. 1.0 (face value) unless a standing model set it.
    pub standing: f64,
    /// The learned weight of its key level ([`levels`](super::levels)); 1.0 unless set.
    pub level_weight: f64,
}

/// Largest evaluation size the weight credits: a claim of more samples (which nobody can check
/// before feedback exists) buys nothing more than a 1,000-sample evaluation, whose standard
/// error already sits near lm-eval's typical ±0.016.
pub const EVAL_SAMPLES_BOUND: u32 = 1000;

/// Largest stated confidence the weight credits (honest evaluations with a clear gain reach it
/// routinely; a claim of more buys nothing).
pub const CONFIDENCE_BOUND: f64 = 0.9;

/// Weight factor of an evaluation that was not held out.
pub(crate) const NOT_HELD_OUT_FACTOR: f64 = 0.5;

impl Evidence {
    /// Evidence with neutral trust.
    pub fn new(id: RecordId, publisher: PublicKey, body: OutcomeBody, similarity: f64) -> Evidence {
        Evidence::shared(id, publisher, 0, Arc::new(body), similarity)
    }

    /// Evidence with neutral trust, from a body shared with other evidence lists, published
    /// at `created`.
    pub fn shared(
        id: RecordId,
        publisher: PublicKey,
        created: u64,
        body: Arc<OutcomeBody>,
        similarity: f64,
    ) -> Evidence {
        Evidence {
            id,
            publisher,
            created,
            body,
            similarity,
            level: None,
            trust: 1.0,
            standing: 1.0,
            level_weight: 1.0,
        }
    }

    /// Evidence from a ranked query result, with trust from `trust`.
    pub fn from_ranked(ranked: &Ranked, trust: &dyn Trust) -> Evidence {
        let packet: &OutcomePacket = &ranked.packet;
        Evidence {
            id: packet.id(),
            publisher: packet.publisher(),
            created: packet.created(),
            body: Arc::new(packet.body.clone()),
            similarity: ranked.similarity.score,
            level: Some(ranked.similarity.level),
            trust: trust.trust(&packet.id(), &packet.publisher()),
            standing: 1.0,
            level_weight: 1.0,
        }
    }

    /// The evidence weight (rules in the `synth` module's documentation). Non-finite or negative
    /// factors count as 0, so bad input can only remove evidence, never dominate.
    pub fn weight(&self) -> f64 {
        let clean = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let held = if self.body.held_out {
            1.0
        } else {
            NOT_HELD_OUT_FACTOR
        };
        clean(self.trust)
            * clean(self.level_weight)
            * clean(self.similarity.min(1.0)).powi(2)
            * clean(f64::from(self.body.confidence).min(CONFIDENCE_BOUND))
            * f64::from(self.body.eval_samples.min(EVAL_SAMPLES_BOUND)).sqrt()
            * held
    }

    /// The normalised gain (unit-interval points; positive = the fine-tune helped).
    pub fn gain(&self) -> f64 {
        let gain = self.body.normalized_gain();
        if gain.is_finite() { gain } else { 0.0 }
    }
}
