//! TRL's CLI and alignment-handbook recipes (one YAML of `ModelConfig`, script and trainer
//! arguments): `model_name_or_path`, `use_peft` with `lora_r`, `lora_alpha`, `lora_dropout`,
//! `lora_target_modules`, `use_dora`, `use_rslora`, `load_in_4bit`/`load_in_8bit`, and the
//! Trainer's `learning_rate`, `num_train_epochs`, `per_device_train_batch_size` ×
//! `gradient_accumulation_steps`, `max_seq_length`/`max_length`, `packing`, `optim`,
//! `warmup_ratio`; a preference recipe's `beta` and `loss_type`.
//!
//! The YAML does not name its trainer: the objective comes from `loss_type` when it names one,
//! else (weakly) from preference-only keys (`beta` with `max_prompt_length`), and the model
//! card's tags or the log keys decide otherwise.

use super::super::hyper::HyperKey;
use super::super::method::Objective;
use super::config::Config;
use super::findings::{Findings, offer};
use super::training::objective_of;
use super::yaml::{flag_at, text_at};
use serde_json::Value;

/// Whether a YAML document is a TRL / alignment-handbook recipe.
pub(crate) fn is_trl(doc: &Value) -> bool {
    doc.get("model_name_or_path").is_some()
        && doc.get("stage").is_none()
        && doc.get("finetuning_type").is_none()
        && [
            "per_device_train_batch_size",
            "learning_rate",
            "use_peft",
            "dataset_name",
            "dataset_mixer",
        ]
        .iter()
        .any(|k| doc.get(k).is_some())
}

/// Reads a TRL / alignment-handbook recipe.
pub(crate) fn read(config: &Config<'_>, found: &mut Findings) {
    let doc = config.doc;
    config.base_model(found, "model_name_or_path");
    if flag_at(doc, "use_peft") == Some(true) {
        config.adapter(found, "lora", "use_peft", "use_dora");
    } else {
        config.adapter(
            found,
            "full",
            "use_peft (absent: all weights trained)",
            "use_dora",
        );
    }
    config.quant_flag(found, "load_in_4bit", 4);
    config.quant_flag(found, "load_in_8bit", 8);
    config.rslora(found, "use_rslora");
    if let Some(objective) = text_at(doc, "loss_type").and_then(objective_of) {
        config.objective(found, objective, "loss_type");
    } else if doc.get("beta").is_some() && doc.get("max_prompt_length").is_some() {
        offer(
            &mut found.objective_hint,
            Objective::Dpo,
            config.from("beta"),
        );
    }
    config.numbers(
        found,
        &[
            ("lora_r", HyperKey::LoraRank),
            ("lora_alpha", HyperKey::LoraAlpha),
            ("lora_dropout", HyperKey::LoraDropout),
            ("learning_rate", HyperKey::LearningRate),
            ("num_train_epochs", HyperKey::Epochs),
            ("warmup_ratio", HyperKey::WarmupRatio),
            ("weight_decay", HyperKey::WeightDecay),
            ("max_seq_length", HyperKey::MaxSeqLen),
            ("max_length", HyperKey::MaxSeqLen),
            ("beta", HyperKey::PrefBeta),
        ],
    );
    config.texts(found, &[("lr_scheduler_type", HyperKey::Scheduler)]);
    config.optimizer(found, "optim");
    config.targets(found, "lora_target_modules");
    config.batch(
        found,
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
    );
    config.packing(found, "packing");
    config.warmup_steps(found, "warmup_steps");
}
