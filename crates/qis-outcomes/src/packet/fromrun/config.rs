//! A parsed training config and the file it came from, with one method per kind of value, so
//! each tool's reader is a table of its own key names and nothing else.

use super::super::hyper::HyperKey;
use super::super::method::Objective;
use super::findings::{Findings, Sourced, offer};
use super::provenance::Provenance;
use super::training::{self, offer_part, offer_text, offer_value};
use super::yaml::{flag_at, number_at, text_at, texts_at};
use serde_json::Value;

/// A config document and its name for provenance (`qlora.yml`, or `out/README.md (axolotl
/// config)` for the copy a model card carries).
pub(crate) struct Config<'a> {
    /// The parsed document.
    pub doc: &'a Value,
    /// The file, relative to the run directory.
    pub file: String,
}

impl Config<'_> {
    /// Where `key` of this config was read.
    pub(crate) fn from(&self, key: &str) -> Provenance {
        Provenance::file(&self.file, key)
    }

    /// Offers the base model at `key` (and its quantisation, when its id names one).
    pub(crate) fn base_model(&self, found: &mut Findings, key: &str) {
        if let Some(base) = text_at(self.doc, key) {
            let from = self.from(key);
            training::offer_quant_of_id(found, base, &from);
            offer(&mut found.base_model, base.to_string(), from);
        }
    }

    /// Offers numbers: `(config key, packet key)` pairs.
    pub(crate) fn numbers(&self, found: &mut Findings, pairs: &[(&str, HyperKey)]) {
        for (key, hyper) in pairs {
            if let Some(x) = number_at(self.doc, key) {
                offer_value(found, hyper.clone(), x, self.from(key));
            }
        }
    }

    /// Offers text values (scheduler and the like).
    pub(crate) fn texts(&self, found: &mut Findings, pairs: &[(&str, HyperKey)]) {
        for (key, hyper) in pairs {
            if let Some(text) = text_at(self.doc, key) {
                offer_text(found, hyper.clone(), text, self.from(key));
            }
        }
    }

    /// Offers the optimiser's name at `key`.
    pub(crate) fn optimizer(&self, found: &mut Findings, key: &str) {
        if let Some(name) = text_at(self.doc, key) {
            offer_text(
                found,
                HyperKey::Optimizer,
                &training::optimizer_name(name),
                self.from(key),
            );
        }
    }

    /// Offers the adapter's target modules listed at `key`.
    pub(crate) fn targets(&self, found: &mut Findings, key: &str) {
        if let Some(modules) = texts_at(self.doc, key) {
            training::offer_targets(found, &modules, self.from(key));
        }
    }

    /// Offers the batch parts at the given keys (any may be absent).
    pub(crate) fn batch(&self, found: &mut Findings, micro: &str, accumulation: &str) {
        offer_part(
            &mut found.batch.micro,
            number_at(self.doc, micro),
            self.from(micro),
        );
        offer_part(
            &mut found.batch.accumulation,
            number_at(self.doc, accumulation),
            self.from(accumulation),
        );
    }

    /// Offers the quantisation of the base when a flag at `key` is set.
    pub(crate) fn quant_flag(&self, found: &mut Findings, key: &str, bits: i64) {
        if flag_at(self.doc, key) == Some(true) {
            offer(&mut found.quant_bits, bits, self.from(key));
        }
    }

    /// Offers the adapter kind (`lora`, `dora`, `full`), DoRA when `dora_key` is set.
    pub(crate) fn adapter(&self, found: &mut Findings, kind: &str, key: &str, dora_key: &str) {
        let (kind, key) = if kind != "full" && flag_at(self.doc, dora_key) == Some(true) {
            ("dora", dora_key)
        } else {
            (kind, key)
        };
        offer(&mut found.finetuning_type, kind.to_string(), self.from(key));
    }

    /// Records rank-stabilised scaling when the flag at `key` is set.
    pub(crate) fn rslora(&self, found: &mut Findings, key: &str) {
        if flag_at(self.doc, key) == Some(true) {
            offer(&mut found.rslora, (), self.from(key));
        }
    }

    /// Sets the objective the config states (a config outranks what logs suggest).
    pub(crate) fn objective(&self, found: &mut Findings, objective: Objective, key: &str) {
        if found.objective.is_none() {
            found.objective = Some(Sourced {
                value: objective,
                from: self.from(key),
            });
        }
    }

    /// Records sample packing when the flag at `key` is set.
    pub(crate) fn packing(&self, found: &mut Findings, key: &str) {
        if let Some(packed) = flag_at(self.doc, key) {
            offer(&mut found.packing, packed, self.from(key));
        }
    }

    /// Offers warm-up given in steps at `key`.
    pub(crate) fn warmup_steps(&self, found: &mut Findings, key: &str) {
        if let Some(steps) = number_at(self.doc, key).filter(|x| *x >= 0.0 && x.fract() == 0.0) {
            offer(&mut found.warmup_steps, steps as u64, self.from(key));
        }
    }
}
