//! Building a [`Recommendation`] from evidence (rules in the `synth` module's documentation).

use super::evidence::Evidence;
use super::standing::{CONTEXT_SLACK, gain_stderr};
use super::stats::{Midpoint, weighted_median, weighted_quantile, weighted_vote};
use crate::packet::hyper::HyperKind;
use crate::packet::{HyperKey, HyperValue, KeyLevel, Method};
use qis_core::{PublicKey, RecordId};
use std::collections::BTreeMap;

/// Relative distance from the median within which a number counts as agreeing with it.
pub const NUMERIC_AGREEMENT: f64 = 0.25;

/// A gain counts in the hyperparameter weights up to this multiple of its method's median gain.
pub const GAIN_CAP_FACTOR: f64 = 2.0;

/// Lower and upper quantiles of the reported gain range.
pub const GAIN_RANGE: (f64, f64) = (0.1, 0.9);

/// One recommended hyperparameter.
#[derive(Clone, Debug, PartialEq)]
pub struct RecommendedParam {
    /// The name.
    pub key: HyperKey,
    /// The synthesised value.
    pub value: HyperValue,
    /// Share of the weight behind it (within 25% of a median; equal to a vote's winner).
    pub support: f64,
    /// How many packets stated this key.
    pub stated_by: usize,
    /// What the evidence spread over: for numbers the weighted [`GAIN_RANGE`] quantiles of
    /// the stated values (what 80% of the weight used), for text and flags every value
    /// stated, heaviest first. A search space (`--format optuna`) starts from it.
    pub spread: Spread,
}

/// How the values the evidence stated for one hyperparameter spread.
#[derive(Clone, Debug, PartialEq)]
pub enum Spread {
    /// Numbers: the weighted 10th and 90th percentile of the stated values (equal when the
    /// evidence agrees or is one packet).
    Range {
        /// The lower quantile.
        low: f64,
        /// The upper quantile.
        high: f64,
    },
    /// Text or flags: each value stated with positive weight, heaviest first (ties in
    /// canonical text order).
    Choices(Vec<HyperValue>),
}

/// The evidence for one method.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSummary {
    /// The method.
    pub method: Method,
    /// Weighted median normalised gain.
    pub expected_gain: f64,
    /// Packets with positive weight.
    pub packets: usize,
    /// Share of all evidence weight.
    pub weight_share: f64,
    /// Share of all evidence weight held by publishers with standing (weight × standing).
    pub established_share: f64,
    /// What the method is ranked by: its established evidence's median gain less
    /// [`LOWER_BOUND_Z`] standard errors, so that one lucky run cannot switch the method.
    pub score: f64,
}

/// Standard errors a method's median gain is discounted by before methods are compared.
pub const LOWER_BOUND_Z: f64 = 1.0;

/// The weighted median of `gains` less [`LOWER_BOUND_Z`] standard errors, `spread / √n_eff`,
/// with `spread` their weighted standard deviation (at least `min_spread`: the runs' own noise,
/// even when they agree exactly) and `n_eff = (Σw)² / Σw²` the effective number of runs; minus
/// infinity without weight.
fn lower_bound(gains: &[(f64, f64)], min_spread: f64) -> f64 {
    let Some(median) = weighted_median(gains, Midpoint::Arithmetic) else {
        return f64::NEG_INFINITY;
    };
    let positive = gains.iter().filter(|(g, w)| g.is_finite() && *w > 0.0);
    let (sum, squares, weighted) = positive.fold((0.0, 0.0, 0.0), |(s, q, m), (g, w)| {
        (s + w, q + w * w, m + w * g)
    });
    let mean = weighted / sum;
    let variance = gains
        .iter()
        .filter(|(g, w)| g.is_finite() && *w > 0.0)
        .map(|(g, w)| w * (g - mean) * (g - mean))
        .sum::<f64>()
        / sum;
    let spread = variance.sqrt().max(min_spread);
    let n_eff = sum * sum / squares;
    median - LOWER_BOUND_Z * spread / n_eff.sqrt()
}

