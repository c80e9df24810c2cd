//! `--format optuna`: a search space around the recommendation, as Python for Optuna.
//!
//! Bounds come from the evidence's spread: each number's weighted 10th and 90th percentile
//! ([`Spread::Range`]), widened to at least [`LOG_WIDENING`] (learning rate, preference β) or
//! [`WIDENING`] (the others) either side of the recommended value, so that a single packet, or
//! runs that all agree, still leave room to search; then held to the key's valid range (never
//! so far as to exclude a value the evidence used). Text values become a categorical choice
//! among the values stated. The recommendation itself is enqueued as the first trial.

use super::literal::{Lit, round_bound};
use super::{PasteError, PasteFormat, require_stated};
use crate::packet::{HyperKey, HyperValue};
use crate::synth::recommend::{Recommendation, RecommendedParam, Spread};
use std::fmt::Write as _;

/// The least factor either side of the recommendation a log-scale bound is widened to.
pub(crate) const LOG_WIDENING: f64 = 3.0;

/// The least factor either side of the recommendation another bound is widened to.
pub(crate) const WIDENING: f64 = 2.0;

/// The upper bound of a ratio searched from zero (dropout, warm-up, weight decay at 0).
const ZERO_WIDTH: f64 = 0.1;

/// How a key is searched.
struct Domain {
    /// Searched in log space.
    log: bool,
    /// Suggested as an integer.
    integer: bool,
    /// The least factor either side of the recommendation its bounds are widened to.
    widen: f64,
    /// The smallest value worth trying.
    min: f64,
    /// The largest value worth trying (the evidence's own values are kept even above it).
    max: f64,
}

fn domain(p: &RecommendedParam) -> Option<Domain> {
    let whole = matches!(p.value, HyperValue::Int(_))
        || matches!(p.spread, Spread::Range { low, high } if low.fract() == 0.0 && high.fract() == 0.0)
            && p.value.as_f64().is_some_and(|x| x.fract() == 0.0);
    let d = |log, integer, min, max| {
        Some(Domain {
            log,
            integer,
            widen: WIDENING,
            min,
            max,
        })
    };
    match p.key {
        HyperKey::LearningRate | HyperKey::PrefBeta => Some(Domain {
            widen: LOG_WIDENING,
            ..d(true, false, 0.0, f64::INFINITY)?
        }),
        HyperKey::LoraRank | HyperKey::BatchSize | HyperKey::MaxSeqLen => {
            d(true, true, 1.0, f64::INFINITY)
        }
        HyperKey::LoraAlpha => d(true, whole, if whole { 1.0 } else { 0.0 }, f64::INFINITY),
        HyperKey::Epochs => d(false, whole, if whole { 1.0 } else { 0.0 }, f64::INFINITY),
        HyperKey::LoraDropout | HyperKey::WarmupRatio => d(false, false, 0.0, 0.5),
        HyperKey::WeightDecay => d(false, false, 0.0, 1.0),
        _ => None,
    }
}

/// One dimension of the search space.
struct Dimension {
    name: String,
    /// The `trial.suggest_…(…)` call.
    suggest: String,
    /// The recommended value, for `enqueue_trial`.
    point: Lit,
    /// Where the bounds came from.
    note: String,
}

