//! What every training config says in its own words, turned into packet terms once: the
//! objective from a trainer's name, the quantisation from a base model's id, the adapter's
//! target modules, the optimiser's name, and the effective batch from its parts.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Objective;
use super::findings::{Findings, Sourced, offer};
use super::provenance::Provenance;
use serde_json::Value;

/// The objective a trainer or loss name stands for (`dpo`, `DPOTrainer`, `ipo`, `simpo`, …).
pub(crate) fn objective_of(word: &str) -> Option<Objective> {
    let word = word.trim().to_lowercase();
    let word = word
        .trim_end_matches("trainer")
        .trim_end_matches("loss")
        .trim_end_matches(['_', '-']);
    Some(match word {
        "sft" | "supervised" => Objective::Sft,
        // IPO, SPPO, hinge and robust DPO are losses of the DPO trainer.
        "dpo" | "ipo" | "sppo" | "rso" | "hinge" | "sigmoid" | "robust" => Objective::Dpo,
        "orpo" => Objective::Orpo,
        "kto" => Objective::Kto,
        "simpo" => Objective::Simpo,
        "ppo" | "rlhf" => Objective::Ppo,
        "grpo" => Objective::Grpo,
        _ => return None,
    })
}

/// Bits of a base model quantised for training, as its hub id says (`-bnb-4bit`, `GPTQ`, `AWQ`,
/// `int4`): such a base cannot be tuned except through an adapter on the quantised weights.
pub(crate) fn quant_bits_of_id(id: &str) -> Option<i64> {
    let id = id.to_lowercase();
    if ["8bit", "int8", "8-bit"].iter().any(|t| id.contains(t)) {
        return Some(8);
    }
    let four = ["bnb-4bit", "4bit", "int4", "4-bit", "gptq", "awq", "nf4"];
    four.iter().any(|t| id.contains(t)).then_some(4)
}

/// Offers the base model's quantisation read from its id.
pub(crate) fn offer_quant_of_id(found: &mut Findings, id: &str, from: &Provenance) {
    if let Some(bits) = quant_bits_of_id(id) {
        let rule = format!("the base model id {id:?} names a {bits}-bit checkpoint ({from})");
        offer(&mut found.quant_bits, bits, Provenance::derived(rule));
    }
}

/// Module names that belong to the MLP block of the common architectures.
const MLP_MODULES: &[&str] = &[
    "gate_proj",
    "up_proj",
    "down_proj",
    "w1",
    "w2",
    "w3",
    "fc1",
    "fc2",
    "mlp",
    "c_fc",
    "dense_h_to_4h",
    "dense_4h_to_h",
];

/// The packet's short form of an adapter's target modules: `all-linear` when attention and
/// MLP are both adapted, `attention` for all attention projections, else the projections named
/// (`q-v`).
pub(crate) fn targets_of(modules: &[String]) -> Option<String> {
    let names: Vec<String> = modules
        .iter()
        .map(|m| m.rsplit('.').next().unwrap_or(m).to_lowercase())
        .collect();
    if names.is_empty() {
        return None;
    }
    if names.iter().any(|n| n == "all-linear" || n == "all_linear") {
        return Some("all-linear".into());
    }
    let mlp = names.iter().any(|n| MLP_MODULES.contains(&n.as_str()));
    let mut attention: Vec<String> = names
        .iter()
        .filter(|n| !MLP_MODULES.contains(&n.as_str()))
        .map(|n| {
            let short = n.trim_end_matches("_proj");
            match short {
                "output" | "out" => "o".to_string(),
                other => other.to_string(),
            }
        })
        .collect();
    attention.sort();
    attention.dedup();
    let all_attention = ["k", "o", "q", "v"]
        .iter()
        .all(|p| attention.iter().any(|a| a == p));
    Some(match (mlp, all_attention) {
        (true, _) => "all-linear".into(),
        (false, true) => "attention".into(),
        (false, false) => attention.join("-"),
    })
}

/// Offers the adapter's targets.
pub(crate) fn offer_targets(found: &mut Findings, modules: &[String], from: Provenance) {
    if let Some(targets) = targets_of(modules) {
        found.offer_hyper(HyperKey::LoraTargets, HyperValue::Text(targets), from);
    }
}

