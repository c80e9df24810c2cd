//! `--format trl`: the TRL config for the recommended objective (`SFTConfig`, `DPOConfig`, …)
//! as Python keyword arguments. Every TRL config extends `transformers.TrainingArguments`, so
//! the training fields are the same in each; the keyword form was chosen over `trl sft
//! --learning_rate …` flags because it holds comments (where each value came from) and
//! Python's own parser can check it.

use super::literal::{Item, Lit, python_kwargs};
use super::names::{self, ACCUMULATION, PER_DEVICE_BATCH};
use super::{
    PasteError, PasteFormat, note, number_item, numbers, other, param, require_stated,
    unstated_list,
};
use crate::packet::{HyperKey, Objective, Tuning};
use crate::synth::recommend::Recommendation;

/// The TRL config class for an objective.
struct ConfigClass {
    /// The class name.
    name: &'static str,
    /// The module it is imported from.
    module: &'static str,
    /// Whether it takes `max_length` (GRPO splits it into prompt and completion lengths).
    max_length: bool,
    /// Fixed settings that make the class train this objective.
    fixed: &'static [(&'static str, &'static str)],
}

/// TRL 1.16's config for `objective` (ORPO and CPO live in `trl.experimental`; SimPO is CPO
/// with `loss_type="simpo"` and `cpo_alpha=0`, as CPOConfig's documentation says).
fn config_class(rec: &Recommendation) -> Result<ConfigClass, PasteError> {
    let class = |name, module, max_length| ConfigClass {
        name,
        module,
        max_length,
        fixed: &[],
    };
    Ok(match &rec.method.objective {
        Objective::Sft => class("SFTConfig", "trl", true),
        Objective::Dpo => class("DPOConfig", "trl", true),
        Objective::Kto => class("KTOConfig", "trl", true),
        Objective::Grpo => class("GRPOConfig", "trl", false),
        Objective::Orpo => class("ORPOConfig", "trl.experimental.orpo", true),
        Objective::Simpo => ConfigClass {
            fixed: &[("loss_type", "simpo"), ("cpo_alpha", "0.0")],
            ..class("CPOConfig", "trl.experimental.cpo", true)
        },
        objective => {
            return Err(PasteError::NotApplicable {
                format: PasteFormat::Trl.name(),
                method: rec.method.to_string(),
                reason: format!(
                    "optimises {}, for which this TRL version has no config qis can write",
                    objective.name()
                ),
            });
        }
    })
}

/// Training fields every TRL config takes: qis key, field, whether typed `int`.
const TRAINING_FIELDS: &[(HyperKey, &str, bool)] = &[
    (HyperKey::LearningRate, "learning_rate", false),
    (HyperKey::Epochs, "num_train_epochs", false),
    (HyperKey::WeightDecay, "weight_decay", false),
];

pub(super) fn render(rec: &Recommendation) -> Result<String, PasteError> {
    let class = config_class(rec)?;
    let mut items = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    for (field, value) in class.fixed {
        let value = value
            .parse::<f64>()
            .ok()
            .and_then(Lit::number)
            .unwrap_or_else(|| Lit::Text(value.to_string()));
        items.push(Item::set(
            field,
            value,
            Some(format!(
                "{} is {} in TRL",
                rec.method.objective.name(),
                class.name
            )),
        ));
    }
    let mut stated = numbers(rec, TRAINING_FIELDS, &mut items, &mut missing);
    // transformers 5 has no warmup_ratio: a warmup_steps below 1 is read as the ratio.
    match param(rec, &HyperKey::WarmupRatio) {
        Some(p) if p.value.as_f64().is_some_and(|r| (0.0..1.0).contains(&r)) => {
            if let Ok(item) = number_item(p, "warmup_steps", false) {
                items.push(item);
                stated += 1;
            }
        }
        Some(p) => items.push(Item::Comment(format!(
            "warmup_steps: the evidence's warmup ratio {} is not below 1, which warmup_steps would read as steps",
            p.value
        ))),
        None => missing.push("warmup_steps"),
    }
    if class.max_length {
        stated += numbers(
            rec,
            &[(HyperKey::MaxSeqLen, "max_length", true)],
            &mut items,
            &mut missing,
        );
    } else if let Some(p) = param(rec, &HyperKey::MaxSeqLen) {
        items.push(Item::Comment(format!(
            "max sequence length {} in the evidence: {} splits it into max_prompt_length and max_completion_length",
            p.value, class.name
        )));
    }
    if rec.method.objective != Objective::Sft {
        stated += numbers(
            rec,
            &[(HyperKey::PrefBeta, "beta", false)],
            &mut items,
            &mut missing,
        );
    }
    for (key, field, translate) in [
        (
            HyperKey::Scheduler,
            "lr_scheduler_type",
            names::scheduler as fn(&str) -> Option<String>,
        ),
        (HyperKey::Optimizer, "optim", names::optimizer),
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
    let per_device = other(rec, PER_DEVICE_BATCH);
    let accumulation = other(rec, ACCUMULATION);
    for (p, field) in [
        (per_device, "per_device_train_batch_size"),
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
        per_device.is_none() || accumulation.is_none(),
    ) {
        items.push(Item::Comment(format!(
            "effective batch size {} in the evidence ({}): choose per_device_train_batch_size x gradient_accumulation_steps x GPUs = {}",
            p.value,
            note(p),
            p.value
        )));
        stated += 1;
    }
    items.extend(unstated_list(&missing));
    require_stated(PasteFormat::Trl, rec, stated)?;
    let mut out = format!("from {} import {}\n\n", class.module, class.name);
    if rec.method.tuning != Tuning::Full {
        out.push_str(&format!(
            "# the {} adapter is not part of these arguments: --format peft writes its LoraConfig, for the trainer's peft_config=\n",
            rec.method.tuning.name()
        ));
    }
    out.push_str(&format!("training_args = {}(\n", class.name));
    out.push_str(&python_kwargs(&items));
    out.push_str(")\n");
    Ok(out)
}
