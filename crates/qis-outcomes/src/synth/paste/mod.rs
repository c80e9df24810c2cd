//! Paste-able answers: a [`Recommendation`] written as the configuration fragment a training
//! library takes (`qis recommend --format peft|axolotl|trl|optuna`).
//!
//! Every fragment starts with a comment naming the recommendation id, the context it was made
//! for and its support, so a pasted fragment stays traceable. It holds only what the evidence
//! stated: a field no packet stated is left out, with a comment saying so, and the library's
//! default applies. Field names and enum values are those of the pinned library versions that
//! `tests/fixtures/formats/` lists (read from their source; see its README), and the tests
//! check every key written against those lists. A recommendation with nothing to paste (every
//! method lost, a method the library does not train, no hyperparameter the format takes) is
//! an error, never an empty configuration.

mod axolotl;
pub(crate) mod literal;
mod names;
mod optuna;
mod peft;
mod trl;

use super::recommend::{Recommendation, RecommendedParam};
use crate::packet::HyperKey;
use literal::{Item, Lit};

/// A configuration format `qis recommend` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasteFormat {
    /// `peft.LoraConfig(...)` keyword arguments (Python).
    Peft,
    /// An axolotl YAML fragment (top-level keys).
    Axolotl,
    /// A TRL config (`SFTConfig`, `DPOConfig`, …) as Python keyword arguments.
    Trl,
    /// An Optuna search space around the recommendation (Python).
    Optuna,
}

impl PasteFormat {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [PasteFormat; 4] = [
        PasteFormat::Peft,
        PasteFormat::Axolotl,
        PasteFormat::Trl,
        PasteFormat::Optuna,
    ];

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            PasteFormat::Peft => "peft",
            PasteFormat::Axolotl => "axolotl",
            PasteFormat::Trl => "trl",
            PasteFormat::Optuna => "optuna",
        }
    }
}

/// What a fragment's first comment names: where the recommendation came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The recommendation id (as saved under `<data home>/recommendations/<id>.json`).
    pub id: String,
    /// Whether it was saved (`--no-save` computes the id but keeps no file).
    pub saved: bool,
    /// The query's model family, if it named one.
    pub family: Option<String>,
    /// The query's task.
    pub task: String,
    /// The query's tags.
    pub tags: Vec<String>,
}

/// Why a recommendation cannot be written in a format.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PasteError {
    /// Every method's evidence shows a loss.
    #[error(
        "every method's evidence shows a loss (the least harmful, {method}, expects {gain} points): there is no configuration worth pasting (--format table shows the evidence)"
    )]
    OnlyLosses {
        /// The least harmful method.
        method: String,
        /// Its expected gain, in points.
        gain: String,
    },
    /// The format does not apply to the recommended method.
    #[error(
        "--format {format}: the recommended method {method} {reason} (--format table or json shows it)"
    )]
    NotApplicable {
        /// The format.
        format: &'static str,
        /// The method, canonical text.
        method: String,
        /// Why not.
        reason: String,
    },
    /// None of the hyperparameters the evidence stated is one the format takes.
    #[error(
        "--format {format}: the evidence states none of the hyperparameters this format takes ({stated}): there is nothing to paste (--format table or json shows what it has)"
    )]
    NothingStated {
        /// The format.
        format: &'static str,
        /// What the evidence did state, or "none".
        stated: String,
    },
}

/// The recommendation as a `format` fragment, starting with its trace comment.
pub fn paste(
    format: PasteFormat,
    rec: &Recommendation,
    trace: &Trace,
) -> Result<String, PasteError> {
    if rec.only_losses() {
        return Err(PasteError::OnlyLosses {
            method: rec.method.to_string(),
            gain: format!("{:+.1}", rec.expected_gain * 100.0),
        });
    }
    let body = match format {
        PasteFormat::Peft => peft::render(rec)?,
        PasteFormat::Axolotl => axolotl::render(rec)?,
        PasteFormat::Trl => trl::render(rec)?,
        PasteFormat::Optuna => optuna::render(rec)?,
    };
    Ok(format!("{}{body}", header(rec, trace)))
}