/// What the evidence recommends.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    /// The method with the highest expected gain.
    pub method: Method,
    /// Its weighted median gain, in unit-interval points (0.05 = +5 points of accuracy).
    pub expected_gain: f64,
    /// Weighted 10th and 90th percentile of its gains.
    pub gain_range: (f64, f64),
    /// Packets with positive weight, all methods.
    pub evidence_count: usize,
    /// The chosen method's share of all evidence weight.
    pub agreement: f64,
    /// Synthesised hyperparameters for the chosen method, by key order.
    pub hyperparams: Vec<RecommendedParam>,
    /// Every method with evidence, best expected gain first.
    pub methods: Vec<MethodSummary>,
    /// Packets that contributed to the chosen method, heaviest first (ties by id).
    pub contributors: Vec<RecordId>,
    /// Distinct publishers behind the evidence.
    pub publishers: usize,
    /// The measurement settings the evidence comes from (benchmark, metric, filter, shots),
    /// heaviest first: their gains are pooled on the unit-interval scale, and each one's
    /// median says how far apart they are.
    pub settings: Vec<SettingSummary>,
    /// Share of the evidence weight from publishers with standing (0 when nobody has any:
    /// the method was then chosen by what most runs used, not by claimed gains).
    pub established_share: f64,
    /// The evidence per key level it matched the query at, most specific first (empty when
    /// the levels are not known).
    pub levels: Vec<LevelSummary>,
    /// Why each packet weighed what it did, heaviest first (at most [`WEIGHED_SHOWN`]).
    pub weighed: Vec<Weighed>,
}

/// The evidence that matched the query at one key level.
#[derive(Clone, Debug, PartialEq)]
pub struct LevelSummary {
    /// The level.
    pub level: KeyLevel,
    /// Packets with positive weight.
    pub packets: usize,
    /// Share of all evidence weight.
    pub weight_share: f64,
    /// Weighted median normalised gain.
    pub median_gain: f64,
    /// The level's learned weight ([`levels`](super::levels)), a factor of each packet's
    /// weight: 1 until the client's own outcomes move it.
    pub learned_weight: f64,
}

/// Packets whose weight breakdown a recommendation keeps.
pub const WEIGHED_SHOWN: usize = 20;

/// One packet's weight and the factors it is the product of (see the `synth` module's
/// documentation): `trust × level_weight × similarity² × confidence × √samples × held ÷
/// publisher_packets`.
#[derive(Clone, Debug, PartialEq)]
pub struct Weighed {
    /// The packet.
    pub id: RecordId,
    /// The key level it matched at, if known.
    pub level: Option<KeyLevel>,
    /// Its similarity to the query.
    pub similarity: f64,
    /// Its trust factor (standing, the packet's credence, the cap on unproven evidence).
    pub trust: f64,
    /// Its publisher's standing.
    pub standing: f64,
    /// The learned weight of its key level ([`levels`](super::levels)).
    pub level_weight: f64,
    /// The confidence credited (stated, bounded by [`CONFIDENCE_BOUND`](crate::CONFIDENCE_BOUND)).
    pub confidence: f64,
    /// The evaluation samples credited (stated, bounded by
    /// [`EVAL_SAMPLES_BOUND`](crate::EVAL_SAMPLES_BOUND)).
    pub samples: u32,
    /// Whether its evaluation was held out (otherwise it counts half).
    pub held_out: bool,
    /// Packets of its publisher in the evidence (they share one publisher's weight).
    pub publisher_packets: usize,
    /// Its share of all evidence weight.
    pub weight_share: f64,
}

/// The evidence measured one way.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingSummary {
    /// The setting, as [`EvalSetting`](crate::packet::EvalSetting) displays it.
    pub setting: String,
    /// Packets with positive weight.
    pub packets: usize,
    /// Share of all evidence weight.
    pub weight_share: f64,
    /// Weighted median normalised gain.
    pub median_gain: f64,
}

impl Recommendation {
    /// Whether the evidence is a single publisher's: no independent check, no spread.
    pub fn single_source(&self) -> bool {
        self.publishers <= 1
    }

    /// Whether every method's evidence shows a loss: there is no recipe to recommend, only
    /// the least harmful one.
    pub fn only_losses(&self) -> bool {
        self.methods.iter().all(|m| m.expected_gain <= 0.0)
    }
}

