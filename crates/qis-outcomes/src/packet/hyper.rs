//! Key hyperparameters. Well-known names are a one-byte enum, values are typed (integer, float,
//! boolean, text); anything else is a named [`HyperKey::Other`]. Floats travel as `f32`: seven
//! significant digits are more than any reported learning rate or ratio carries.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A hyperparameter name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HyperKey {
    /// LoRA rank `r` (integer ≥ 1).
    LoraRank,
    /// LoRA scaling `lora_alpha` (number > 0).
    LoraAlpha,
    /// LoRA dropout (number in `[0, 1)`).
    LoraDropout,
    /// Peak learning rate (number > 0; synthesised in log space).
    LearningRate,
    /// Training epochs (number > 0).
    Epochs,
    /// Effective batch size: per device × gradient accumulation × devices (integer ≥ 1).
    BatchSize,
    /// Learning-rate schedule (`cosine`, `linear`, …).
    Scheduler,
    /// Warm-up as a fraction of training (number in `[0, 1]`).
    WarmupRatio,
    /// Weight decay (number ≥ 0).
    WeightDecay,
    /// Maximum sequence length in tokens (integer ≥ 1).
    MaxSeqLen,
    /// Preference-loss β (DPO, ORPO, SimPO; number > 0).
    PrefBeta,
    /// Optimiser (`adamw`, `paged-adamw-8bit`, …).
    Optimizer,
    /// Quantisation of the frozen base in bits (integer: 4 or 8).
    QuantBits,
    /// Which modules the adapter targets (`all`, `attention`, …).
    LoraTargets,
    /// Any other name (canonical token).
    Other(String),
}

/// What kind of value a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HyperKind {
    /// An integer.
    Integer,
    /// Any finite number (integers are stored as floats).
    Number,
    /// A canonical text token.
    Text,
    /// Any value type.
    Any,
}

const KNOWN: &[(&str, HyperKey)] = &[
    ("lora_rank", HyperKey::LoraRank),
    ("lora_alpha", HyperKey::LoraAlpha),
    ("lora_dropout", HyperKey::LoraDropout),
    ("learning_rate", HyperKey::LearningRate),
    ("epochs", HyperKey::Epochs),
    ("batch_size", HyperKey::BatchSize),
    ("scheduler", HyperKey::Scheduler),
    ("warmup_ratio", HyperKey::WarmupRatio),
    ("weight_decay", HyperKey::WeightDecay),
    ("max_seq_len", HyperKey::MaxSeqLen),
    ("pref_beta", HyperKey::PrefBeta),
    ("optimizer", HyperKey::Optimizer),
    ("quant_bits", HyperKey::QuantBits),
    ("lora_targets", HyperKey::LoraTargets),
];

/// Other spellings of the well-known names (as HF, PEFT and LLaMA-Factory write them).
const ALIASES: &[(&str, HyperKey)] = &[
    ("r", HyperKey::LoraRank),
    ("rank", HyperKey::LoraRank),
    ("lr", HyperKey::LearningRate),
    ("num_train_epochs", HyperKey::Epochs),
    ("num_epochs", HyperKey::Epochs),
    ("total_train_batch_size", HyperKey::BatchSize),
    ("effective_batch_size", HyperKey::BatchSize),
    ("lr_scheduler_type", HyperKey::Scheduler),
    ("lr_scheduler", HyperKey::Scheduler),
    ("beta", HyperKey::PrefBeta),
    ("dpo_beta", HyperKey::PrefBeta),
    ("optim", HyperKey::Optimizer),
    ("quantization_bit", HyperKey::QuantBits),
    ("lora_target", HyperKey::LoraTargets),
    ("target_modules", HyperKey::LoraTargets),
    ("cutoff_len", HyperKey::MaxSeqLen),
    ("max_seq_length", HyperKey::MaxSeqLen),
];

