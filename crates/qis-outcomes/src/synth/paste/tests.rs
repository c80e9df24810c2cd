//! The renderers on hand-built recommendations: which fields appear, which are left out with
//! a comment, numbers Python and YAML read back, and the refusals.

use super::*;
use crate::packet::{HyperValue, Method};
use crate::synth::recommend::{MethodSummary, Spread};

/// A parameter with a spread.
pub(crate) fn numeric(key: HyperKey, value: HyperValue, low: f64, high: f64) -> RecommendedParam {
    RecommendedParam {
        key,
        value,
        support: 0.75,
        stated_by: 3,
        spread: Spread::Range { low, high },
    }
}

/// A text parameter with its choices.
pub(crate) fn text(key: HyperKey, value: &str, others: &[&str]) -> RecommendedParam {
    let mut choices = vec![HyperValue::Text(value.into())];
    choices.extend(others.iter().map(|o| HyperValue::Text((*o).into())));
    RecommendedParam {
        key,
        value: HyperValue::Text(value.into()),
        support: 1.0,
        stated_by: 2,
        spread: Spread::Choices(choices),
    }
}

/// A recommendation of `method` with `params`, three packets from two publishers.
pub(crate) fn rec(method: &str, params: Vec<RecommendedParam>) -> Recommendation {
    let method = Method::parse(method).expect("a method");
    Recommendation {
        methods: vec![MethodSummary {
            method: method.clone(),
            expected_gain: 0.05,
            packets: 3,
            weight_share: 1.0,
            established_share: 0.5,
            score: 0.04,
        }],
        method,
        expected_gain: 0.05,
        gain_range: (0.02, 0.08),
        evidence_count: 3,
        agreement: 1.0,
        hyperparams: params,
        contributors: Vec::new(),
        publishers: 2,
        settings: Vec::new(),
        established_share: 0.5,
        levels: Vec::new(),
        weighed: Vec::new(),
    }
}

pub(crate) fn trace() -> Trace {
    Trace {
        id: "ab".repeat(32),
        saved: true,
        family: Some("llama-3-8b".into()),
        task: "medical-qa".into(),
        tags: vec!["english".into()],
    }
}

/// The usual LoRA evidence: rank, alpha, learning rate, epochs, scheduler, effective batch.
pub(crate) fn lora_params() -> Vec<RecommendedParam> {
    vec![
        numeric(HyperKey::LoraRank, HyperValue::Int(16), 8.0, 32.0),
        numeric(HyperKey::LoraAlpha, HyperValue::Float(32.0), 32.0, 32.0),
        numeric(HyperKey::LearningRate, HyperValue::Float(2e-4), 1e-4, 3e-4),
        numeric(HyperKey::Epochs, HyperValue::Float(3.0), 3.0, 3.0),
        numeric(HyperKey::BatchSize, HyperValue::Int(16), 16.0, 16.0),
        text(HyperKey::Scheduler, "cosine", &["linear"]),
    ]
}

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn every_fragment_starts_with_its_trace() {
    let r = rec("qlora", lora_params());
    for format in [
        PasteFormat::Peft,
        PasteFormat::Axolotl,
        PasteFormat::Trl,
        PasteFormat::Optuna,
    ] {
        let out = paste(format, &r, &trace()).unwrap();
        let first = out.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("# qis recommendation {}", "ab".repeat(32))),
            "{first}"
        );
        assert!(
            first.contains(" for family llama-3-8b, task medical-qa, tags english: qlora,"),
            "{first}"
        );
        assert!(first.contains("3 packets from 2 publishers"), "{first}");
        assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
    }
    let mut unsaved = trace();
    unsaved.saved = false;
    let out = paste(PasteFormat::Peft, &r, &unsaved).unwrap();
    assert!(out.lines().next().unwrap().contains("(not saved)"));
}

