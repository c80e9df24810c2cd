//! LLaMA-Factory: the training YAML (flat `key: value` lines; nested values are not needed and
//! are skipped, so no YAML library is used) and `trainer_log.jsonl`.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Objective;
use super::files::{self, parse_json, read_text};
use super::findings::{Findings, offer};
use super::hf::offer_number;
use super::problem::RunProblem;
use super::provenance::Provenance;
use std::collections::BTreeMap;
use std::path::Path;

/// The top-level `key: value` pairs of a flat YAML file (comments, indented lines and list
/// items skipped; surrounding quotes removed), with their line numbers.
pub(crate) fn flat_yaml(text: &str) -> BTreeMap<String, (String, usize)> {
    let mut pairs = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with([' ', '\t', '-', '#']) {
            continue;
        }
        let line = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        if let Some((key, value)) = line.split_once(':') {
            let value = value.trim().trim_matches(['"', '\'']);
            if !key.trim().is_empty() && !value.is_empty() {
                pairs.insert(key.trim().to_string(), (value.to_string(), index + 1));
            }
        }
    }
    pairs
}

/// Whether a YAML file is a LLaMA-Factory training config.
pub(crate) fn is_training_config(pairs: &BTreeMap<String, (String, usize)>) -> bool {
    pairs.contains_key("stage") || pairs.contains_key("finetuning_type")
}

/// Reads a LLaMA-Factory training YAML. Returns false if the file is not one.
pub(crate) fn training_yaml(root: &Path, path: &Path, found: &mut Findings) -> bool {
    let file = files::display(path);
    let Some(text) = found.keep(read_text(root, path)) else {
        return false;
    };
    let pairs = flat_yaml(&text);
    if !is_training_config(&pairs) {
        return false;
    }
    let get = |key: &str| pairs.get(key).map(|(v, _)| v.as_str());
    let from = |key: &str| Provenance::file(&file, key);
    if let Some(base) = get("model_name_or_path") {
        offer(
            &mut found.base_model,
            base.to_string(),
            from("model_name_or_path"),
        );
    }
    if let Some(kind) = get("finetuning_type") {
        let kind = if kind == "lora" && get("use_dora") == Some("true") {
            "dora"
        } else {
            kind
        };
        offer(
            &mut found.finetuning_type,
            kind.to_lowercase(),
            from("finetuning_type"),
        );
    }
    if let Some(bits) = get("quantization_bit") {
        match bits.parse::<i64>() {
            Ok(bits) => offer(&mut found.quant_bits, bits, from("quantization_bit")),
            Err(_) => found.problems.push(RunProblem::file(
                &file,
                Some("quantization_bit"),
                format!("{bits:?} is not a whole number"),
            )),
        }
    }
    if let Some(stage) = get("stage") {
        let loss = get("pref_loss");
        let (objective, key) = match (stage, loss) {
            ("dpo", Some("orpo")) => (Objective::Orpo, "pref_loss"),
            ("dpo", Some("simpo")) => (Objective::Simpo, "pref_loss"),
            ("dpo", _) => (Objective::Dpo, "stage"),
            ("sft", _) => (Objective::Sft, "stage"),
            ("kto", _) => (Objective::Kto, "stage"),
            ("ppo", _) => (Objective::Ppo, "stage"),
            ("pt", _) => (Objective::Other("pretrain".into()), "stage"),
            ("rm", _) => (Objective::Other("reward-model".into()), "stage"),
            (other, _) => (Objective::Other(other.to_lowercase()), "stage"),
        };
        // The YAML states the objective; it outranks a guess from reward metrics.
        found.objective = Some(super::findings::Sourced {
            value: objective,
            from: from(key),
        });
    }
    for (yaml_key, hyper) in [
        ("lora_rank", HyperKey::LoraRank),
        ("lora_alpha", HyperKey::LoraAlpha),
        ("learning_rate", HyperKey::LearningRate),
        ("num_train_epochs", HyperKey::Epochs),
        ("pref_beta", HyperKey::PrefBeta),
    ] {
        if let Some(value) = get(yaml_key) {
            offer_number(found, hyper, value, from(yaml_key));
        }
    }
    if let Some(scheduler) = get("lr_scheduler_type") {
        found.offer_hyper(
            HyperKey::Scheduler,
            HyperValue::Text(scheduler.to_lowercase()),
            from("lr_scheduler_type"),
        );
    }
    let per_device = get("per_device_train_batch_size").and_then(|v| v.parse::<i64>().ok());
    let accumulation = get("gradient_accumulation_steps")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1);
    if let Some((per_device, batch)) =
        per_device.and_then(|p| p.checked_mul(accumulation).map(|batch| (p, batch)))
    {
        let rule = format!(
            "per_device_train_batch_size {per_device} × gradient_accumulation_steps {accumulation} from {file} \
             (one device assumed: multiply by the GPU count with --param batch_size=N)"
        );
        found.offer_hyper(
            HyperKey::BatchSize,
            HyperValue::Int(batch),
            Provenance::derived(rule),
        );
    }
    true
}

/// Reads `trainer_log.jsonl` to check it and to say what it holds: LLaMA-Factory logs losses,
/// never a benchmark score. Malformed lines are problems naming the line.
pub(crate) fn trainer_log(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(text) = found.keep(read_text(root, path)) else {
        return;
    };
    let mut entries = 0;
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let location = format!("{file} line {}", index + 1);
        if found.keep(parse_json(&location, line)).is_some() {
            entries += 1;
        }
    }
    found.notes.push(format!(
        "{file}: {entries} log entries (losses only, no benchmark scores)"
    ));
}