impl HyperKey {
    /// Every well-known key, in encoding order.
    pub fn known() -> impl Iterator<Item = &'static HyperKey> {
        KNOWN.iter().map(|(_, k)| k)
    }

    /// The canonical name (`learning_rate`, …, or the `Other` name).
    pub fn name(&self) -> &str {
        match self {
            HyperKey::Other(name) => name,
            known => KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(n, _)| n),
        }
    }

    /// Parses a name: well-known names and their aliases (case-insensitive, `-` and `_` alike);
    /// anything else becomes `Other` with the name lower-cased and `-` written as `_`.
    pub fn parse(text: &str) -> HyperKey {
        let name = text.trim().to_lowercase().replace(['-', ' '], "_");
        KNOWN
            .iter()
            .chain(ALIASES)
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k.clone())
            .unwrap_or(HyperKey::Other(name))
    }

    /// The value type this key takes.
    pub fn kind(&self) -> HyperKind {
        match self {
            HyperKey::LoraRank
            | HyperKey::BatchSize
            | HyperKey::MaxSeqLen
            | HyperKey::QuantBits => HyperKind::Integer,
            HyperKey::LoraAlpha
            | HyperKey::LoraDropout
            | HyperKey::LearningRate
            | HyperKey::Epochs
            | HyperKey::WarmupRatio
            | HyperKey::WeightDecay
            | HyperKey::PrefBeta => HyperKind::Number,
            HyperKey::Scheduler | HyperKey::Optimizer | HyperKey::LoraTargets => HyperKind::Text,
            HyperKey::Other(_) => HyperKind::Any,
        }
    }

    /// Whether synthesis should combine values of this key on a log scale: learning rates span
    /// orders of magnitude, and "between 1e-5 and 1e-3" means 1e-4, not 5e-4.
    pub fn log_scale(&self) -> bool {
        matches!(self, HyperKey::LearningRate)
    }
}

impl fmt::Display for HyperKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A hyperparameter value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HyperValue {
    /// An integer (postcard writes it as a zig-zag varint: one byte for small values).
    Int(i64),
    /// A number.
    Float(f32),
    /// A flag.
    Bool(bool),
    /// A short canonical text token.
    Text(String),
}

impl HyperValue {
    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            HyperValue::Int(i) => Some(*i as f64),
            HyperValue::Float(x) => Some(f64::from(*x)),
            _ => None,
        }
    }

    /// Parses text as written in a packet file or on the command line: `true`/`false`, an
    /// integer, a number, or else text (quotes around text are removed).
    pub fn parse(text: &str) -> HyperValue {
        let text = text.trim();
        match text {
            "true" => return HyperValue::Bool(true),
            "false" => return HyperValue::Bool(false),
            _ => {}
        }
        if let Ok(i) = text.parse::<i64>() {
            return HyperValue::Int(i);
        }
        if let Ok(x) = text.parse::<f64>() {
            return HyperValue::Float(x as f32);
        }
        HyperValue::Text(text.trim_matches('"').to_string())
    }
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HyperValue::Int(i) => write!(f, "{i}"),
            HyperValue::Float(x) => write!(f, "{}", format_number(f64::from(*x))),
            HyperValue::Bool(b) => write!(f, "{b}"),
            HyperValue::Text(s) => f.write_str(s),
        }
    }
}

/// Formats a number the way people write hyperparameters: `2e-4` rather than
/// `0.00019999999494757503`, `0.05`, `3`. Seven significant digits (what `f32` carries),
/// trailing zeros dropped.
pub fn format_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs();
    if !(1e-3..1e6).contains(&magnitude) {
        let text = format!("{x:.6e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (6 - magnitude.log10().floor() as i32).clamp(0, 9) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!(HyperKey::parse("learning_rate"), HyperKey::LearningRate);
        assert_eq!(HyperKey::parse("LR"), HyperKey::LearningRate);
        assert_eq!(HyperKey::parse("lora-alpha"), HyperKey::LoraAlpha);
        assert_eq!(HyperKey::parse("r"), HyperKey::LoraRank);
        assert_eq!(
            HyperKey::parse("Gradient Clip"),
            HyperKey::Other("gradient_clip".into())
        );
        for key in HyperKey::known() {
            assert_eq!(&HyperKey::parse(key.name()), key);
        }
    }

    #[test]
    fn values_parse_by_type() {
        assert_eq!(HyperValue::parse("16"), HyperValue::Int(16));
        assert_eq!(HyperValue::parse("2e-4"), HyperValue::Float(2e-4));
        assert_eq!(HyperValue::parse("true"), HyperValue::Bool(true));
        assert_eq!(
            HyperValue::parse("\"cosine\""),
            HyperValue::Text("cosine".into())
        );
    }

    #[test]
    fn numbers_format_like_people_write_them() {
        assert_eq!(format_number(f64::from(2e-4f32)), "2e-4");
        assert_eq!(format_number(f64::from(5e-6f32)), "5e-6");
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(f64::from(0.1f32)), "0.1");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.5931), "0.5931");
        assert_eq!(format_number(-0.077), "-0.077");
    }
}