#[test]
fn peft_writes_stated_fields_and_names_the_missing_ones() {
    let out = paste(PasteFormat::Peft, &rec("qlora", lora_params()), &trace()).unwrap();
    assert_eq!(lines_with(&out, "    r=16,").len(), 1, "{out}");
    assert_eq!(lines_with(&out, "    lora_alpha=32,").len(), 1, "{out}");
    assert_eq!(
        lines_with(&out, "    task_type=\"CAUSAL_LM\",").len(),
        1,
        "{out}"
    );
    assert!(lines_with(&out, "lora_dropout=").is_empty(), "{out}");
    assert_eq!(
        lines_with(&out, "# lora_dropout: none of the evidence stated it").len(),
        1
    );
    assert_eq!(
        lines_with(&out, "# target_modules: none of the evidence stated it").len(),
        1
    );
    // Training settings are not LoraConfig's.
    assert!(lines_with(&out, "learning_rate").is_empty(), "{out}");
    assert!(lines_with(&out, "use_dora").is_empty());
    assert_eq!(lines_with(&out, "load in 4 bits").len(), 0);
    assert_eq!(
        lines_with(&out, "load the base in 4 bits").len(),
        1,
        "{out}"
    );
}

#[test]
fn peft_follows_the_method() {
    let mut params = lora_params();
    params.push(text(HyperKey::LoraTargets, "all", &[]));
    let out = paste(PasteFormat::Peft, &rec("dora", params.clone()), &trace()).unwrap();
    assert_eq!(lines_with(&out, "    use_dora=True,").len(), 1, "{out}");
    assert_eq!(
        lines_with(&out, "    target_modules=\"all-linear\",").len(),
        1,
        "{out}"
    );
    assert!(lines_with(&out, "BitsAndBytes").is_empty());
    let out = paste(
        PasteFormat::Peft,
        &rec("sft+rslora", params.clone()),
        &trace(),
    )
    .unwrap();
    assert_eq!(lines_with(&out, "    use_rslora=True,").len(), 1, "{out}");
    for method in ["full", "ia3", "prompt-tuning"] {
        let err = paste(PasteFormat::Peft, &rec(method, params.clone()), &trace()).unwrap_err();
        assert!(
            matches!(err, PasteError::NotApplicable { .. }),
            "{method}: {err}"
        );
        assert!(
            err.to_string().contains("LoraConfig does not apply"),
            "{err}"
        );
    }
    // Targets qis cannot map to module names are said, not guessed.
    let mut named = lora_params();
    named.push(text(HyperKey::LoraTargets, "attention", &[]));
    let out = paste(PasteFormat::Peft, &rec("lora", named), &trace()).unwrap();
    assert!(lines_with(&out, "target_modules=").is_empty(), "{out}");
    assert_eq!(
        lines_with(&out, "\"attention\", which names no module").len(),
        1,
        "{out}"
    );
}

#[test]
fn axolotl_yaml_types_survive_a_yaml_1_1_reader() {
    let mut params = lora_params();
    params.push(numeric(
        HyperKey::PrefBeta,
        HyperValue::Float(0.1),
        0.1,
        0.1,
    ));
    params.push(numeric(
        HyperKey::LoraDropout,
        HyperValue::Float(0.05),
        0.05,
        0.05,
    ));
    let out = paste(PasteFormat::Axolotl, &rec("dpo+qlora", params), &trace()).unwrap();
    for line in [
        "adapter: \"qlora\"",
        "load_in_4bit: true",
        "lora_r: 16",
        "lora_alpha: 32",
        "lora_dropout: 0.05",
        "learning_rate: 2.0e-4",
        "num_epochs: 3.0",
        "rl: \"dpo\"",
        "rl_beta: 0.1",
        "lr_scheduler: \"cosine\"",
    ] {
        assert_eq!(lines_with(&out, line).len(), 1, "{line} in\n{out}");
    }
    assert!(lines_with(&out, "micro_batch_size:").is_empty(), "{out}");
    assert_eq!(
        lines_with(&out, "# effective batch size 16").len(),
        1,
        "{out}"
    );
    assert_eq!(lines_with(&out, "none of the evidence stated lora_target_modules, warmup_ratio, weight_decay, sequence_len").len(), 1, "{out}");
}