/// The packet's name of an optimiser: `torch.optim.AdamW` → `adamw`, `paged_adamw_32bit` →
/// `paged-adamw-32bit`, `bitsandbytes.optim.PagedAdamW8bit` → `pagedadamw8bit`.
pub(crate) fn optimizer_name(raw: &str) -> String {
    let last = raw.rsplit('.').next().unwrap_or(raw);
    last.trim().to_lowercase().replace(['_', ' '], "-")
}

/// Offers a text hyperparameter (lower case).
pub(crate) fn offer_text(found: &mut Findings, key: HyperKey, value: &str, from: Provenance) {
    found.offer_hyper(key, HyperValue::Text(value.to_lowercase()), from);
}

/// Offers a number hyperparameter (whole numbers as integers).
pub(crate) fn offer_value(found: &mut Findings, key: HyperKey, x: f64, from: Provenance) {
    let value = if x.fract() == 0.0 && x.abs() < 1e15 {
        HyperValue::Int(x as i64)
    } else {
        HyperValue::Float(x as f32)
    };
    found.offer_hyper(key, value, from);
}

/// Offers a positive whole number into one of the batch parts.
pub(crate) fn offer_part(slot: &mut Option<Sourced<i64>>, x: Option<f64>, from: Provenance) {
    if let Some(x) = x.filter(|x| *x >= 1.0 && x.fract() == 0.0) {
        offer(slot, x as i64, from);
    }
}

/// A DeepSpeed config (`train_micro_batch_size_per_gpu`, `gradient_accumulation_steps`,
/// `train_batch_size`; `"auto"` means the trainer's own values and is skipped).
pub(crate) fn deepspeed_config(json: &Value, file: &str, found: &mut Findings) -> bool {
    if json.get("zero_optimization").is_none()
        && json.get("train_micro_batch_size_per_gpu").is_none()
    {
        return false;
    }
    let n = |key: &str| json.get(key).and_then(Value::as_f64);
    if let Some(total) = n("train_batch_size").filter(|x| *x >= 1.0 && x.fract() == 0.0) {
        found.offer_hyper(
            HyperKey::BatchSize,
            HyperValue::Int(total as i64),
            Provenance::file(file, "train_batch_size"),
        );
    }
    offer_part(
        &mut found.batch.micro,
        n("train_micro_batch_size_per_gpu"),
        Provenance::file(file, "train_micro_batch_size_per_gpu"),
    );
    offer_part(
        &mut found.batch.accumulation,
        n("gradient_accumulation_steps"),
        Provenance::file(file, "gradient_accumulation_steps"),
    );
    true
}

/// An accelerate config (`num_processes`): the device count.
pub(crate) fn accelerate_config(yaml: &Value, file: &str, found: &mut Findings) -> bool {
    if yaml.get("distributed_type").is_none() || yaml.get("num_processes").is_none() {
        return false;
    }
    offer_part(
        &mut found.batch.devices,
        super::yaml::number_at(yaml, "num_processes"),
        Provenance::file(file, "num_processes"),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_turn_into_packet_terms() {
        assert_eq!(objective_of("DPOTrainer"), Some(Objective::Dpo));
        assert_eq!(objective_of("ipo"), Some(Objective::Dpo));
        assert_eq!(objective_of("simpo"), Some(Objective::Simpo));
        assert_eq!(objective_of("lora"), None);
        assert_eq!(quant_bits_of_id("unsloth/llama-3-8b-bnb-4bit"), Some(4));
        assert_eq!(quant_bits_of_id("TheBloke/Mistral-7B-v0.1-GPTQ"), Some(4));
        assert_eq!(quant_bits_of_id("Qwen/Qwen2.5-7B-Instruct-AWQ"), Some(4));
        assert_eq!(quant_bits_of_id("meta-llama/Meta-Llama-3-8B"), None);
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            targets_of(&names(&["q_proj", "v_proj"])).as_deref(),
            Some("q-v")
        );
        assert_eq!(
            targets_of(&names(&["q_proj", "k_proj", "v_proj", "output_proj"])).as_deref(),
            Some("attention")
        );
        assert_eq!(
            targets_of(&names(&["q_proj", "v_proj", "down_proj"])).as_deref(),
            Some("all-linear")
        );
        assert_eq!(optimizer_name("torch.optim.AdamW"), "adamw");
        assert_eq!(optimizer_name("paged_adamw_32bit"), "paged-adamw-32bit");
    }
}
