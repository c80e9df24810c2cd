//! Hugging Face outputs: PEFT `adapter_config.json`, the model card `README.md` that PEFT and
//! the Trainer write, `trainer_state.json`, `all_results.json` / `eval_results.json` /
//! `train_results.json`, and a full model's `config.json`.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Objective;
use super::files::{self, check_all_finite, count, number, read_json, read_text, text};
use super::findings::{Findings, Sourced, offer};
use super::provenance::Provenance;
use serde_json::Value;
use std::path::Path;

/// `eval_*` entries that are timings or bookkeeping, not a measure of the model.
const NOT_METRICS: &[&str] = &[
    "loss",
    "runtime",
    "samples_per_second",
    "steps_per_second",
    "samples",
];

/// The metric name of an `eval_*` key, if it is a model metric (not loss, timing, or a
/// preference-training diagnostic such as `eval_rewards/margins`).
fn eval_metric(key: &str) -> Option<&str> {
    let name = key.strip_prefix("eval_")?;
    (!NOT_METRICS.contains(&name) && !name.contains('/')).then_some(name)
}

/// PEFT `adapter_config.json`: base model, adapter type, rank and alpha.
pub(crate) fn adapter_config(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(json) = found.keep(read_json(root, path)) else {
        return;
    };
    if let Some(base) = text(&json, "base_model_name_or_path") {
        offer(
            &mut found.base_model,
            base.to_string(),
            Provenance::file(&file, "base_model_name_or_path"),
        );
    }
    if let Some(kind) = text(&json, "peft_type") {
        let dora = json.get("use_dora").and_then(Value::as_bool) == Some(true);
        let (adapter, key) = if dora {
            ("dora".to_string(), "use_dora")
        } else {
            (kind.to_lowercase().replace('_', "-"), "peft_type")
        };
        offer(&mut found.adapter, adapter, Provenance::file(&file, key));
    }
    if let Some(rank) = found.keep(count(&json, &file, "r")).flatten() {
        found.offer_hyper(
            HyperKey::LoraRank,
            HyperValue::Int(rank as i64),
            Provenance::file(&file, "r"),
        );
    }
    if let Some(alpha) = found.keep(number(&json, &file, "lora_alpha")).flatten() {
        found.offer_hyper(
            HyperKey::LoraAlpha,
            HyperValue::Float(alpha as f32),
            Provenance::file(&file, "lora_alpha"),
        );
    }
}

/// The model card: front-matter `base_model`, and the `- key: value` lines of the quantisation
/// and hyperparameter sections the Trainer writes.
pub(crate) fn model_card(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(card) = found.keep(read_text(root, path)) else {
        return;
    };
    for line in card.lines() {
        let line = line.trim();
        if let Some(base) = line.strip_prefix("base_model:") {
            let base = base.trim().trim_matches(['"', '\'']);
            if !base.is_empty() {
                offer(
                    &mut found.base_model,
                    base.to_string(),
                    Provenance::file(&file, "base_model"),
                );
            }
            continue;
        }
        let Some((key, value)) = line.strip_prefix("- ").and_then(|l| l.split_once(": ")) else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let from = Provenance::file(&file, key);
        match key {
            "load_in_4bit" if value == "True" => offer(&mut found.quant_bits, 4, from),
            "load_in_8bit" if value == "True" => offer(&mut found.quant_bits, 8, from),
            "learning_rate" => offer_number(found, HyperKey::LearningRate, value, from),
            "total_train_batch_size" => offer_number(found, HyperKey::BatchSize, value, from),
            "num_epochs" => offer_number(found, HyperKey::Epochs, value, from),
            "lr_scheduler_type" => found.offer_hyper(
                HyperKey::Scheduler,
                HyperValue::Text(value.to_lowercase()),
                from,
            ),
            _ => {}
        }
    }
}

/// Offers a number written as text; an unparsable one is a problem naming file and key.
pub(crate) fn offer_number(found: &mut Findings, key: HyperKey, value: &str, from: Provenance) {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() => {
            let value = if x.fract() == 0.0 && x.abs() < 1e15 {
                HyperValue::Int(x as i64)
            } else {
                HyperValue::Float(x as f32)
            };
            found.offer_hyper(key, value, from);
        }
        _ => {
            let (file, name) = match &from {
                Provenance::File { file, key } => (file.clone(), key.clone()),
                other => (other.to_string(), String::new()),
            };
            found.problems.push(super::problem::RunProblem::file(
                &file,
                Some(&name),
                format!("{value:?} is not a number"),
            ));
        }
    }
}

