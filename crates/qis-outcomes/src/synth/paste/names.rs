//! How qis's canonical tokens translate into the libraries' names. The enum values come from
//! the field lists under `tests/fixtures/formats/` (read from each library's source at a
//! pinned version), compiled in, so a value qis writes is one the library accepts.

use super::literal::Lit;
use super::{RecommendedParam, other};
use crate::packet::{HyperValue, Objective, Tuning};
use crate::synth::recommend::Recommendation;

/// `transformers.training_args.OptimizerNames` (TrainingArguments' `optim`, axolotl's `optimizer`).
const OPTIMIZERS: &str =
    include_str!("../../../../../tests/fixtures/formats/transformers-OptimizerNames.txt");

/// `transformers.trainer_utils.SchedulerType` (`lr_scheduler_type`, axolotl's `lr_scheduler`).
const SCHEDULERS: &str =
    include_str!("../../../../../tests/fixtures/formats/transformers-SchedulerType.txt");

/// `axolotl.utils.schemas.enums.RLType` (axolotl's `rl:`).
const AXOLOTL_RL: &str = include_str!("../../../../../tests/fixtures/formats/axolotl-RLType.txt");

/// Optimiser tokens people write that are not a transformers name once `-` becomes `_`.
const OPTIMIZER_ALIASES: &[(&str, &str)] = &[
    ("adamw", "adamw_torch"),
    ("paged-adamw", "paged_adamw_32bit"),
];

/// Target tokens meaning "every linear layer" (PEFT's `"all-linear"`, axolotl's
/// `lora_target_linear`).
const ALL_LINEAR: &[&str] = &["all", "all-linear", "linear"];

/// Names a packet may give the per-device batch size under (outside the well-known keys).
pub(super) const PER_DEVICE_BATCH: &[&str] = &["per_device_train_batch_size", "micro_batch_size"];

/// Names a packet may give gradient accumulation under.
pub(super) const ACCUMULATION: &[&str] = &["gradient_accumulation_steps"];

/// Names of a flag for rank-stabilised LoRA.
const RSLORA_FLAGS: &[&str] = &["use_rslora", "rslora"];

fn listed(list: &str, name: &str) -> bool {
    list.lines()
        .filter(|line| !line.starts_with('#'))
        .any(|line| line == name)
}

/// The transformers optimiser name for a canonical token, if there is one.
pub(super) fn optimizer(token: &str) -> Option<String> {
    let name = OPTIMIZER_ALIASES
        .iter()
        .find(|(alias, _)| *alias == token)
        .map_or_else(|| token.replace('-', "_"), |(_, name)| name.to_string());
    listed(OPTIMIZERS, &name).then_some(name)
}

/// The transformers scheduler name for a canonical token, if there is one.
pub(super) fn scheduler(token: &str) -> Option<String> {
    let name = token.replace('-', "_");
    listed(SCHEDULERS, &name).then_some(name)
}

/// Whether a target token means every linear layer.
pub(super) fn all_linear(token: &str) -> bool {
    ALL_LINEAR.contains(&token)
}

/// axolotl's `rl:` value for a preference or RL objective, if axolotl trains it.
pub(super) fn axolotl_rl(objective: &Objective) -> Option<&'static str> {
    AXOLOTL_RL
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| *line == objective.name())
}

/// Whether the recommendation is rank-stabilised LoRA (`sft+rslora`, or a `use_rslora` flag).
pub(super) fn rslora(rec: &Recommendation) -> bool {
    matches!(&rec.method.tuning, Tuning::Other(name) if name == "rslora")
        || other(rec, RSLORA_FLAGS).is_some_and(|p| p.value == HyperValue::Bool(true))
}

/// A text hyperparameter's value translated by `translate`: the setting, or a comment saying
/// what the evidence said that the library has no name for.
pub(super) fn translated(
    p: &RecommendedParam,
    field: &str,
    translate: impl Fn(&str) -> Option<String>,
) -> Result<Lit, String> {
    let text = p.value.to_string();
    translate(&text).map(Lit::Text).ok_or_else(|| {
        format!("{field}: the evidence says {text:?}, which the library has no name for: set it yourself")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_translate_to_library_names() {
        assert_eq!(optimizer("adamw").as_deref(), Some("adamw_torch"));
        assert_eq!(
            optimizer("paged-adamw-8bit").as_deref(),
            Some("paged_adamw_8bit")
        );
        assert_eq!(optimizer("magic"), None);
        assert_eq!(scheduler("cosine").as_deref(), Some("cosine"));
        assert_eq!(
            scheduler("constant-with-warmup").as_deref(),
            Some("constant_with_warmup")
        );
        assert_eq!(scheduler("sawtooth"), None);
        assert_eq!(axolotl_rl(&Objective::Dpo), Some("dpo"));
        assert_eq!(axolotl_rl(&Objective::Ppo), None);
        assert_eq!(axolotl_rl(&Objective::Sft), None);
        for (_, name) in OPTIMIZER_ALIASES {
            assert!(
                listed(OPTIMIZERS, name),
                "{name} is no transformers optimiser"
            );
        }
    }
}
