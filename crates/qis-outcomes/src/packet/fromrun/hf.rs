//! Hugging Face outputs: PEFT `adapter_config.json`, the model card `README.md` that PEFT and
//! the Trainer write, `trainer_state.json`, `all_results.json` / `eval_results.json` /
//! `train_results.json`, and a full model's `config.json`.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::Objective;
use super::files::{self, check_all_finite, count, number, read_json, read_text, text};
use super::findings::{Findings, Sourced, offer};
use super::provenance::Provenance;
use super::training;
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
        let from = Provenance::file(&file, "base_model_name_or_path");
        training::offer_quant_of_id(found, base, &from);
        offer(&mut found.base_model, base.to_string(), from);
    }
    if json.get("use_rslora").and_then(Value::as_bool) == Some(true) {
        offer(&mut found.rslora, (), Provenance::file(&file, "use_rslora"));
    }
    if let Some(dropout) = found.keep(number(&json, &file, "lora_dropout")).flatten() {
        training::offer_value(
            found,
            HyperKey::LoraDropout,
            dropout,
            Provenance::file(&file, "lora_dropout"),
        );
    }
    if let Some(modules) = super::yaml::texts_at(&json, "target_modules") {
        training::offer_targets(found, &modules, Provenance::file(&file, "target_modules"));
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
    card_front_matter(&card, &file, found);
    if let Some(block) = super::axolotl::config_in_card(&card) {
        let name = format!("{file} (axolotl config)");
        if let Some(doc) = found.keep(super::yaml::parse_yaml(&name, block))
            && super::axolotl::is_axolotl(&doc)
        {
            let config = super::config::Config {
                doc: &doc,
                file: name,
            };
            super::axolotl::read(&config, found);
        }
    }
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
            "train_batch_size" => {
                training::offer_part(&mut found.batch.micro, value.parse().ok(), from)
            }
            "gradient_accumulation_steps" => {
                training::offer_part(&mut found.batch.accumulation, value.parse().ok(), from)
            }
            "num_devices" => {
                training::offer_part(&mut found.batch.devices, value.parse().ok(), from)
            }
            "lr_scheduler_warmup_ratio" => offer_number(found, HyperKey::WarmupRatio, value, from),
            "lr_scheduler_warmup_steps" => {
                if let Ok(steps) = value.parse::<u64>() {
                    offer(&mut found.warmup_steps, steps, from);
                }
            }
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

/// The card's YAML front matter: `base_model` (text or a list of one) and `tags`, whose
/// trainer names (`dpo`, `orpo`, `kto`, …, which TRL and Unsloth add) suggest the objective.
fn card_front_matter(card: &str, file: &str, found: &mut Findings) {
    let Some(rest) = card.strip_prefix("---") else {
        return;
    };
    let Some(end) = rest.find("\n---") else {
        return;
    };
    let Ok(doc) = super::yaml::parse_yaml(file, &rest[..end]) else {
        return; // a card is prose first: a bad front matter is not a broken run
    };
    if let Some(base) =
        super::yaml::texts_at(&doc, "base_model").and_then(|b| (b.len() == 1).then(|| b[0].clone()))
    {
        let from = Provenance::file(file, "base_model");
        training::offer_quant_of_id(found, &base, &from);
        offer(&mut found.base_model, base, from);
    }
    for tag in super::yaml::texts_at(&doc, "tags").unwrap_or_default() {
        if let Some(objective) = training::objective_of(&tag).filter(|o| *o != Objective::Sft) {
            offer(
                &mut found.objective_hint,
                objective,
                Provenance::file(file, &format!("tags: {tag}")),
            );
        }
    }
}

/// The objective that a trainer's log keys give away: preference trainers log
/// `rewards/*` and `logps/*`, ORPO its `log_odds_ratio`, KTO its `kl` with summed rewards,
/// GRPO its completions and `reward_std`.
pub(crate) fn objective_of_log_keys<'k>(
    keys: impl Iterator<Item = &'k String> + Clone,
) -> Option<(Objective, &'k String)> {
    let find =
        |pred: &dyn Fn(&str) -> bool| keys.clone().find(|k| pred(k.trim_start_matches("eval_")));
    if let Some(k) = find(&|k| k == "log_odds_ratio" || k == "log_odds_chosen") {
        return Some((Objective::Orpo, k));
    }
    if let Some(k) = find(&|k| k.ends_with("_sum") && k.starts_with("rewards/")) {
        return Some((Objective::Kto, k));
    }
    if let Some(k) = find(&|k| k == "reward_std" || k.starts_with("completions/")) {
        return Some((Objective::Grpo, k));
    }
    find(&|k| k.starts_with("rewards/") || k.starts_with("logps/")).map(|k| (Objective::Dpo, k))
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
    if let Some(steps) = found.keep(count(&json, &file, "global_step")).flatten()
        && steps > 0
    {
        offer(
            &mut found.steps,
            steps,
            Provenance::file(&file, "global_step"),
        );
    }
    if let Some(micro) = found
        .keep(number(&json, &file, "train_batch_size"))
        .flatten()
    {
        training::offer_part(
            &mut found.batch.micro,
            Some(micro),
            Provenance::file(&file, "train_batch_size"),
        );
    }
    let Some(history) = json.get("log_history").and_then(Value::as_array) else {
        return;
    };
    for (index, entry) in history.iter().enumerate() {
        if found.objective_hint.is_none()
            && let Some(object) = entry.as_object()
            && let Some((objective, key)) = objective_of_log_keys(object.keys())
        {
            let key = format!("log_history[{index}].{key}");
            offer(
                &mut found.objective_hint,
                objective,
                Provenance::file(&file, &key),
            );
        }
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
        if let Some((objective, _)) = objective_of_log_keys(object.keys()) {
            offer(
                &mut found.objective_hint,
                objective,
                Provenance::file(&file, &key),
            );
        }
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
