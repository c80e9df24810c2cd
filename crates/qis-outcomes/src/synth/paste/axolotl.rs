//! `--format axolotl`: top-level keys of an axolotl YAML config.

use super::literal::{Item, Lit, yaml_keys};
use super::names::{self, ACCUMULATION, PER_DEVICE_BATCH};
use super::peft::quant_bits;
use super::{
    PasteError, PasteFormat, note, number_item, numbers, other, param, require_stated,
    unstated_list,
};
use crate::packet::{HyperKey, Objective, Tuning};
use crate::synth::recommend::Recommendation;

/// The adapter's hyperparameters: qis key, axolotl key, whether axolotl types it `int`.
const ADAPTER_FIELDS: &[(HyperKey, &str, bool)] = &[
    (HyperKey::LoraRank, "lora_r", true),
    (HyperKey::LoraAlpha, "lora_alpha", true),
    (HyperKey::LoraDropout, "lora_dropout", false),
];

/// The training hyperparameters: qis key, axolotl key, whether axolotl types it `int`.
const TRAINING_FIELDS: &[(HyperKey, &str, bool)] = &[
    (HyperKey::LearningRate, "learning_rate", false),
    (HyperKey::Epochs, "num_epochs", false),
    (HyperKey::WarmupRatio, "warmup_ratio", false),
    (HyperKey::WeightDecay, "weight_decay", false),
    (HyperKey::MaxSeqLen, "sequence_len", true),
];

/// axolotl's `adapter:` for a tuning: `Ok(None)` for a full fine-tune, `Err` when axolotl has
/// no built-in adapter for it.
fn adapter(rec: &Recommendation) -> Result<Option<&'static str>, PasteError> {
    match &rec.method.tuning {
        Tuning::Full => Ok(None),
        Tuning::Qlora => Ok(Some("qlora")),
        Tuning::Lora | Tuning::Dora => Ok(Some("lora")),
        _ if names::rslora(rec) => Ok(Some("lora")),
        other => Err(PasteError::NotApplicable {
            format: PasteFormat::Axolotl.name(),
            method: rec.method.to_string(),
            reason: format!(
                "trains {} adapters, which axolotl has no built-in adapter for",
                other.name()
            ),
        }),
    }
}

pub(super) fn render(rec: &Recommendation) -> Result<String, PasteError> {
    let adapter = adapter(rec)?;
    let rl = match &rec.method.objective {
        Objective::Sft => None,
        objective => {
            Some(
                names::axolotl_rl(objective).ok_or_else(|| PasteError::NotApplicable {
                    format: PasteFormat::Axolotl.name(),
                    method: rec.method.to_string(),
                    reason: format!(
                        "optimises {}, which axolotl's rl: does not offer",
                        objective.name()
                    ),
                })?,
            )
        }
    };
    let mut items = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut stated = 0;
    match adapter {
        Some(name) => {
            items.push(Item::set(
                "adapter",
                Lit::Text(name.into()),
                Some(format!("the method is {}", rec.method)),
            ));
            if name == "qlora" {
                let key = if quant_bits(rec) == 8 {
                    "load_in_8bit"
                } else {
                    "load_in_4bit"
                };
                items.push(Item::set(key, Lit::Bool(true), None));
            }
            if rec.method.tuning == Tuning::Dora {
                items.push(Item::set("peft_use_dora", Lit::Bool(true), None));
            }
            if names::rslora(rec) {
                items.push(Item::set("peft_use_rslora", Lit::Bool(true), None));
            }
            stated += numbers(rec, ADAPTER_FIELDS, &mut items, &mut missing);
            match param(rec, &HyperKey::LoraTargets) {
                Some(p) if names::all_linear(&p.value.to_string()) => {
                    items.push(Item::set("lora_target_linear", Lit::Bool(true), Some(note(p))));
                    stated += 1;
                }
                Some(p) => items.push(Item::Comment(format!(
                    "lora_target_modules: the evidence says {:?}, which names no module of your model: list them yourself",
                    p.value.to_string()
                ))),
                None => missing.push("lora_target_modules"),
            }
        }
        None => items.push(Item::Comment("a full fine-tune: no adapter".into())),
    }
    if let Some(rl) = rl {
        items.push(Item::set("rl", Lit::Text(rl.into()), None));
        let beta = [(HyperKey::PrefBeta, "rl_beta", false)];
        stated += numbers(rec, &beta, &mut items, &mut missing);
    }
    stated += numbers(rec, TRAINING_FIELDS, &mut items, &mut missing);
    for (key, field, translate) in [
        (
            HyperKey::Scheduler,
            "lr_scheduler",
            names::scheduler as fn(&str) -> Option<String>,
        ),
        (HyperKey::Optimizer, "optimizer", names::optimizer),
    ] {
        if let Some(p) = param(rec, &key) {
            match names::translated(p, field, translate) {
                Ok(value) => {
                    items.push(Item::set(field, value, Some(note(p))));
                    stated += 1;
                }
                Err(comment) => items.push(Item::Comment(comment)),
            }
        }
    }
    let micro = other(rec, PER_DEVICE_BATCH);
    let accumulation = other(rec, ACCUMULATION);
    for (p, field) in [
        (micro, "micro_batch_size"),
        (accumulation, "gradient_accumulation_steps"),
    ] {
        match p.map(|p| number_item(p, field, true)) {
            Some(Ok(item)) => {
                items.push(item);
                stated += 1;
            }
            Some(Err(comment)) => items.push(comment),
            None => {}
        }
    }
    if let (Some(p), true) = (
        param(rec, &HyperKey::BatchSize),
        micro.is_none() || accumulation.is_none(),
    ) {
        items.push(Item::Comment(format!(
            "effective batch size {} in the evidence ({}): choose micro_batch_size x gradient_accumulation_steps x GPUs = {}",
            p.value,
            note(p),
            p.value
        )));
        stated += 1;
    }
    items.extend(unstated_list(&missing));
    require_stated(PasteFormat::Axolotl, rec, stated)?;
    Ok(yaml_keys(&items))
}
