//! axolotl's training YAML (also the copy axolotl puts in the model card): `base_model`,
//! `adapter` (`lora`, `qlora`, none for a full fine-tune), `load_in_4bit`/`load_in_8bit`,
//! `peft_use_dora`, `peft_use_rslora`, `rl` (`dpo`, `ipo`, `orpo`, `kto`, `simpo`, `grpo`),
//! `lora_*`, `micro_batch_size` × `gradient_accumulation_steps`, `num_epochs`, `sequence_len`,
//! `sample_packing`, `optimizer`, `lr_scheduler`, `warmup_ratio`/`warmup_steps`.

use super::super::hyper::HyperKey;
use super::super::method::Objective;
use super::config::Config;
use super::findings::Findings;
use super::training::objective_of;
use super::yaml::{flag_at, text_at};
use serde_json::Value;

/// Whether a YAML document is an axolotl config.
pub(crate) fn is_axolotl(doc: &Value) -> bool {
    doc.get("base_model").is_some()
        && [
            "micro_batch_size",
            "sequence_len",
            "adapter",
            "lora_r",
            "num_epochs",
        ]
        .iter()
        .any(|k| doc.get(k).is_some())
}

/// Reads an axolotl config.
pub(crate) fn read(config: &Config<'_>, found: &mut Findings) {
    let doc = config.doc;
    config.base_model(found, "base_model");
    match text_at(doc, "adapter").map(str::to_lowercase).as_deref() {
        Some("qlora") => {
            config.adapter(found, "lora", "adapter", "peft_use_dora");
            if flag_at(doc, "load_in_8bit") == Some(true) {
                config.quant_flag(found, "load_in_8bit", 8);
            } else {
                super::findings::offer(&mut found.quant_bits, 4, config.from("adapter"));
            }
        }
        Some(kind) => config.adapter(found, kind, "adapter", "peft_use_dora"),
        None => config.adapter(
            found,
            "full",
            "adapter (none: all weights trained)",
            "peft_use_dora",
        ),
    }
    config.quant_flag(found, "load_in_4bit", 4);
    config.quant_flag(found, "load_in_8bit", 8);
    config.rslora(found, "peft_use_rslora");
    match text_at(doc, "rl").and_then(objective_of) {
        Some(objective) => config.objective(found, objective, "rl"),
        None if doc.get("rl").is_none_or(Value::is_null) => {
            config.objective(found, Objective::Sft, "rl (absent: supervised)")
        }
        None => {}
    }
    config.numbers(
        found,
        &[
            ("lora_r", HyperKey::LoraRank),
            ("lora_alpha", HyperKey::LoraAlpha),
            ("lora_dropout", HyperKey::LoraDropout),
            ("learning_rate", HyperKey::LearningRate),
            ("num_epochs", HyperKey::Epochs),
            ("warmup_ratio", HyperKey::WarmupRatio),
            ("weight_decay", HyperKey::WeightDecay),
            ("sequence_len", HyperKey::MaxSeqLen),
            ("rl_beta", HyperKey::PrefBeta),
            ("dpo_beta", HyperKey::PrefBeta),
            ("orpo_alpha", HyperKey::PrefBeta),
        ],
    );
    config.texts(found, &[("lr_scheduler", HyperKey::Scheduler)]);
    config.optimizer(found, "optimizer");
    if flag_at(doc, "lora_target_linear") == Some(true) {
        super::training::offer_targets(
            found,
            &["all-linear".to_string()],
            config.from("lora_target_linear"),
        );
    }
    config.targets(found, "lora_target_modules");
    config.batch(found, "micro_batch_size", "gradient_accumulation_steps");
    config.packing(found, "sample_packing");
    config.warmup_steps(found, "warmup_steps");
}

/// The axolotl config a model card carries (a fenced `yaml` block after "axolotl config").
pub(crate) fn config_in_card(card: &str) -> Option<&str> {
    let at = card.find("axolotl config")?;
    let rest = &card[at..];
    let start = rest.find("```yaml")? + "```yaml".len();
    let body = &rest[start..];
    let end = body.find("```")?;
    Some(&body[..end])
}