/// The trace comment: id, context and support, and a line on standing when nobody has any.
fn header(rec: &Recommendation, trace: &Trace) -> String {
    let context = format!(
        "family {}, task {}, tags {}",
        trace.family.as_deref().unwrap_or("(any)"),
        trace.task,
        if trace.tags.is_empty() {
            "(none)".to_string()
        } else {
            trace.tags.join(",")
        }
    );
    let support = if rec.single_source() {
        format!(
            "{} packet(s) from 1 publisher: no independent evidence",
            rec.evidence_count
        )
    } else {
        format!(
            "{} packets from {} publishers, 80% of them {:+.1} to {:+.1} points",
            rec.evidence_count,
            rec.publishers,
            rec.gain_range.0 * 100.0,
            rec.gain_range.1 * 100.0
        )
    };
    let mut out = format!(
        "# qis recommendation {}{} for {context}: {}, expected {:+.1} points; {support}\n",
        trace.id,
        if trace.saved { "" } else { " (not saved)" },
        rec.method,
        rec.expected_gain * 100.0,
    );
    if rec.established_share <= 0.0 {
        out.push_str(
            "# no publisher has standing yet: this is what most runs used, not a checked claim\n",
        );
    }
    out
}

/// The recommended value of a well-known key.
fn param<'a>(rec: &'a Recommendation, key: &HyperKey) -> Option<&'a RecommendedParam> {
    rec.hyperparams.iter().find(|p| &p.key == key)
}

/// The recommended value of a name outside the well-known ones, under any of `names`.
fn other<'a>(rec: &'a Recommendation, names: &[&str]) -> Option<&'a RecommendedParam> {
    rec.hyperparams
        .iter()
        .find(|p| matches!(&p.key, HyperKey::Other(n) if names.contains(&n.as_str())))
}

/// Where a value came from, as the comment after it.
fn note(p: &RecommendedParam) -> String {
    format!(
        "stated by {}, {:.0}% of the weight agrees",
        p.stated_by,
        p.support * 100.0
    )
}

/// The comment for a field no packet stated.
fn unstated(field: &str) -> Item {
    Item::Comment(format!(
        "{field}: none of the evidence stated it (the library's default applies)"
    ))
}

/// A stated number as the setting `field` (an integer where the library types it `int`, the
/// median rounded), or the comment saying why it cannot be written.
fn number_item(p: &RecommendedParam, field: &str, integer: bool) -> Result<Item, Item> {
    let value = p.value.as_f64().and_then(|x| {
        if integer {
            Lit::whole(x.round())
        } else {
            Lit::number(x)
        }
    });
    value
        .map(|value| Item::set(field, value, Some(note(p))))
        .ok_or_else(|| {
            Item::Comment(format!(
                "{field}: the evidence's value {} is not a number this library takes",
                p.value
            ))
        })
}

/// Appends a setting for each of `fields` (qis key, library field, whether the library types
/// it `int`) that the evidence stated, and the names of the others to `missing`; returns how
/// many settings came from the evidence.
fn numbers(
    rec: &Recommendation,
    fields: &[(HyperKey, &'static str, bool)],
    items: &mut Vec<Item>,
    missing: &mut Vec<&'static str>,
) -> usize {
    let mut stated = 0;
    for (key, field, integer) in fields {
        match param(rec, key).map(|p| number_item(p, field, *integer)) {
            Some(Ok(item)) => {
                items.push(item);
                stated += 1;
            }
            Some(Err(comment)) => items.push(comment),
            None => missing.push(field),
        }
    }
    stated
}

/// One comment naming every field of `fields` no packet stated.
fn unstated_list(fields: &[&str]) -> Option<Item> {
    (!fields.is_empty()).then(|| {
        Item::Comment(format!(
            "none of the evidence stated {} (the library's defaults apply)",
            fields.join(", ")
        ))
    })
}

/// Refuses a fragment in which no setting came from a stated hyperparameter.
fn require_stated(
    format: PasteFormat,
    rec: &Recommendation,
    from_evidence: usize,
) -> Result<(), PasteError> {
    if from_evidence > 0 {
        return Ok(());
    }
    let names: Vec<&str> = rec.hyperparams.iter().map(|p| p.key.name()).collect();
    Err(PasteError::NothingStated {
        format: format.name(),
        stated: if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        },
    })
}

#[cfg(test)]
pub(crate) mod tests;