/// Synthesises a recommendation; `None` when no evidence has positive weight.
pub fn recommend(evidence: &[Evidence]) -> Option<Recommendation> {
    let mut weighted: Vec<(&Evidence, f64)> = evidence
        .iter()
        .map(|e| (e, e.weight()))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    weighted.sort_by_key(|(e, _)| e.id);
    weighted.dedup_by(|a, b| a.0.id == b.0.id);
    // One publisher's packets are correlated evidence (one lab, one pipeline, possibly one
    // liar): together they weigh what one of them would.
    let mut per_publisher: BTreeMap<&PublicKey, usize> = BTreeMap::new();
    for (e, _) in &weighted {
        *per_publisher.entry(&e.publisher).or_default() += 1;
    }
    for (e, w) in &mut weighted {
        *w /= per_publisher[&e.publisher] as f64;
    }
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    if weighted.is_empty() || total <= 0.0 {
        return None;
    }
    let mut by_method: BTreeMap<&Method, Vec<(&Evidence, f64)>> = BTreeMap::new();
    for &(e, w) in &weighted {
        by_method.entry(&e.body.method).or_default().push((e, w));
    }
    let mut methods: Vec<MethodSummary> = by_method
        .iter()
        .map(|(method, group)| {
            let weight: f64 = group.iter().map(|(_, w)| w).sum();
            let established: Vec<(f64, f64)> = group
                .iter()
                .map(|(e, w)| (e.gain(), w * e.standing))
                .collect();
            let all: Vec<(f64, f64)> = group.iter().map(|(e, w)| (e.gain(), *w)).collect();
            let established_weight: f64 = established.iter().map(|(_, w)| w).sum();
            // The runs' own evaluation noise, plus what separates their contexts from the
            // query's, is the least spread a method's gains can be trusted to have.
            let noise: f64 = group
                .iter()
                .map(|(e, w)| w * e.standing * gain_stderr(e.body.eval_samples))
                .sum::<f64>()
                / established_weight.max(f64::MIN_POSITIVE);
            let score = lower_bound(&established, noise + CONTEXT_SLACK);
            MethodSummary {
                method: (*method).clone(),
                expected_gain: weighted_median(&established, Midpoint::Arithmetic)
                    .or_else(|| weighted_median(&all, Midpoint::Arithmetic))
                    .unwrap_or(0.0),
                packets: group.len(),
                weight_share: weight / total,
                established_share: established_weight / total,
                score,
            }
        })
        .collect();
    // Claimed gains choose the method only where publishers have standing: among methods
    // with established evidence, the best score (ties: more weight, then canonical
    // method order, kept by the stable sort). Without any, the method most of the weight used
    // (a fresh key's claim is a vote for its configuration, not proof of its gain).
    let any_established = methods.iter().any(|m| m.established_share > 0.0);
    methods.sort_by(|a, b| {
        if any_established {
            (b.established_share > 0.0)
                .cmp(&(a.established_share > 0.0))
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| b.weight_share.total_cmp(&a.weight_share))
        } else {
            b.weight_share
                .total_cmp(&a.weight_share)
                .then_with(|| b.expected_gain.total_cmp(&a.expected_gain))
        }
    });
    let best = methods.first()?.clone();
    let group = by_method.get(&best.method)?;
    let gains: Vec<(f64, f64)> = group.iter().map(|(e, w)| (e.gain(), *w)).collect();
    let gain_range = (
        weighted_quantile(&gains, GAIN_RANGE.0).unwrap_or(best.expected_gain),
        weighted_quantile(&gains, GAIN_RANGE.1).unwrap_or(best.expected_gain),
    );
    let mut contributors: Vec<(RecordId, f64)> = group.iter().map(|(e, w)| (e.id, *w)).collect();
    contributors.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let established: f64 = weighted
        .iter()
        .map(|(e, w)| w * e.standing.clamp(0.0, 1.0))
        .sum();
    let weighed = weighed(&weighted, &per_publisher, total);
    Some(Recommendation {
        levels: levels(&weighted, total),
        weighed,
        settings: settings(&weighted, total),
        publishers: per_publisher.len(),
        established_share: established / total,
        method: best.method.clone(),
        expected_gain: best.expected_gain,
        gain_range,
        evidence_count: weighted.len(),
        agreement: best.weight_share,
        hyperparams: synthesise_params(group),
        methods,
        contributors: contributors.into_iter().map(|(id, _)| id).collect(),
    })
}

