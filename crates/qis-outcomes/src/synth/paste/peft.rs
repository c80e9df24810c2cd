//! `--format peft`: `peft.LoraConfig(...)` keyword arguments.

use super::literal::{Item, Lit, python_kwargs};
use super::{PasteError, PasteFormat, names, note, numbers, param, require_stated, unstated};
use crate::packet::{HyperKey, HyperValue, Tuning};
use crate::synth::recommend::Recommendation;

/// The task type every fragment names: the families qis describes are decoder-only models.
const TASK_TYPE: &str = "CAUSAL_LM";

/// The LoRA hyperparameters LoraConfig takes: qis key, PEFT field, whether PEFT types it `int`.
const FIELDS: &[(HyperKey, &str, bool)] = &[
    (HyperKey::LoraRank, "r", true),
    (HyperKey::LoraAlpha, "lora_alpha", true),
    (HyperKey::LoraDropout, "lora_dropout", false),
];

/// Bits the frozen base of a QLoRA run is loaded in: what the evidence stated, else 4.
pub(super) fn quant_bits(rec: &Recommendation) -> i64 {
    match param(rec, &HyperKey::QuantBits).map(|p| &p.value) {
        Some(HyperValue::Int(bits)) => *bits,
        _ => 4,
    }
}

pub(super) fn render(rec: &Recommendation) -> Result<String, PasteError> {
    let tuning = &rec.method.tuning;
    let rslora = names::rslora(rec);
    if !matches!(tuning, Tuning::Lora | Tuning::Qlora | Tuning::Dora) && !rslora {
        return Err(PasteError::NotApplicable {
            format: PasteFormat::Peft.name(),
            method: rec.method.to_string(),
            reason: "trains no LoRA adapter, so LoraConfig does not apply".into(),
        });
    }
    let mut items = Vec::new();
    let mut missing = Vec::new();
    let mut stated = numbers(rec, FIELDS, &mut items, &mut missing);
    let mut unstated_items: Vec<Item> = missing.iter().map(|field| unstated(field)).collect();
    match param(rec, &HyperKey::LoraTargets) {
        Some(p) if names::all_linear(&p.value.to_string()) => {
            items.push(Item::set(
                "target_modules",
                Lit::Text("all-linear".into()),
                Some(format!("the evidence says {}; {}", p.value, note(p))),
            ));
            stated += 1;
        }
        Some(p) => unstated_items.push(Item::Comment(format!(
            "target_modules: the evidence says {:?}, which names no module of your model: list them yourself",
            p.value.to_string()
        ))),
        None => unstated_items.push(unstated("target_modules")),
    }
    if *tuning == Tuning::Dora {
        items.push(Item::set(
            "use_dora",
            Lit::Bool(true),
            Some("the method is dora".into()),
        ));
    }
    if rslora {
        items.push(Item::set(
            "use_rslora",
            Lit::Bool(true),
            Some("the evidence used rank-stabilised LoRA".into()),
        ));
    }
    items.push(Item::set(
        "task_type",
        Lit::Text(TASK_TYPE.into()),
        Some("qis describes decoder-only (causal) models".into()),
    ));
    items.extend(unstated_items);
    require_stated(PasteFormat::Peft, rec, stated)?;
    let mut out = String::from("from peft import LoraConfig\n\n");
    if *tuning == Tuning::Qlora {
        let bits = quant_bits(rec);
        out.push_str(&format!(
            "# qlora: LoraConfig has no quantisation field; load the base in {bits} bits, e.g. with\n# transformers.BitsAndBytesConfig(load_in_{bits}bit=True) as the model's quantization_config\n"
        ));
    }
    out.push_str("lora_config = LoraConfig(\n");
    out.push_str(&python_kwargs(&items));
    out.push_str(")\n");
    Ok(out)
}