fn numeric(p: &RecommendedParam, d: &Domain) -> Option<Dimension> {
    let point = p.value.as_f64().filter(|x| x.is_finite())?;
    let (low, high) = match p.spread {
        Spread::Range { low, high } if low.is_finite() && high.is_finite() => (low, high),
        _ => (point, point),
    };
    let log = d.log && point > 0.0 && low > 0.0;
    let factor = d.widen;
    let (mut lo, mut hi) = if point > 0.0 {
        (low.min(point / factor), high.max(point * factor))
    } else {
        (low.min(point), high.max(point + ZERO_WIDTH))
    };
    lo = lo.max(d.min);
    hi = hi.min(d.max);
    // Never exclude what the evidence used.
    lo = lo.min(low).min(point);
    hi = hi.max(high).max(point);
    let name = p.key.name().to_string();
    let spread_note = if low < high {
        format!(
            "the evidence spread {} to {}",
            Lit::Float(low).python(),
            Lit::Float(high).python()
        )
    } else {
        format!("stated by {}, no spread: widened around it", p.stated_by)
    };
    let note = format!("recommended {}; {spread_note}", p.value);
    if d.integer {
        let lo = (lo.floor() as i64).max(d.min as i64);
        let hi = (hi.ceil() as i64).max(lo);
        let point = (point.round() as i64).clamp(lo, hi);
        let log = if log { ", log=True" } else { "" };
        return Some(Dimension {
            suggest: format!("trial.suggest_int({name:?}, {lo}, {hi}{log})"),
            point: Lit::Int(point),
            name,
            note,
        });
    }
    let lo = round_bound(lo, false).max(if log {
        f64::MIN_POSITIVE
    } else {
        d.min.min(lo)
    });
    let hi = round_bound(hi, true);
    let log = if log { ", log=True" } else { "" };
    Some(Dimension {
        suggest: format!(
            "trial.suggest_float({name:?}, {}, {}{log})",
            Lit::Float(lo).python(),
            Lit::Float(hi).python()
        ),
        point: Lit::Float(point),
        name,
        note,
    })
}

fn categorical(p: &RecommendedParam) -> Option<Dimension> {
    let choices: Vec<Lit> = match &p.spread {
        Spread::Choices(values) => values.iter().filter_map(Lit::of).collect(),
        // A number searched as a choice (quantisation bits): the values at the spread's ends.
        Spread::Range { low, high } => {
            let mut values = vec![*low, p.value.as_f64()?, *high];
            values.sort_by(f64::total_cmp);
            values.dedup();
            values.into_iter().filter_map(Lit::whole).collect()
        }
    };
    let point = Lit::of(&p.value)?;
    if choices.is_empty() || !choices.contains(&point) {
        return None;
    }
    let name = p.key.name().to_string();
    let listed: Vec<String> = choices.iter().map(Lit::python).collect();
    Some(Dimension {
        suggest: format!(
            "trial.suggest_categorical({name:?}, [{}])",
            listed.join(", ")
        ),
        note: format!("recommended {}; the values the evidence stated", p.value),
        point,
        name,
    })
}

fn dimension(p: &RecommendedParam) -> Option<Dimension> {
    match p.key {
        HyperKey::Scheduler | HyperKey::Optimizer | HyperKey::LoraTargets | HyperKey::QuantBits => {
            categorical(p)
        }
        HyperKey::Other(_) => None,
        _ => numeric(p, &domain(p)?),
    }
}

pub(super) fn render(rec: &Recommendation) -> Result<String, PasteError> {
    let mut dimensions = Vec::new();
    let mut left_out = Vec::new();
    for p in &rec.hyperparams {
        match dimension(p) {
            Some(d) => dimensions.push(d),
            None => left_out.push(format!("{}={}", p.key.name(), p.value)),
        }
    }
    require_stated(PasteFormat::Optuna, rec, dimensions.len())?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Bounds: the evidence's 10th-90th percentile, widened to at least /{LOG_WIDENING}..x{LOG_WIDENING} (learning rate, beta) or /{WIDENING}..x{WIDENING} around the recommendation."
    );
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "# Not searched (qis knows no range for them): {}",
            left_out.join(", ")
        );
    }
    out.push_str("import optuna\n\n\ndef search_space(trial):\n");
    let _ = writeln!(
        out,
        "    \"\"\"The hyperparameters to try, by qis's names (method {}).\"\"\"",
        rec.method
    );
    out.push_str("    return {\n");
    for d in &dimensions {
        let _ = writeln!(out, "        {:?}: {},  # {}", d.name, d.suggest, d.note);
    }
    out.push_str("    }\n\n\n");
    out.push_str("# Maximise your evaluation score (direction=\"minimize\" for a loss).\n");
    out.push_str("study = optuna.create_study(direction=\"maximize\")\n");
    let point: Vec<String> = dimensions
        .iter()
        .map(|d| format!("{:?}: {}", d.name, d.point.python()))
        .collect();
    let _ = writeln!(
        out,
        "study.enqueue_trial({{{}}})  # the recommendation itself, tried first",
        point.join(", ")
    );
    out.push_str(
        "# study.optimize(lambda trial: train_and_evaluate(**search_space(trial)), n_trials=20)\n",
    );
    Ok(out)
}