/// The evidence per key level, most specific first (evidence of unknown level left out).
fn levels(weighted: &[(&Evidence, f64)], total: f64) -> Vec<LevelSummary> {
    let mut by_level: BTreeMap<KeyLevel, (Vec<(f64, f64)>, f64)> = BTreeMap::new();
    for (e, w) in weighted {
        if let Some(level) = e.level {
            let (gains, learned) = by_level
                .entry(level)
                .or_insert((Vec::new(), e.level_weight));
            gains.push((e.gain(), *w));
            *learned = e.level_weight;
        }
    }
    by_level
        .into_iter()
        .map(|(level, (gains, learned_weight))| LevelSummary {
            level,
            packets: gains.len(),
            weight_share: gains.iter().map(|(_, w)| w).sum::<f64>() / total,
            median_gain: weighted_median(&gains, Midpoint::Arithmetic).unwrap_or(0.0),
            learned_weight,
        })
        .collect()
}

/// The weight breakdown of the heaviest packets (ties by id).
fn weighed(
    weighted: &[(&Evidence, f64)],
    per_publisher: &BTreeMap<&PublicKey, usize>,
    total: f64,
) -> Vec<Weighed> {
    let mut out: Vec<Weighed> = weighted
        .iter()
        .map(|(e, w)| Weighed {
            id: e.id,
            level: e.level,
            similarity: e.similarity,
            trust: e.trust,
            standing: e.standing,
            level_weight: e.level_weight,
            confidence: f64::from(e.body.confidence).min(crate::CONFIDENCE_BOUND),
            samples: e.body.eval_samples.min(crate::EVAL_SAMPLES_BOUND),
            held_out: e.body.held_out,
            publisher_packets: per_publisher[&e.publisher],
            weight_share: w / total,
        })
        .collect();
    out.sort_by(|a, b| {
        b.weight_share
            .total_cmp(&a.weight_share)
            .then_with(|| a.id.cmp(&b.id))
    });
    out.truncate(WEIGHED_SHOWN);
    out
}

/// The evidence per measurement setting, heaviest first (ties by setting text).
fn settings(weighted: &[(&Evidence, f64)], total: f64) -> Vec<SettingSummary> {
    let mut by_setting: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (e, w) in weighted {
        by_setting
            .entry(e.body.setting().to_string())
            .or_default()
            .push((e.gain(), *w));
    }
    let mut out: Vec<SettingSummary> = by_setting
        .into_iter()
        .map(|(setting, gains)| SettingSummary {
            setting,
            packets: gains.len(),
            weight_share: gains.iter().map(|(_, w)| w).sum::<f64>() / total,
            median_gain: weighted_median(&gains, Midpoint::Arithmetic).unwrap_or(0.0),
        })
        .collect();
    out.sort_by(|a, b| b.weight_share.total_cmp(&a.weight_share));
    out
}