#[test]
fn axolotl_and_trl_take_the_per_device_split_when_stated() {
    let mut params = lora_params();
    params.push(numeric(
        HyperKey::Other("per_device_train_batch_size".into()),
        HyperValue::Int(4),
        4.0,
        4.0,
    ));
    params.push(numeric(
        HyperKey::Other("gradient_accumulation_steps".into()),
        HyperValue::Int(4),
        4.0,
        4.0,
    ));
    let out = paste(PasteFormat::Axolotl, &rec("lora", params.clone()), &trace()).unwrap();
    assert_eq!(lines_with(&out, "micro_batch_size: 4").len(), 1, "{out}");
    assert_eq!(
        lines_with(&out, "gradient_accumulation_steps: 4").len(),
        1,
        "{out}"
    );
    assert!(lines_with(&out, "effective batch size").is_empty(), "{out}");
    assert!(lines_with(&out, "load_in_").is_empty(), "{out}");
    let out = paste(PasteFormat::Trl, &rec("lora", params), &trace()).unwrap();
    assert_eq!(
        lines_with(&out, "    per_device_train_batch_size=4,").len(),
        1,
        "{out}"
    );
}

#[test]
fn axolotl_refuses_what_it_cannot_train() {
    let err = paste(
        PasteFormat::Axolotl,
        &rec("ppo+lora", lora_params()),
        &trace(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("rl: does not offer"), "{err}");
    let err = paste(PasteFormat::Axolotl, &rec("ia3", lora_params()), &trace()).unwrap_err();
    assert!(err.to_string().contains("no built-in adapter"), "{err}");
    let out = paste(PasteFormat::Axolotl, &rec("full", lora_params()), &trace()).unwrap();
    assert!(
        lines_with(&out, "adapter:").is_empty() && lines_with(&out, "lora_r").is_empty(),
        "{out}"
    );
}

#[test]
fn trl_picks_the_config_of_the_objective() {
    let mut params = lora_params();
    params.push(numeric(
        HyperKey::PrefBeta,
        HyperValue::Float(0.1),
        0.05,
        0.2,
    ));
    params.push(numeric(
        HyperKey::WarmupRatio,
        HyperValue::Float(0.03),
        0.03,
        0.03,
    ));
    params.push(numeric(
        HyperKey::MaxSeqLen,
        HyperValue::Int(2048),
        2048.0,
        2048.0,
    ));
    params.push(text(HyperKey::Optimizer, "paged-adamw-8bit", &[]));
    let cases = [
        ("qlora", "from trl import SFTConfig"),
        ("dpo+qlora", "from trl import DPOConfig"),
        ("kto+lora", "from trl import KTOConfig"),
        ("grpo+lora", "from trl import GRPOConfig"),
        ("orpo+lora", "from trl.experimental.orpo import ORPOConfig"),
        ("simpo+lora", "from trl.experimental.cpo import CPOConfig"),
    ];
    for (method, import) in cases {
        let out = paste(PasteFormat::Trl, &rec(method, params.clone()), &trace()).unwrap();
        assert_eq!(lines_with(&out, import).len(), 1, "{method}: {out}");
        assert_eq!(
            lines_with(&out, "    learning_rate=2e-4,").len(),
            1,
            "{out}"
        );
        assert_eq!(lines_with(&out, "    warmup_steps=0.03,").len(), 1, "{out}");
        assert_eq!(
            lines_with(&out, "    optim=\"paged_adamw_8bit\",").len(),
            1,
            "{out}"
        );
        assert_eq!(
            lines_with(&out, "    lr_scheduler_type=\"cosine\",").len(),
            1,
            "{out}"
        );
        assert!(lines_with(&out, "warmup_ratio").is_empty(), "{out}");
        let beta = lines_with(&out, "    beta=0.1,").len();
        assert_eq!(beta, usize::from(method != "qlora"), "{method}: {out}");
        let max_length = lines_with(&out, "    max_length=2048,").len();
        assert_eq!(
            max_length,
            usize::from(method != "grpo+lora"),
            "{method}: {out}"
        );
    }
    let out = paste(
        PasteFormat::Trl,
        &rec("simpo+lora", params.clone()),
        &trace(),
    )
    .unwrap();
    assert_eq!(
        lines_with(&out, "    loss_type=\"simpo\",").len(),
        1,
        "{out}"
    );
    let err = paste(PasteFormat::Trl, &rec("ppo+lora", params), &trace()).unwrap_err();
    assert!(matches!(err, PasteError::NotApplicable { .. }), "{err}");
}

#[test]
fn optuna_bounds_come_from_the_spread_and_widen_a_single_value() {
    let mut params = lora_params();
    params.push(numeric(
        HyperKey::LoraDropout,
        HyperValue::Float(0.0),
        0.0,
        0.0,
    ));
    params.push(numeric(
        HyperKey::Other("seed".into()),
        HyperValue::Int(7),
        7.0,
        7.0,
    ));
    let out = paste(PasteFormat::Optuna, &rec("qlora", params), &trace()).unwrap();
    // The spread 1e-4..3e-4 widened to 2e-4 /3 .. x3, rounded outwards.
    assert_eq!(
        lines_with(
            &out,
            "trial.suggest_float(\"learning_rate\", 6.6e-5, 6e-4, log=True)"
        )
        .len(),
        1,
        "{out}"
    );
    // The spread 8..32 is wider than /2..x2 and kept.
    assert_eq!(
        lines_with(&out, "trial.suggest_int(\"lora_rank\", 8, 32, log=True)").len(),
        1,
        "{out}"
    );
    // One value: widened.
    assert_eq!(
        lines_with(&out, "trial.suggest_int(\"epochs\", 1, 6)").len(),
        1,
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "trial.suggest_int(\"lora_alpha\", 16, 64, log=True)").len(),
        1,
        "{out}"
    );
    // Zero: searched up to a small ratio, not in log space.
    assert_eq!(
        lines_with(&out, "trial.suggest_float(\"lora_dropout\", 0, 0.1)").len(),
        1,
        "{out}"
    );
    assert_eq!(
        lines_with(
            &out,
            "trial.suggest_categorical(\"scheduler\", [\"cosine\", \"linear\"])"
        )
        .len(),
        1,
        "{out}"
    );
    assert_eq!(
        lines_with(&out, "# Not searched (qis knows no range for them): seed=7").len(),
        1,
        "{out}"
    );
    let enqueue = lines_with(&out, "study.enqueue_trial(");
    assert_eq!(enqueue.len(), 1);
    for pair in [
        "\"learning_rate\": 2e-4",
        "\"lora_rank\": 16",
        "\"epochs\": 3",
        "\"scheduler\": \"cosine\"",
        "\"lora_dropout\": 0",
    ] {
        assert!(enqueue[0].contains(pair), "{pair} in {}", enqueue[0]);
    }
    assert!(!enqueue[0].contains("seed"));
}

#[test]
fn nothing_to_paste_is_an_error_not_an_empty_config() {
    let mut losing = rec("qlora", lora_params());
    losing.expected_gain = -0.02;
    losing.methods[0].expected_gain = -0.02;
    for format in [
        PasteFormat::Peft,
        PasteFormat::Axolotl,
        PasteFormat::Trl,
        PasteFormat::Optuna,
    ] {
        let err = paste(format, &losing, &trace()).unwrap_err();
        assert!(matches!(err, PasteError::OnlyLosses { .. }), "{err}");
        assert!(err.to_string().contains("no configuration worth pasting"));
    }
    let bare = rec(
        "qlora",
        vec![numeric(
            HyperKey::Other("seed".into()),
            HyperValue::Int(7),
            7.0,
            7.0,
        )],
    );
    for format in [
        PasteFormat::Peft,
        PasteFormat::Axolotl,
        PasteFormat::Trl,
        PasteFormat::Optuna,
    ] {
        let err = paste(format, &bare, &trace()).unwrap_err();
        assert_eq!(
            err,
            PasteError::NothingStated {
                format: format.name(),
                stated: "seed".into()
            },
            "{format:?}"
        );
    }
}
