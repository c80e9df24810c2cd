//! Rendering a recommendation: a table for people and JSON for tools.

use super::recommend::{Recommendation, Spread};
use crate::packet::HyperValue;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Gain in points (unit-interval gain × 100), signed: `+7.7`.
fn points(gain: f64) -> String {
    format!("{:+.1}", gain * 100.0)
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// The recommendation as a plain-text table.
pub fn table(rec: &Recommendation) -> String {
    let mut out = String::new();
    if rec.only_losses() {
        let _ = writeln!(
            out,
            "every method's evidence shows a loss: nothing here is worth copying; the least harmful is"
        );
    }
    let spread = if rec.single_source() {
        format!(
            "{} packet(s) from 1 publisher: no independent evidence, no spread",
            rec.evidence_count
        )
    } else {
        format!(
            "80% of evidence: {} to {}, agreement {}, {} packets from {} publishers",
            points(rec.gain_range.0),
            points(rec.gain_range.1),
            percent(rec.agreement),
            rec.evidence_count,
            rec.publishers
        )
    };
    let _ = writeln!(
        out,
        "method {}: expected {} points ({spread})",
        rec.method,
        points(rec.expected_gain),
    );
    if rec.settings.len() > 1 {
        let shown: Vec<String> = rec
            .settings
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{} ({} packets, median {})",
                    s.setting,
                    s.packets,
                    points(s.median_gain)
                )
            })
            .collect();
        let more = rec.settings.len().saturating_sub(3);
        let _ = writeln!(
            out,
            "measured {} ways, gains pooled in unit-interval points: {}{}",
            rec.settings.len(),
            shown.join("; "),
            if more > 0 {
                format!("; {more} more")
            } else {
                String::new()
            }
        );
    }
    if !rec.levels.is_empty() {
        let shown: Vec<String> = rec
            .levels
            .iter()
            .map(|l| {
                let learned = if l.learned_weight < 1.0 {
                    format!(", learned ×{:.2}", l.learned_weight)
                } else {
                    String::new()
                };
                format!(
                    "{} {} ({} packets, median {}{learned})",
                    l.level.label(),
                    percent(l.weight_share),
                    l.packets,
                    points(l.median_gain)
                )
            })
            .collect();
        let _ = writeln!(out, "weight by key level: {}", shown.join("; "));
    }
    let _ = if rec.established_share > 0.0 {
        writeln!(
            out,
            "standing: {} of the weight is from publishers vouched for by feedback or --trust",
            percent(rec.established_share)
        )
    } else {
        writeln!(
            out,
            "standing: no publisher has any yet (no feedback reaches them, none trusted): the method is the one most runs used, not the highest claim"
        )
    };
    if !rec.hyperparams.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<16} {:>12} {:>8} {:>9}",
            "hyperparameter", "value", "support", "stated by"
        );
        for p in &rec.hyperparams {
            let _ = writeln!(
                out,
                "{:<16} {:>12} {:>8} {:>9}",
                p.key.name(),
                p.value.to_string(),
                percent(p.support),
                p.stated_by
            );
        }
    }
    if rec.methods.len() > 1 {
        let _ = writeln!(
            out,
            "\n{:<16} {:>12} {:>8} {:>9}",
            "method", "expected", "weight", "packets"
        );
        for m in &rec.methods {
            let _ = writeln!(
                out,
                "{:<16} {:>12} {:>8} {:>9}",
                m.method.to_string(),
                points(m.expected_gain),
                percent(m.weight_share),
                m.packets
            );
        }
    }
    let ids: Vec<String> = rec
        .contributors
        .iter()
        .map(|id| id.to_string()[..16].to_string())
        .collect();
    let _ = writeln!(out, "\ncontributors: {}", ids.join(" "));
    out
}

/// JSON form of a recommendation (ids as hex, gains in unit-interval points).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommendationJson {
    /// Method, canonical text (`qlora`, `dpo+qlora`).
    pub method: String,
    /// Expected gain in unit-interval points.
    pub expected_gain: f64,
    /// Weighted 10th and 90th percentile gains.
    pub gain_range: [f64; 2],
    /// Packets with positive weight.
    pub evidence_count: usize,
    /// The method's share of the evidence weight.
    pub agreement: f64,
    /// Hyperparameters.
    pub hyperparameters: Vec<ParamJson>,
    /// All methods with evidence.
    pub methods: Vec<MethodJson>,
    /// Contributing packet ids, hex.
    pub contributors: Vec<String>,
    /// Distinct publishers behind the evidence.
    pub publishers: usize,
    /// Share of the weight from publishers with standing.
    pub established_share: f64,
    /// True when every method's evidence shows a loss.
    pub only_losses: bool,
    /// The measurement settings, heaviest first.
    pub settings: Vec<SettingJson>,
    /// The evidence per key level, most specific first (absent from files saved before it).
    #[serde(default)]
    pub levels: Vec<LevelJson>,
    /// Why the heaviest packets weighed what they did (absent from files saved before it).
    #[serde(default)]
    pub weighed: Vec<WeighedJson>,
}

/// The evidence at one key level in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelJson {
    /// `exact`, `family-task`, `task-tag` or `task`.
    pub level: String,
    /// Packets.
    pub packets: usize,
    /// Share of the evidence weight.
    pub weight_share: f64,
    /// Weighted median gain, unit-interval points.
    pub median_gain: f64,
    /// The level's learned weight (1 until the client's outcomes move it; absent from files
    /// saved before it: 1).
    #[serde(default = "one")]
    pub learned_weight: f64,
}

