//! Local synthesis: turning the packets a query found into one recommendation.
//!
//! The seed picked the single best packet and copied its configuration. qis aggregates: every
//! packet is evidence with a weight, the method is chosen by expected improvement, and each
//! hyperparameter is a weighted median or a weighted vote over the runs that used that method.
//!
//! # Weights
//!
//! Each packet *i* gets an evidence weight
//!
//! `wᵢ = trustᵢ × similarityᵢ × confidenceᵢ × √eval_samplesᵢ × heldᵢ`
//!
//! where `similarity` is the query similarity ([`Query::similarity`](crate::packet::Query)),
//! `held` is 1 for a held-out evaluation and 0.5 otherwise, and `trust` is a per-packet
//! multiplier from feedback ([`Trust`]; 1.0 until feedback exists). `√eval_samples` makes a
//! 1,000-sample evaluation count about three times a 100-sample one, as its standard error is
//! about three times smaller.
//!
//! Gains are compared on one scale: [`OutcomeBody::normalized_gain`](crate::packet::OutcomeBody)
//! (unit-interval points, sign flipped when lower scores are better). Every packet also states
//! how it was measured ([`EvalSetting`](crate::packet::EvalSetting): benchmark, metric, filter,
//! shots), which `query` shows per packet; this synthesis still pools gains of different
//! settings on that common scale.
//!
//! # Aggregation
//!
//! * **Method**: for each method, the expected gain is `Σ wᵢ gᵢ / Σ wᵢ` over its packets; the
//!   highest wins (ties: more total weight, then the method's canonical order).
//! * **Hyperparameters**, from the winning method's packets only, each weighted by
//!   `wᵢ × max(gᵢ, 0)`, so runs that improved more count more and runs that hurt count not at all
//!   (if no run of the method improved, by `wᵢ`): numbers by weighted median — the smallest value
//!   whose cumulative weight reaches half the total; on an exact half-way split, the midpoint of
//!   the two middle values (geometric for learning rates, which are compared in log space; the
//!   lower value for integers) — and text and flags by weighted vote (ties: the smallest value in
//!   canonical order). Support is the share of weight within 25% of the median (numbers) or equal
//!   to the winner (votes).
//! * **Expected delta**: the weighted mean gain of the winning method, with the weighted 10th
//!   and 90th percentiles as its range: what 80% of the weighted evidence saw, not a confidence
//!   interval of the mean.
//! * **Agreement**: the winning method's share of all evidence weight.
//!
//! Evidence is sorted by packet id first and grouped in ordered maps, so the same evidence gives
//! the same recommendation byte for byte.

pub(crate) mod evidence;
pub mod recommend;
pub(crate) mod render;
pub mod standing;
pub(crate) mod stats;

pub use evidence::{CONFIDENCE_BOUND, EVAL_SAMPLES_BOUND, Evidence, NoFeedback, Trust};

pub use recommend::{Recommendation, RecommendedParam, recommend};
