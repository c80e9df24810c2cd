//! The fine-tuning method, as two small enums: *which weights* were trained ([`Tuning`]: full,
//! LoRA, QLoRA, DoRA, …) and *towards what* ([`Objective`]: supervised, DPO, ORPO, …). A DPO run
//! with a LoRA adapter on a 4-bit base is `dpo+qlora`, which one flat list could not say. Each
//! well-known value encodes in one byte; anything else is a named `Other`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which weights were trained, and how they were stored during training.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tuning {
    /// All weights (a full fine-tune).
    Full,
    /// A LoRA adapter on a full-precision base.
    Lora,
    /// A LoRA adapter on a quantised (4- or 8-bit) base.
    Qlora,
    /// A weight-decomposed LoRA (DoRA) adapter.
    Dora,
    /// An (IA)³ adapter.
    Ia3,
    /// Soft prompt tuning.
    PromptTuning,
    /// Prefix tuning.
    PrefixTuning,
    /// Anything else, by canonical name.
    Other(String),
}

/// What the training optimised.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Objective {
    /// Supervised fine-tuning (next-token loss on demonstrations).
    Sft,
    /// Direct preference optimisation.
    Dpo,
    /// Odds-ratio preference optimisation.
    Orpo,
    /// Kahneman-Tversky optimisation.
    Kto,
    /// Simple preference optimisation.
    Simpo,
    /// Proximal policy optimisation (RLHF).
    Ppo,
    /// Group relative policy optimisation.
    Grpo,
    /// Anything else, by canonical name.
    Other(String),
}

/// A fine-tuning method: what was trained and towards what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Method {
    /// Which weights were trained.
    pub tuning: Tuning,
    /// What the training optimised.
    pub objective: Objective,
}

const TUNINGS: &[(&str, Tuning)] = &[
    ("full", Tuning::Full),
    ("lora", Tuning::Lora),
    ("qlora", Tuning::Qlora),
    ("dora", Tuning::Dora),
    ("ia3", Tuning::Ia3),
    ("prompt-tuning", Tuning::PromptTuning),
    ("prefix-tuning", Tuning::PrefixTuning),
];

const OBJECTIVES: &[(&str, Objective)] = &[
    ("sft", Objective::Sft),
    ("dpo", Objective::Dpo),
    ("orpo", Objective::Orpo),
    ("kto", Objective::Kto),
    ("simpo", Objective::Simpo),
    ("ppo", Objective::Ppo),
    ("grpo", Objective::Grpo),
];

/// Spellings people use for a full fine-tune.
const FULL_ALIASES: &[&str] = &["full", "full-finetune", "full-fine-tune", "fft", "full-ft"];

impl Tuning {
    /// The canonical name (`full`, `lora`, `qlora`, …, or the `Other` name).
    pub fn name(&self) -> &str {
        match self {
            Tuning::Other(name) => name,
            known => TUNINGS
                .iter()
                .find(|(_, t)| t == known)
                .map_or("", |(n, _)| n),
        }
    }

    fn parse_known(word: &str) -> Option<Tuning> {
        if FULL_ALIASES.contains(&word) {
            return Some(Tuning::Full);
        }
        TUNINGS
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, t)| t.clone())
    }
}

impl Objective {
    /// The canonical name (`sft`, `dpo`, …, or the `Other` name).
    pub fn name(&self) -> &str {
        match self {
            Objective::Other(name) => name,
            known => OBJECTIVES
                .iter()
                .find(|(_, o)| o == known)
                .map_or("", |(n, _)| n),
        }
    }

    fn parse_known(word: &str) -> Option<Objective> {
        OBJECTIVES
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, o)| o.clone())
    }
}