fn one() -> f64 {
    1.0
}

/// One packet's weight factors in JSON (see [`Weighed`](super::recommend::Weighed)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeighedJson {
    /// Packet id, hex.
    pub packet_id: String,
    /// The key level it matched at, if known.
    pub level: Option<String>,
    /// Similarity to the query (squared in the weight).
    pub similarity: f64,
    /// Trust factor.
    pub trust: f64,
    /// Its publisher's standing.
    pub standing: f64,
    /// The learned weight of its key level (absent from files saved before it: 1).
    #[serde(default = "one")]
    pub level_weight: f64,
    /// Confidence credited.
    pub confidence: f64,
    /// Evaluation samples credited (√ in the weight).
    pub samples: u32,
    /// Held out (otherwise ×0.5).
    pub held_out: bool,
    /// Packets of its publisher (the weight is divided by it).
    pub publisher_packets: usize,
    /// Share of all evidence weight.
    pub weight_share: f64,
}

/// One measurement setting in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingJson {
    /// Benchmark, metric, shots and filter, as displayed.
    pub setting: String,
    /// Packets.
    pub packets: usize,
    /// Share of the evidence weight.
    pub weight_share: f64,
    /// Weighted median gain, unit-interval points.
    pub median_gain: f64,
}

/// One hyperparameter in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamJson {
    /// Name.
    pub name: String,
    /// Value: number, boolean or text.
    pub value: serde_json::Value,
    /// Share of weight behind it.
    pub support: f64,
    /// Packets that stated it.
    pub stated_by: usize,
    /// For numbers: the weighted 10th and 90th percentile of the stated values, as numbers
    /// (absent in recommendations saved before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[serde_json::Value; 2]>,
    /// For text and flags: every value stated, heaviest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<serde_json::Value>,
}

/// One method in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodJson {
    /// Method, canonical text.
    pub method: String,
    /// Expected gain.
    pub expected_gain: f64,
    /// Share of the evidence weight.
    pub weight_share: f64,
    /// Packets.
    pub packets: usize,
}

/// A hyperparameter value as JSON: a number, boolean or text.
fn value_json(value: &HyperValue) -> serde_json::Value {
    match value {
        HyperValue::Int(i) => serde_json::Value::from(*i),
        // Through the shortest decimal text, so 2e-4 prints as 0.0002, not 0.000199999.
        HyperValue::Float(x) => number_json(f64::from(*x)),
        HyperValue::Bool(b) => serde_json::Value::from(*b),
        HyperValue::Text(s) => serde_json::Value::from(s.clone()),
    }
}

/// A number as JSON through its shortest decimal text (`null` if it is not finite).
fn number_json(x: f64) -> serde_json::Value {
    crate::packet::hyper::format_number(x)
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// The recommendation in its JSON shape.
pub fn to_json(rec: &Recommendation) -> RecommendationJson {
    RecommendationJson {
        method: rec.method.to_string(),
        expected_gain: rec.expected_gain,
        gain_range: [rec.gain_range.0, rec.gain_range.1],
        evidence_count: rec.evidence_count,
        agreement: rec.agreement,
        hyperparameters: rec
            .hyperparams
            .iter()
            .map(|p| ParamJson {
                name: p.key.name().to_string(),
                value: value_json(&p.value),
                support: p.support,
                stated_by: p.stated_by,
                range: match &p.spread {
                    Spread::Range { low, high } => Some([number_json(*low), number_json(*high)]),
                    Spread::Choices(_) => None,
                },
                choices: match &p.spread {
                    Spread::Range { .. } => Vec::new(),
                    Spread::Choices(values) => values.iter().map(value_json).collect(),
                },
            })
            .collect(),
        methods: rec
            .methods
            .iter()
            .map(|m| MethodJson {
                method: m.method.to_string(),
                expected_gain: m.expected_gain,
                weight_share: m.weight_share,
                packets: m.packets,
            })
            .collect(),
        contributors: rec.contributors.iter().map(|id| id.to_string()).collect(),
        publishers: rec.publishers,
        established_share: rec.established_share,
        only_losses: rec.only_losses(),
        settings: rec
            .settings
            .iter()
            .map(|s| SettingJson {
                setting: s.setting.clone(),
                packets: s.packets,
                weight_share: s.weight_share,
                median_gain: s.median_gain,
            })
            .collect(),
        levels: rec
            .levels
            .iter()
            .map(|l| LevelJson {
                level: l.level.label().to_string(),
                packets: l.packets,
                weight_share: l.weight_share,
                median_gain: l.median_gain,
                learned_weight: l.learned_weight,
            })
            .collect(),
        weighed: rec
            .weighed
            .iter()
            .map(|w| WeighedJson {
                packet_id: w.id.to_string(),
                level: w.level.map(|l| l.label().to_string()),
                similarity: w.similarity,
                trust: w.trust,
                standing: w.standing,
                level_weight: w.level_weight,
                confidence: w.confidence,
                samples: w.samples,
                held_out: w.held_out,
                publisher_packets: w.publisher_packets,
                weight_share: w.weight_share,
            })
            .collect(),
    }
}
