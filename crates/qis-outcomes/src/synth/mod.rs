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
//! `wᵢ = trustᵢ × similarityᵢ² × min(confidenceᵢ, 0.9) × √min(eval_samplesᵢ, 1000) × heldᵢ / kᵢ`
//!
//! where `similarity` is the query similarity ([`Query::similarity`](crate::packet::Query)),
//! squared so that a few runs from close contexts outweigh many from distant ones (in the
//! elections, squaring took the honest regret at 1,000 publishers from 0.55× to 0.51× of no
//! network),
//! `held` is 1 for a held-out evaluation and 0.5 otherwise, `k` is the number of packets of the
//! same publisher in the evidence (one publisher's packets are correlated: together they weigh
//! as one), and `trust` comes from the publisher's [`standing`] (0.002 for a key nobody vouches
//! for, up to 1). `√eval_samples` makes a 1,000-sample evaluation count about three times a
//! 100-sample one, as its standard error is about three times smaller. Every factor a publisher
//! states is bounded ([`CONFIDENCE_BOUND`], [`EVAL_SAMPLES_BOUND`]): before anyone has checked
//! it, a claim of more samples or more certainty buys nothing; only standing, earned from
//! feedback, lifts a packet above the others.
//!
//! Gains are compared on one scale: [`OutcomeBody::normalized_gain`](crate::packet::OutcomeBody)
//! (unit-interval points, sign flipped when lower scores are better). Every packet also states
//! how it was measured ([`EvalSetting`](crate::packet::EvalSetting): benchmark, metric, filter,
//! shots), which `query` shows per packet; this synthesis still pools gains of different
//! settings on that common scale.
//!
//! # Aggregation
//!
//! * **Method**: claimed gains choose it only where publishers have standing. Each method's
//!   score is the weighted median gain of its established evidence (weights `wᵢ × standingᵢ`)
//!   less one standard error: their spread (at least their evaluation noise plus the context
//!   slack) over `√n_eff`, so one lucky run cannot switch the method; the best score wins among
//!   methods with established evidence (ties: more weight, then canonical order). When nobody
//!   has standing, the method is the one with the most weight: a fresh key's claim is a vote
//!   for its configuration, not proof of its gain.
//! * **Hyperparameters**, from the winning method's packets only, each weighted by
//!   `wᵢ × ((1 − sᵢ) × m + sᵢ × clamp(gᵢ, 0, 2m))` with `s` the standing and `m` the group's
//!   median gain: runs that improved more count more, up to twice the median, and only as far
//!   as their publisher has standing (if no run of the method improved, by `wᵢ`): numbers by
//!   weighted median — the smallest value whose cumulative weight reaches half the total; on
//!   an exact half-way split, the midpoint of the two middle values (geometric for learning
//!   rates, which are compared in log space; the lower value for integers) — and text and
//!   flags by weighted vote (ties: the smallest value in canonical order). Support is the share
//!   of weight within 25% of the median (numbers) or equal to the winner (votes).
//! * **Expected gain**: the winning method's weighted median gain (of its established evidence
//!   where there is any), with the weighted 10th and 90th percentiles as its range: what 80% of
//!   the weighted evidence saw, not a confidence interval.
//! * **Agreement**: the winning method's share of all evidence weight.
//! * **Spread** of each hyperparameter: the weighted 10th and 90th percentile of the numbers
//!   stated (with the same weights as its median), or every text value stated, heaviest first;
//!   `recommend --format optuna` starts its search bounds from it ([`paste`]).
//! * **Honesty**: the recommendation says how many publishers stand behind it (one publisher:
//!   no spread), how much of its weight has standing, and when every method's evidence shows a
//!   loss; it reports each key level's share of the weight and median gain
//!   ([`LevelSummary`]) and, for the heaviest packets, the factors of their weight
//!   ([`Weighed`]), so a reader can see why a packet counted as much as it did.
//!
//! Evidence is sorted by packet id first and grouped in ordered maps, so the same evidence gives
//! the same recommendation byte for byte.

pub(crate) mod evidence;
pub mod levels;
pub(crate) mod paste;
pub mod proximity;
pub mod recommend;
pub(crate) mod render;
pub mod saved;
pub mod standing;
pub(crate) mod stats;

pub use evidence::{CONFIDENCE_BOUND, EVAL_SAMPLES_BOUND, Evidence, NoFeedback, Trust};

pub use paste::{PasteError, PasteFormat, Trace, paste};
pub use recommend::{
    LevelSummary, Recommendation, RecommendedParam, Spread, WEIGHED_SHOWN, Weighed, recommend,
};
