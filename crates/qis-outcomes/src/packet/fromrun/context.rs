//! Family, method, hyperparameters and data scale, from the findings: what no single file
//! states is worked out here, and each rule is written into the provenance.

use super::super::hyper::{HyperKey, HyperValue};
use super::super::method::{Method, Objective, Tuning};
use super::super::scale::DataScale;
use super::Assembly;
use super::findings::{Findings, Sourced};
use super::overrides::Overrides;
use super::provenance::Provenance;

/// Family, method, hyperparameters and data scale.
pub(crate) fn assemble_context(found: &Findings, overrides: &Overrides, a: &mut Assembly) {
    if let Some(base) = &found.base_model {
        a.draft.family = Some(base.value.clone());
        a.note_from("family", &base.from);
    } else {
        a.why_missing.insert(
            "family",
            "no base model named in adapter_config.json, README.md, config.json or a training config (base_model, model_name_or_path, model._component_)"
                .into(),
        );
    }
    a.why_missing
        .insert("task", "training tools do not record the task type".into());
    if overrides.method.is_none() {
        match method(found) {
            Some((method, from)) => {
                a.draft.method = Some(method);
                a.note_from("method", &from);
            }
            None => {
                a.why_missing.insert("method", "no adapter_config.json, model config.json or training config says how it was trained".into());
            }
        }
    }
    let mut hyper = found.hyper.clone();
    let batch = add_batch(found, &mut hyper);
    add_warmup_ratio(found, &mut hyper);
    add_extras(found, a.draft.method.as_ref(), &mut hyper);
    for (key, sourced) in &hyper {
        a.draft.set_hyperparam(key.clone(), sourced.value.clone());
        a.note_from(key.name(), &sourced.from);
    }
    match train_samples(found, &hyper, batch.as_ref()) {
        Some(Sourced { value, from }) => {
            a.draft.data_scale = Some(DataScale::from_count(value));
            a.note_from("data_scale", &from);
        }
        None => {
            a.why_missing.insert(
                "data_scale",
                "no train_samples in all_results.json or train_results.json, and no steps with a batch size to count them from".into(),
            );
        }
    }
}

/// The effective batch from its parts when no file states the total: per device ×
/// accumulation × devices (one device when no accelerate, DeepSpeed or card says more). It is
/// published only when the accumulation is written; otherwise it serves only to count examples.
fn add_batch(
    found: &Findings,
    hyper: &mut std::collections::BTreeMap<HyperKey, Sourced<HyperValue>>,
) -> Option<Sourced<HyperValue>> {
    if let Some(batch) = hyper.get(&HyperKey::BatchSize) {
        return Some(batch.clone());
    }
    let micro = found.batch.micro.as_ref()?;
    let accumulation = found.batch.accumulation.as_ref().map_or(1, |s| s.value);
    let devices = found.batch.devices.as_ref().map_or(1, |s| s.value);
    let total = micro
        .value
        .checked_mul(accumulation)
        .and_then(|b| b.checked_mul(devices))?;
    let part = |s: &Option<Sourced<i64>>, absent: &str| match s {
        Some(s) => format!("{} ({})", s.value, s.from),
        None => absent.to_string(),
    };
    let rule = format!(
        "per-device batch {} ({}) × accumulation {} × devices {}",
        micro.value,
        micro.from,
        part(&found.batch.accumulation, "1 (none written: a lower bound)"),
        part(
            &found.batch.devices,
            "1 (no accelerate or DeepSpeed config says more: --param batch_size=N if not)"
        ),
    );
    let batch = Sourced {
        value: HyperValue::Int(total),
        from: Provenance::derived(rule),
    };
    if found.batch.accumulation.is_some() {
        hyper.insert(HyperKey::BatchSize, batch.clone());
    }
    Some(batch)
}

/// Warm-up steps as a fraction of the steps taken, when no ratio is written.
fn add_warmup_ratio(
    found: &Findings,
    hyper: &mut std::collections::BTreeMap<HyperKey, Sourced<HyperValue>>,
) {
    if hyper.contains_key(&HyperKey::WarmupRatio) {
        return;
    }
    let (Some(warmup), Some(steps)) = (&found.warmup_steps, &found.steps) else {
        return;
    };
    if steps.value == 0 || warmup.value > steps.value {
        return;
    }
    let ratio = warmup.value as f64 / steps.value as f64;
    let ratio = (ratio * 1000.0).round() / 1000.0;
    let rule = format!(
        "{} warm-up steps ({}) / {} steps ({})",
        warmup.value, warmup.from, steps.value, steps.from
    );
    hyper.insert(
        HyperKey::WarmupRatio,
        Sourced {
            value: HyperValue::Float(ratio as f32),
            from: Provenance::derived(rule),
        },
    );
}

