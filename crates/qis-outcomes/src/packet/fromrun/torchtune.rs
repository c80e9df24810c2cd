//! torchtune recipes: `model._component_` names the family and the tuning
//! (`torchtune.models.llama3_1.qlora_llama3_1_8b`: QLoRA on llama-3.1-8b), `model.lora_rank`,
//! `model.lora_alpha`, `model.lora_dropout`, `model.lora_attn_modules` with
//! `model.apply_lora_to_mlp`, `model.use_dora`, `optimizer.lr` and `optimizer._component_`,
//! `lr_scheduler.num_warmup_steps`, `batch_size` × `gradient_accumulation_steps`, `epochs`,
//! `tokenizer.max_seq_len`, `dataset.packed`, and `loss._component_` (`DPOLoss`: DPO). Its
//! metric log (`log_*.txt`, lines `Step N | loss:…`) gives the steps taken.

use super::super::hyper::HyperKey;
use super::super::method::Objective;
use super::config::Config;
use super::files::{self, read_text};
use super::findings::{Findings, offer};
use super::provenance::Provenance;
use super::training::{objective_of, offer_targets};
use super::yaml::{flag_at, text_at, texts_at};
use serde_json::Value;
use std::path::Path;

/// Whether a YAML document is a torchtune recipe config.
pub(crate) fn is_torchtune(doc: &Value) -> bool {
    text_at(doc, "model._component_").is_some_and(|c| c.starts_with("torchtune."))
}

/// The family a torchtune model builder names: `qlora_llama3_1_8b` → `llama3.1-8b` (digits
/// after a versioned name are its minor version), with the tuning prefix it carries.
pub(crate) fn builder_family(builder: &str) -> (Option<&'static str>, String) {
    let (tuning, rest) = if let Some(rest) = builder.strip_prefix("qlora_") {
        (Some("qlora"), rest)
    } else if let Some(rest) = builder.strip_prefix("lora_") {
        (Some("lora"), rest)
    } else {
        (None, builder)
    };
    let mut family = String::new();
    for part in rest.split('_') {
        if family.is_empty() {
            family.push_str(part);
        } else if part.chars().all(|c| c.is_ascii_digit())
            && family.ends_with(|c: char| c.is_ascii_digit())
        {
            family.push('.');
            family.push_str(part);
        } else {
            family.push('-');
            family.push_str(part);
        }
    }
    (tuning, family)
}

/// Reads a torchtune recipe config.
pub(crate) fn read(config: &Config<'_>, found: &mut Findings) {
    let doc = config.doc;
    let component = text_at(doc, "model._component_").unwrap_or_default();
    let builder = component.rsplit('.').next().unwrap_or(component);
    let (tuning, family) = builder_family(builder);
    let from = config.from("model._component_");
    offer(&mut found.base_model, family, from.clone());
    match tuning {
        Some("qlora") => {
            config.adapter(found, "lora", "model._component_", "model.use_dora");
            offer(&mut found.quant_bits, 4, from);
        }
        Some(_) => config.adapter(found, "lora", "model._component_", "model.use_dora"),
        None => config.adapter(found, "full", "model._component_", "model.use_dora"),
    }
    config.quant_flag(found, "model.quantize_base", 4);
    let loss = text_at(doc, "loss._component_").unwrap_or_default();
    let loss_name = loss.rsplit('.').next().unwrap_or(loss);
    match objective_of(loss_name) {
        Some(objective) => config.objective(found, objective, "loss._component_"),
        None if !loss.is_empty() => config.objective(found, Objective::Sft, "loss._component_"),
        None => {}
    }
    config.numbers(
        found,
        &[
            ("model.lora_rank", HyperKey::LoraRank),
            ("model.lora_alpha", HyperKey::LoraAlpha),
            ("model.lora_dropout", HyperKey::LoraDropout),
            ("optimizer.lr", HyperKey::LearningRate),
            ("optimizer.weight_decay", HyperKey::WeightDecay),
            ("epochs", HyperKey::Epochs),
            ("tokenizer.max_seq_len", HyperKey::MaxSeqLen),
            ("loss.beta", HyperKey::PrefBeta),
        ],
    );
    config.optimizer(found, "optimizer._component_");
    if let Some(mut modules) = texts_at(doc, "model.lora_attn_modules") {
        if flag_at(doc, "model.apply_lora_to_mlp") == Some(true) {
            modules.push("mlp".into());
        }
        offer_targets(found, &modules, config.from("model.lora_attn_modules"));
    }
    config.batch(found, "batch_size", "gradient_accumulation_steps");
    config.packing(found, "dataset.packed");
    config.warmup_steps(found, "lr_scheduler.num_warmup_steps");
    if let Some(schedule) = text_at(doc, "lr_scheduler._component_") {
        let name = schedule.rsplit('.').next().unwrap_or(schedule);
        let name = name
            .trim_start_matches("get_")
            .split("_schedule")
            .next()
            .unwrap_or(name);
        super::training::offer_text(
            found,
            HyperKey::Scheduler,
            name,
            config.from("lr_scheduler._component_"),
        );
    }
}

/// Whether a file name is a torchtune metric log (`log_<time>.txt`).
pub(crate) fn is_metric_log(name: &str) -> bool {
    name.starts_with("log_") && name.ends_with(".txt")
}

/// The last `Step N |` of a torchtune metric log: the steps taken.
pub(crate) fn metric_log(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(text) = found.keep(read_text(root, path)) else {
        return;
    };
    let last = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Step ")?
                .split_once(" |")?
                .0
                .trim()
                .parse::<u64>()
                .ok()
        })
        .max();
    if let Some(steps) = last {
        offer(
            &mut found.steps,
            steps,
            Provenance::file(&file, &format!("Step {steps}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_name_family_and_tuning() {
        assert_eq!(
            builder_family("qlora_llama3_1_8b"),
            (Some("qlora"), "llama3.1-8b".to_string())
        );
        assert_eq!(
            builder_family("lora_qwen2_5_7b"),
            (Some("lora"), "qwen2.5-7b".to_string())
        );
        assert_eq!(
            builder_family("mistral_7b"),
            (None, "mistral-7b".to_string())
        );
        assert_eq!(builder_family("llama2_7b"), (None, "llama2-7b".to_string()));
    }
}
