//! Last touches on a complete draft: the score scale and direction where the scores came
//! without them (given by flag, or a metric lm-eval did not describe), and the 512-byte budget:
//! when the packet would not fit, the hyperparameters least used in recommendations are
//! dropped first, each named in a note.

use super::super::hyper::HyperKey;
use super::super::size::{TYPICAL_CREATED, record_size};
use super::Assembly;
use super::provenance::Provenance;
use crate::packet::scale::ScoreScale;
use qis_core::constants::MAX_RECORD;

/// Metric names whose values are not proportions and where lower is better.
const LOWER_IS_BETTER: &[&str] = &[
    "perplexity",
    "bits_per_byte",
    "bits-per-byte",
    "loss",
    "bpb",
];

/// Whether a metric is of the lower-is-better, unbounded kind (perplexity, bits per byte,
/// loss).
pub(crate) fn is_unbounded_lower_metric(metric: &str) -> bool {
    let metric = metric.to_lowercase();
    LOWER_IS_BETTER.iter().any(|m| metric.contains(m))
}

/// Direction and scale from the metric and the scores, where nothing set them.
pub(crate) fn settle_scale(a: &mut Assembly) {
    let metric = a.draft.metric.clone().unwrap_or_default();
    let lower_metric = is_unbounded_lower_metric(&metric);
    if a.draft.higher_is_better.is_none() && lower_metric {
        a.draft.higher_is_better = Some(false);
        a.note_from(
            "higher_is_better",
            &Provenance::derived(format!("{metric} is a lower-is-better metric")),
        );
    }
    if a.draft.score_scale.is_some() {
        return;
    }
    let (Some(b), Some(o)) = (a.draft.baseline, a.draft.outcome) else {
        return;
    };
    let unit = !lower_metric && (0.0..=1.0).contains(&b) && (0.0..=1.0).contains(&o);
    a.draft.score_scale = Some(if unit {
        ScoreScale::Unit
    } else {
        ScoreScale::Unbounded
    });
    let rule = match (unit, lower_metric) {
        (true, _) => "both scores lie in [0, 1]".to_string(),
        (false, true) => format!("{metric} has no upper bound"),
        (false, false) => "a score lies outside [0, 1]".to_string(),
    };
    a.note_from("score_scale", &Provenance::derived(rule));
}

/// Hyperparameters dropped, in this order, when the packet would exceed [`MAX_RECORD`]:
/// details that recommendations use least go first; rank, alpha, learning rate, epochs and
/// batch are kept.
const DROP_ORDER: &[HyperKey] = &[
    HyperKey::LoraTargets,
    HyperKey::Optimizer,
    HyperKey::WeightDecay,
    HyperKey::MaxSeqLen,
    HyperKey::WarmupRatio,
    HyperKey::LoraDropout,
    HyperKey::Scheduler,
    HyperKey::QuantBits,
    HyperKey::PrefBeta,
];

/// Drops found hyperparameters (never one given with `--param`) until the packet fits.
pub(crate) fn fit_size(a: &mut Assembly) {
    let fits = |a: &Assembly| {
        a.draft
            .build()
            .map(|body| record_size(&body, TYPICAL_CREATED) <= MAX_RECORD)
            .unwrap_or(true)
    };
    let mut order: Vec<HyperKey> = a
        .draft
        .hyperparams
        .iter()
        .filter(|(k, _)| matches!(k, HyperKey::Other(_)))
        .map(|(k, _)| k.clone())
        .collect();
    order.extend(DROP_ORDER.iter().cloned());
    for key in order {
        if fits(a) {
            return;
        }
        let given = matches!(
            a.provenance.get(key.name()),
            Some(Provenance::Override { .. })
        );
        if given || !a.draft.hyperparams.iter().any(|(k, _)| *k == key) {
            continue;
        }
        a.draft.hyperparams.retain(|(k, _)| *k != key);
        a.provenance.remove(key.name());
        a.notes.push(format!(
            "{} dropped: the packet would exceed {MAX_RECORD} bytes (dropped first, in order: other parameters, {})",
            key.name(),
            DROP_ORDER.iter().map(HyperKey::name).collect::<Vec<_>>().join(", ")
        ));
    }
}