/// Hyperparameters of one method's evidence, weighted by `w × max(gain, 0)` (or `w` when no
/// run improved).
fn synthesise_params(group: &[(&Evidence, f64)]) -> Vec<RecommendedParam> {
    let any_gain = group.iter().any(|(e, _)| e.gain() > 0.0);
    // A stated gain above twice the group's median buys no more: the claim nobody has checked
    // must not outweigh the runs that agree with each other.
    let gains: Vec<(f64, f64)> = group.iter().map(|(e, w)| (e.gain(), *w)).collect();
    // The lower middle value on an even split: an outlier must not drag the cap up with it.
    let cap = GAIN_CAP_FACTOR
        * weighted_median(&gains, Midpoint::Lower)
            .unwrap_or(0.0)
            .max(f64::MIN_POSITIVE);
    let median = cap / GAIN_CAP_FACTOR;
    // A publisher's stated gain weighs its configuration by its standing: without standing
    // every configuration counts as one vote (the median gain), with full standing by its
    // gain.
    let param_weight = |e: &Evidence, w: f64| {
        if any_gain {
            let s = e.standing.clamp(0.0, 1.0);
            w * ((1.0 - s) * median + s * e.gain().clamp(0.0, cap))
        } else {
            w
        }
    };
    let mut by_key: BTreeMap<&HyperKey, Vec<(&HyperValue, f64)>> = BTreeMap::new();
    for (e, w) in group {
        for (key, value) in &e.body.hyperparams {
            by_key
                .entry(key)
                .or_default()
                .push((value, param_weight(e, *w)));
        }
    }
    by_key
        .into_iter()
        .filter_map(|(key, values)| {
            let stated_by = values.len();
            let (value, support) = synthesise_one(key, &values)?;
            Some(RecommendedParam {
                key: key.clone(),
                spread: spread_of(&value, &values),
                value,
                support,
                stated_by,
            })
        })
        .collect()
}

/// The spread of the stated `values` around the synthesised `value` (which it always holds).
fn spread_of(value: &HyperValue, values: &[(&HyperValue, f64)]) -> Spread {
    let numbers: Option<Vec<(f64, f64)>> = values
        .iter()
        .map(|(v, w)| v.as_f64().map(|x| (x, *w)))
        .collect();
    if let (Some(numbers), Some(point)) = (numbers, value.as_f64()) {
        let low = weighted_quantile(&numbers, GAIN_RANGE.0).unwrap_or(point);
        let high = weighted_quantile(&numbers, GAIN_RANGE.1).unwrap_or(point);
        return Spread::Range {
            low: low.min(point),
            high: high.max(point),
        };
    }
    let mut weights: BTreeMap<String, (f64, &HyperValue)> = BTreeMap::new();
    for (v, w) in values.iter().filter(|(_, w)| *w > 0.0) {
        weights.entry(v.to_string()).or_insert((0.0, v)).0 += w;
    }
    let mut choices: Vec<(String, f64, &HyperValue)> = weights
        .into_iter()
        .map(|(text, (w, v))| (text, w, v))
        .collect();
    choices.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<HyperValue> = choices.into_iter().map(|(_, _, v)| v.clone()).collect();
    if !out.contains(value) {
        out.insert(0, value.clone());
    }
    Spread::Choices(out)
}

fn synthesise_one(key: &HyperKey, values: &[(&HyperValue, f64)]) -> Option<(HyperValue, f64)> {
    let numbers: Option<Vec<(f64, f64)>> = values
        .iter()
        .map(|(v, w)| v.as_f64().map(|x| (x, *w)))
        .collect();
    match numbers {
        Some(numbers) if !numbers.is_empty() => {
            let integer = key.kind() == HyperKind::Integer
                || values.iter().all(|(v, _)| matches!(v, HyperValue::Int(_)));
            let midpoint = if integer {
                Midpoint::Lower
            } else if key.log_scale() {
                Midpoint::Geometric
            } else {
                Midpoint::Arithmetic
            };
            let median = weighted_median(&numbers, midpoint)?;
            let total: f64 = numbers.iter().map(|(_, w)| w).filter(|w| **w > 0.0).sum();
            let near: f64 = numbers
                .iter()
                .filter(|(x, w)| *w > 0.0 && (x - median).abs() <= NUMERIC_AGREEMENT * median.abs())
                .map(|(_, w)| w)
                .sum();
            let value = if integer {
                HyperValue::Int(median.round() as i64)
            } else {
                HyperValue::Float(median as f32)
            };
            Some((value, if total > 0.0 { near / total } else { 0.0 }))
        }
        _ => {
            // Votes over the values' canonical text, so mixed types still compare.
            let votes: Vec<(String, f64)> =
                values.iter().map(|(v, w)| (v.to_string(), *w)).collect();
            let (winner, share) = weighted_vote(&votes)?;
            let value = values
                .iter()
                .find(|(v, _)| v.to_string() == winner)
                .map(|(v, _)| (*v).clone())?;
            Some((value, share))
        }
    }
}