impl Method {
    /// Parses a method a person wrote (a flag, a packet file): like [`Method::parse`], but a
    /// single unknown word is refused with the known names instead of read as a new tuning,
    /// so a typo never becomes a method nobody else uses. A method outside the known ones is
    /// written out as `objective+tuning` (`sft+magic-sauce`).
    pub fn parse_stated(text: &str) -> Result<Method, String> {
        let unknown = || {
            let tunings: Vec<&str> = TUNINGS.iter().map(|(n, _)| *n).collect();
            let objectives: Vec<&str> = OBJECTIVES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown method {text:?}: tunings are {}; objectives are {}; combine them as objective+tuning (dpo+qlora), and write a method outside these as objective+tuning too (sft+my-method)",
                tunings.join(", "),
                objectives.join(", ")
            )
        };
        let method = Method::parse(text).ok_or_else(unknown)?;
        let has_other = matches!(method.tuning, Tuning::Other(_))
            || matches!(method.objective, Objective::Other(_));
        if has_other && !text.contains('+') {
            return Err(unknown());
        }
        Ok(method)
    }

    /// A supervised run with `tuning`.
    pub fn sft(tuning: Tuning) -> Method {
        Method {
            tuning,
            objective: Objective::Sft,
        }
    }

    /// Parses the forms [`Display`](fmt::Display) writes: a tuning alone (`qlora`, meaning
    /// supervised), an objective alone (`dpo`, meaning a full fine-tune), or `objective+tuning`
    /// (`dpo+qlora`). Case and surrounding space are ignored; `_` and spaces count as `-`.
    /// Unknown words become `Other` names; `None` only for empty parts.
    pub fn parse(text: &str) -> Option<Method> {
        let text = super::canon::canonical_token(text);
        if text.is_empty() {
            return None;
        }
        match text.split_once('+') {
            Some((objective, tuning)) => {
                let (objective, tuning) = (objective.trim_matches('-'), tuning.trim_matches('-'));
                if objective.is_empty() || tuning.is_empty() {
                    return None;
                }
                let objective = Objective::parse_known(objective)
                    .unwrap_or_else(|| Objective::Other(objective.into()));
                let tuning =
                    Tuning::parse_known(tuning).unwrap_or_else(|| Tuning::Other(tuning.into()));
                Some(Method { tuning, objective })
            }
            None => {
                if let Some(tuning) = Tuning::parse_known(&text) {
                    Some(Method::sft(tuning))
                } else if let Some(objective) = Objective::parse_known(&text) {
                    Some(Method {
                        tuning: Tuning::Full,
                        objective,
                    })
                } else {
                    Some(Method::sft(Tuning::Other(text)))
                }
            }
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The shortest form that parses back to the same value.
        let objective_is_other = matches!(self.objective, Objective::Other(_));
        let tuning_is_other = matches!(self.tuning, Tuning::Other(_));
        match (&self.objective, &self.tuning) {
            (Objective::Sft, _) if !tuning_is_other => f.write_str(self.tuning.name()),
            (_, Tuning::Full) if !objective_is_other => f.write_str(self.objective.name()),
            _ => write!(f, "{}+{}", self.objective.name(), self.tuning.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back() {
        let methods = [
            Method::sft(Tuning::Qlora),
            Method::sft(Tuning::Full),
            Method {
                tuning: Tuning::Qlora,
                objective: Objective::Dpo,
            },
            Method {
                tuning: Tuning::Full,
                objective: Objective::Orpo,
            },
            Method::sft(Tuning::Other("loha".into())),
            Method {
                tuning: Tuning::Full,
                objective: Objective::Other("rloo".into()),
            },
            Method {
                tuning: Tuning::Other("vera".into()),
                objective: Objective::Other("rloo".into()),
            },
        ];
        for method in methods {
            assert_eq!(
                Method::parse(&method.to_string()),
                Some(method.clone()),
                "{method}"
            );
        }
    }

    #[test]
    fn common_spellings_parse() {
        assert_eq!(Method::parse("QLoRA"), Some(Method::sft(Tuning::Qlora)));
        assert_eq!(
            Method::parse("full fine-tune"),
            Some(Method::sft(Tuning::Full))
        );
        assert_eq!(
            Method::parse("full_finetune"),
            Some(Method::sft(Tuning::Full))
        );
        assert_eq!(
            Method::parse("DPO"),
            Some(Method {
                tuning: Tuning::Full,
                objective: Objective::Dpo
            })
        );
        assert_eq!(
            Method::parse("dpo+qlora").map(|m| m.to_string()),
            Some("dpo+qlora".into())
        );
        assert_eq!(Method::parse(""), None);
        assert_eq!(Method::parse("+lora"), None);
    }
}