/// `trainer_state.json`: epochs, and the evaluations logged at step 0 and last.
pub(crate) fn trainer_state(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(json) = found.keep(read_json(root, path)) else {
        return;
    };
    if let Some(epochs) = found
        .keep(number(&json, &file, "num_train_epochs"))
        .flatten()
    {
        found.offer_hyper(
            HyperKey::Epochs,
            HyperValue::Float(epochs as f32),
            Provenance::file(&file, "num_train_epochs"),
        );
    }
    let Some(history) = json.get("log_history").and_then(Value::as_array) else {
        return;
    };
    for (index, entry) in history.iter().enumerate() {
        let step = entry.get("step").and_then(Value::as_u64);
        let Some(object) = entry.as_object() else {
            continue;
        };
        for key in object.keys() {
            let Some(metric) = eval_metric(key) else {
                continue;
            };
            let location = format!("log_history[{index}].{key}");
            let Some(value) = found.keep(files::as_number(&object[key], &file, &location)) else {
                continue;
            };
            let sourced = Sourced {
                value,
                from: Provenance::file(&file, &location),
            };
            if step == Some(0) {
                found
                    .trainer_eval
                    .at_start
                    .entry(metric.to_string())
                    .or_insert(sourced.clone());
            }
            // Later entries replace earlier ones: the last evaluation is the final one. A value
            // from all_results.json, read earlier, is kept (it is the run's reported result).
            let slot = found
                .trainer_eval
                .at_end
                .entry(metric.to_string())
                .or_insert(sourced.clone());
            if matches!(&slot.from, Provenance::File { file: f, .. } if *f == file) {
                *slot = sourced;
            }
        }
    }
}

/// `all_results.json` and its parts: sample counts and the final evaluation. Every top-level
/// number must be finite.
pub(crate) fn results(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(json) = found.keep(read_json(root, path)) else {
        return;
    };
    let non_finite = check_all_finite(&json, &file);
    found.problems.extend(non_finite);
    if let Some(n) = found.keep(count(&json, &file, "train_samples")).flatten() {
        offer(
            &mut found.train_samples,
            n,
            Provenance::file(&file, "train_samples"),
        );
    }
    if let Some(n) = found.keep(count(&json, &file, "eval_samples")).flatten() {
        offer(
            &mut found.trainer_eval.samples,
            n,
            Provenance::file(&file, "eval_samples"),
        );
    }
    let Some(object) = json.as_object() else {
        return;
    };
    for key in object.keys() {
        let Some(metric) = eval_metric(key) else {
            continue;
        };
        if let Ok(value) = files::as_number(&object[key], &file, key) {
            found
                .trainer_eval
                .at_end
                .entry(metric.to_string())
                .or_insert(Sourced {
                    value,
                    from: Provenance::file(&file, key),
                });
        }
    }
    // Preference trainers (TRL, LLaMA-Factory) log reward diagnostics instead of a benchmark.
    if object
        .keys()
        .any(|k| k.starts_with("eval_rewards/") || k.starts_with("rewards/"))
    {
        let key = object
            .keys()
            .find(|k| k.contains("rewards/"))
            .cloned()
            .unwrap_or_default();
        offer(
            &mut found.objective,
            Objective::Dpo,
            Provenance::file(&file, &key),
        );
        found.notes.push(format!(
            "{file}: reward metrics ({key}, …) describe preference training, not a benchmark"
        ));
    }
    if found.train_samples.is_none() {
        estimate_train_samples(&json, &file, found);
    }
}

/// Without `train_samples`, the Trainer's throughput gives the count: it reports
/// `train_samples_per_second = samples × epochs / runtime`. Good enough for a bucket.
fn estimate_train_samples(json: &Value, file: &str, found: &mut Findings) {
    let rate = number(json, file, "train_samples_per_second")
        .ok()
        .flatten();
    let runtime = number(json, file, "train_runtime").ok().flatten();
    let epochs = number(json, file, "epoch").ok().flatten();
    if let (Some(rate), Some(runtime), Some(epochs)) = (rate, runtime, epochs)
        && rate > 0.0
        && runtime > 0.0
        && epochs > 0.0
    {
        let estimate = (rate * runtime / epochs).round() as u64;
        let rule = format!(
            "about {estimate} = train_samples_per_second × train_runtime / epoch from {file} (no train_samples recorded)"
        );
        offer(
            &mut found.train_samples,
            estimate,
            Provenance::derived(rule),
        );
    }
}

/// A full model's `config.json`: the base it was loaded from. Its presence marks a full
/// fine-tune when no adapter was saved.
pub(crate) fn model_config(root: &Path, path: &Path, found: &mut Findings) {
    let file = files::display(path);
    let Some(json) = found.keep(read_json(root, path)) else {
        return;
    };
    if json.get("architectures").is_none() && json.get("model_type").is_none() {
        return; // some other config.json
    }
    if let Some(base) = text(&json, "_name_or_path") {
        offer(
            &mut found.base_model,
            base.to_string(),
            Provenance::file(&file, "_name_or_path"),
        );
    }
    offer(
        &mut found.full_model,
        (),
        Provenance::file(&file, "architectures"),
    );
}