/// What the method's name cannot carry: rank-stabilised scaling, and the base's bits under a
/// DoRA adapter.
fn add_extras(
    found: &Findings,
    method: Option<&Method>,
    hyper: &mut std::collections::BTreeMap<HyperKey, Sourced<HyperValue>>,
) {
    if let Some(rslora) = &found.rslora {
        hyper.insert(
            HyperKey::Other("rslora".into()),
            Sourced {
                value: HyperValue::Bool(true),
                from: rslora.from.clone(),
            },
        );
    }
    if let (Some(q), Some(m)) = (&found.quant_bits, method)
        && m.tuning == Tuning::Dora
        && q.value <= 8
    {
        hyper.entry(HyperKey::QuantBits).or_insert(Sourced {
            value: HyperValue::Int(q.value),
            from: q.from.clone(),
        });
    }
}

/// Training examples: as written, or steps × effective batch ÷ epochs (packed sequences when
/// the run packed samples, and the provenance says so).
fn train_samples(
    found: &Findings,
    hyper: &std::collections::BTreeMap<HyperKey, Sourced<HyperValue>>,
    batch: Option<&Sourced<HyperValue>>,
) -> Option<Sourced<u64>> {
    if let Some(n) = &found.train_samples {
        return Some(n.clone());
    }
    let steps = found.steps.as_ref()?;
    let batch = batch?;
    let batch_size = batch.value.as_f64()?;
    let epochs = hyper
        .get(&HyperKey::Epochs)
        .and_then(|e| e.value.as_f64())
        .filter(|e| *e > 0.0);
    let per_epoch = steps.value as f64 * batch_size / epochs.unwrap_or(1.0);
    let estimate = per_epoch.round() as u64;
    let packed = found.packing.as_ref().filter(|p| p.value);
    let mut rule = format!(
        "about {estimate} = {} steps ({}) × batch {} ({}) ÷ {} epochs",
        steps.value,
        steps.from,
        batch_size,
        batch.from,
        epochs.map_or("1 (none written)".to_string(), |e| e.to_string()),
    );
    if let Some(p) = packed {
        rule.push_str(&format!(
            "; with sample packing ({}) this counts packed sequences, not examples: there were at least as many examples",
            p.from
        ));
    }
    Some(Sourced {
        value: estimate,
        from: Provenance::derived(rule),
    })
}

/// The method: tuning from the adapter (or a config's adapter kind, or a full model config)
/// and the quantisation of the base; objective as a config states it, else as the logs or the
/// card's tags suggest, supervised when nothing says otherwise.
fn method(found: &Findings) -> Option<(Method, Provenance)> {
    let quantised = found.quant_bits.as_ref().filter(|q| q.value <= 8);
    let (tuning, tuning_from) =
        if let Some(adapter) = found.adapter.as_ref().or(found.finetuning_type.as_ref()) {
            let tuning = match adapter.value.as_str() {
                "lora" | "qlora" if quantised.is_some() => Tuning::Qlora,
                "qlora" => Tuning::Qlora,
                "lora" => Tuning::Lora,
                "dora" => Tuning::Dora,
                "ia3" => Tuning::Ia3,
                "prompt-tuning" => Tuning::PromptTuning,
                "prefix-tuning" => Tuning::PrefixTuning,
                "full" => Tuning::Full,
                other => Tuning::Other(other.to_string()),
            };
            let mut from = format!("{} adapter ({})", adapter.value, adapter.from);
            if let (Tuning::Qlora | Tuning::Dora, Some(q)) = (&tuning, quantised) {
                from.push_str(&format!(" on a {}-bit base ({})", q.value, q.from));
            }
            (tuning, from)
        } else if let Some(full) = &found.full_model {
            (
                Tuning::Full,
                format!("full model saved without adapter ({})", full.from),
            )
        } else {
            return None;
        };
    let (objective, objective_from) =
        match found.objective.as_ref().or(found.objective_hint.as_ref()) {
            Some(o) => (
                o.value.clone(),
                format!("objective {} ({})", o.value.name(), o.from),
            ),
            None => (
                Objective::Sft,
                "supervised: no preference or RL stage found".to_string(),
            ),
        };
    Some((
        Method { tuning, objective },
        Provenance::derived(format!("{tuning_from}; {objective_from}")),
    ))
}
