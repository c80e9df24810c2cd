//! Where each drafted value came from, so the CLI can show `field = value (from file:key)` and
//! the publisher can check every value before signing.

use super::super::draft::Draft;
use super::super::family::fold_family;
use super::super::hyper::format_number;
use super::super::template::render_packet_file;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

/// The origin of one drafted value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// Read from a file (path relative to the run directory) under a key.
    File {
        /// The file, relative to the run directory.
        file: String,
        /// The key or key path inside it (`results.medqa_4options.acc,none`).
        key: String,
    },
    /// Computed from other values by a stated rule.
    Derived {
        /// The rule and its inputs, in words.
        rule: String,
    },
    /// Given on the command line.
    Override {
        /// The flag.
        flag: String,
    },
}

impl Provenance {
    /// A value read from `file` under `key`.
    pub fn file(file: &str, key: &str) -> Provenance {
        Provenance::File {
            file: file.to_string(),
            key: key.to_string(),
        }
    }

    /// A value computed by `rule`.
    pub fn derived(rule: impl Into<String>) -> Provenance {
        Provenance::Derived { rule: rule.into() }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::File { file, key } => write!(f, "from {file}:{key}"),
            Provenance::Derived { rule } => write!(f, "derived: {rule}"),
            Provenance::Override { flag } => write!(f, "from flag {flag}"),
        }
    }
}

/// A packet draft built from a run directory, with the origin of every value.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDraft {
    /// The drafted packet (overrides applied).
    pub draft: Draft,
    /// Origin of each set field, by packet-file name (`learning_rate` for hyperparameters).
    pub provenance: BTreeMap<String, Provenance>,
    /// Things the publisher should know: files ignored, assumptions made.
    pub notes: Vec<String>,
}

impl RunDraft {
    /// One line per set field: `field = value (from file:key)`, in packet-file order, then the
    /// notes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (field, value) in self.fields() {
            let origin = self
                .provenance
                .get(&field)
                .map(|p| format!("  ({p})"))
                .unwrap_or_default();
            let _ = writeln!(out, "{field} = {value}{origin}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// The draft as a packet file, with each value's origin as a comment above it.
    pub fn to_packet_file(&self) -> String {
        let notes = self
            .provenance
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        render_packet_file(&self.draft, &notes)
    }

    /// The set fields as (name, value) text pairs, in packet-file order.
    pub fn fields(&self) -> Vec<(String, String)> {
        let d = &self.draft;
        let mut out: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                out.push((name.to_string(), value));
            }
        };
        push(
            "family",
            d.family
                .as_ref()
                .map(|f| format!("{} (from {f:?})", fold_family(f))),
        );
        push("task", d.task.clone());
        push("tags", (!d.tags.is_empty()).then(|| d.tags.join(", ")));
        push("data_scale", d.data_scale.map(|s| s.label().to_string()));
        push("benchmark", d.benchmark.clone());
        push("metric", d.metric.clone());
        push("filter", d.filter.clone());
        push("shots", d.shots.map(|n| n.to_string()));
        push("score_scale", d.score_scale.map(|s| s.label().to_string()));
        push(
            "higher_is_better",
            d.higher_is_better.map(|b| b.to_string()),
        );
        push("baseline", d.baseline.map(format_number));
        push("outcome", d.outcome.map(format_number));
        push("method", d.method.as_ref().map(|m| m.to_string()));
        push("held_out", d.held_out.map(|b| b.to_string()));
        push("eval_samples", d.eval_samples.map(|n| n.to_string()));
        push("confidence", d.confidence.map(|c| format!("{c:.4}")));
        let mut params = d.hyperparams.clone();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, value) in params {
            out.push((key.name().to_string(), value.to_string()));
        }
        out
    }
}
