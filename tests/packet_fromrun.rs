//! `from-run` on every fixture under tests/fixtures/runs (the project's copy of
//! ../shared/fixtures, so a clone anywhere can run it): each yields exactly the findings its
//! README lists, with provenance, or the errors it must give.

use qis_outcomes::*;
use qis_outcomes::{
    FromRunError, Overrides, Provenance, RunDraft, RunProblem, ScoreSource, from_run,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(name)
}

fn with_task(task: &str) -> Overrides {
    Overrides {
        task: Some(task.into()),
        ..Overrides::default()
    }
}

fn from(run: &RunDraft, field: &str) -> String {
    run.provenance
        .get(field)
        .map(|p| p.to_string())
        .unwrap_or_else(|| panic!("no provenance for {field}"))
}

fn hyper(body: &OutcomeBody, key: HyperKey) -> Option<f64> {
    body.hyperparam(&key).and_then(HyperValue::as_f64)
}

fn problems(err: &FromRunError) -> Vec<String> {
    err.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn qlora_llama3_medqa() {
    let run = from_run(&fixture("qlora-llama3-medqa"), &with_task("medical-qa"))
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", run.render());
    let body = run.build().unwrap();
    assert_eq!(body.family, "llama-3-8b");
    assert_eq!(body.method.to_string(), "qlora");
    assert_eq!(hyper(&body, HyperKey::LoraRank), Some(16.0));
    assert_eq!(hyper(&body, HyperKey::LoraAlpha), Some(32.0));
    assert_eq!(
        hyper(&body, HyperKey::LearningRate),
        Some(f64::from(2e-4f32))
    );
    assert_eq!(hyper(&body, HyperKey::Epochs), Some(3.0));
    assert_eq!(hyper(&body, HyperKey::BatchSize), Some(16.0));
    assert_eq!(body.benchmark, "medqa_4options");
    // How it was measured, from the lm-eval result the scores came from.
    assert_eq!(
        (body.metric.as_str(), body.filter.as_str(), body.shots),
        ("acc", "none", Some(0))
    );
    assert_eq!(body.setting().to_string(), "medqa_4options acc (0-shot)");
    assert!(from(&run, "metric").contains("results.medqa_4options.acc,none"));
    assert_eq!(body.baseline, 0.5161);
    assert_eq!(body.outcome, 0.5931);
    assert!((body.delta() - 0.077).abs() < 1e-6);
    assert_eq!(body.eval_samples, 1273);
    assert!(body.held_out);
    assert_eq!(body.data_scale, DataScale::TensOfThousands);
    assert_eq!(body.score_scale, ScoreScale::Unit);
    assert!(body.higher_is_better);
    // z = 0.077 / √(0.01401² + 0.01377²) ≈ 3.92 → erf(z/√2) ≈ 0.9999.
    assert!(
        (f64::from(body.confidence) - 0.99991).abs() < 1e-4,
        "{}",
        body.confidence
    );

    assert_eq!(
        from(&run, "family"),
        "from out/adapter_config.json:base_model_name_or_path"
    );
    assert_eq!(from(&run, "lora_rank"), "from out/adapter_config.json:r");
    assert_eq!(
        from(&run, "learning_rate"),
        "from out/README.md:learning_rate"
    );
    assert_eq!(
        from(&run, "batch_size"),
        "from out/README.md:total_train_batch_size"
    );
    assert_eq!(
        from(&run, "data_scale"),
        "from out/all_results.json:train_samples"
    );
    assert_eq!(
        from(&run, "baseline"),
        "from lm_eval/meta-llama__Meta-Llama-3-8B/results_2026-10-02T09-14-55.102311.json:results.medqa_4options.acc,none"
    );
    assert_eq!(
        from(&run, "outcome"),
        "from lm_eval/__out/results_2026-10-03T11-40-07.884102.json:results.medqa_4options.acc,none"
    );
    assert_eq!(
        from(&run, "eval_samples"),
        "from lm_eval/__out/results_2026-10-03T11-40-07.884102.json:n-samples.medqa_4options.effective"
    );
    assert!(
        from(&run, "method").contains("load_in_4bit"),
        "{}",
        from(&run, "method")
    );
    assert!(from(&run, "confidence").contains("0.01401"));
    assert_eq!(from(&run, "task"), "from flag --task");
    assert!(
        run.render()
            .contains("lora_rank = 16  (from out/adapter_config.json:r)"),
        "{}",
        run.render()
    );

    // The draft written as a packet file parses back to the same packet.
    let file = run.to_packet_file();
    let back = qis_outcomes::parse_packet_file(&file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(back, body);
}

#[test]
fn qlora_without_task_names_the_flag() {
    let err = from_run(&fixture("qlora-llama3-medqa"), &Overrides::default()).unwrap_err();
    assert_eq!(
        problems(&err),
        vec!["task: training tools do not record the task type; supply it with --task"]
    );
    assert!(err.partial.is_some());
}

#[test]
fn full_mistral_gsm8k_needs_an_explicit_filter() {
    let err = from_run(&fixture("full-mistral-gsm8k"), &with_task("math-reasoning")).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert_eq!(err.problems.len(), 1, "{text}");
    let RunProblem::Ambiguous { choices, flag, .. } = &err.problems[0] else {
        panic!("{text}")
    };
    assert_eq!(
        choices,
        &vec!["flexible-extract".to_string(), "strict-match".to_string()]
    );
    assert_eq!(flag, "--lm-eval-filter");
    assert!(
        text.contains("lm_eval/results_2026-09-14T20-02-11.530001.json"),
        "{text}"
    );
}

#[test]
fn full_mistral_gsm8k_with_a_filter_records_metric_filter_and_shots() {
    let overrides = Overrides {
        lm_eval_filter: Some("strict-match".into()),
        ..with_task("math-reasoning")
    };
    let result = from_run(&fixture("full-mistral-gsm8k"), &overrides);
    // Whatever else this run lacks, the measurement fields come from the chosen result.
    let run = match result {
        Ok(run) => run,
        Err(err) => *err.partial.expect("a partial draft"),
    };
    assert_eq!(run.draft.metric.as_deref(), Some("exact_match"));
    assert_eq!(run.draft.filter.as_deref(), Some("strict-match"));
    assert_eq!(run.draft.shots, Some(5));
}

#[test]
fn full_mistral_gsm8k_refuses_to_pair_lm_eval_with_the_trainer_baseline() {
    let overrides = Overrides {
        lm_eval_filter: Some("flexible-extract".into()),
        ..with_task("math-reasoning")
    };
    let err = from_run(&fixture("full-mistral-gsm8k"), &overrides).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    assert_eq!(err.problems.len(), 1, "{text}");
    assert!(
        text.starts_with("baseline and outcome are not comparable"),
        "{text}"
    );
    assert!(
        text.contains("gsm8k exact_match (5-shot, filter flexible-extract)"),
        "{text}"
    );
    assert!(text.contains("step-0 eval_accuracy"), "{text}");
    // The partial draft still shows the chosen lm-eval outcome.
    let partial = err.partial.unwrap();
    assert_eq!(partial.draft.outcome, Some(0.4905));

    // With a comparable baseline given by flag, the lm-eval result is publishable.
    let overrides = Overrides {
        baseline: Some(0.3791),
        confidence: Some(0.99),
        ..overrides
    };
    let run =
        from_run(&fixture("full-mistral-gsm8k"), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let body = run.build().unwrap();
    assert_eq!(
        (body.benchmark.as_str(), body.outcome, body.eval_samples),
        ("gsm8k", 0.4905, 1319)
    );
    assert_eq!(from(&run, "baseline"), "from flag --baseline");
}

#[test]
fn full_mistral_gsm8k_trainer_pair() {
    let overrides = Overrides {
        score_source: ScoreSource::Trainer,
        benchmark: Some("gsm8k-test".into()),
        ..with_task("math-reasoning")
    };
    let run =
        from_run(&fixture("full-mistral-gsm8k"), &overrides).unwrap_or_else(|e| panic!("{e}"));
    println!("{}", run.render());
    let body = run.build().unwrap();
    assert_eq!(body.family, "mistral-7b");
    assert_eq!(body.method.to_string(), "full");
    // The Trainer names its metric (eval_accuracy) but no filter or shots.
    assert_eq!(
        (body.metric.as_str(), body.filter.as_str(), body.shots),
        ("accuracy", "none", None)
    );
    assert_eq!(body.baseline, 0.372);
    assert_eq!(body.outcome, 0.491);
    assert_eq!(body.eval_samples, 1319);
    assert_eq!(body.data_scale, DataScale::Thousands);
    assert_eq!(hyper(&body, HyperKey::Epochs), Some(2.0));
    assert_eq!(
        from(&run, "baseline"),
        "from out/trainer_state.json:log_history[0].eval_accuracy"
    );
    assert_eq!(
        from(&run, "outcome"),
        "from out/all_results.json:eval_accuracy"
    );
    assert_eq!(from(&run, "family"), "from out/config.json:_name_or_path");
    assert!(from(&run, "method").contains("out/config.json"));
    assert!(f64::from(body.confidence) > 0.999);

    // Without --benchmark the Trainer pair says what is missing and why.
    let overrides = Overrides {
        score_source: ScoreSource::Trainer,
        ..with_task("math-reasoning")
    };
    let err = from_run(&fixture("full-mistral-gsm8k"), &overrides).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let text = err.to_string();
    assert!(
        text.starts_with("benchmark: the Trainer does not record the name of its evaluation set"),
        "{text}"
    );
    assert!(text.ends_with("supply it with --benchmark"), "{text}");
}

#[test]
fn dpo_qwen_llamafactory_has_no_benchmark_on_disk() {
    let err = from_run(&fixture("dpo-qwen-llamafactory"), &with_task("legal-qa")).unwrap_err();
    let text = err.to_string();
    println!("{text}");
    let fields: Vec<&str> = err
        .problems
        .iter()
        .map(|p| match p {
            RunProblem::Missing { field, .. } => field.as_str(),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            "benchmark",
            "baseline",
            "outcome",
            "held_out",
            "eval_samples",
            "confidence"
        ]
    );
    assert!(
        text.starts_with("benchmark: no benchmark scores on disk"),
        "{text}"
    );
    assert!(text.contains("reward metrics"), "{text}");
    assert!(text.contains("supply it with --benchmark"), "{text}");

    // The context found on disk is in the partial draft.
    let partial = err.partial.unwrap();
    let run = *partial;
    println!("{}", run.render());
    assert_eq!(
        run.draft.method.as_ref().map(|m| m.to_string()).as_deref(),
        Some("dpo+qlora")
    );
    assert!(
        from(&run, "method").contains("qwen2.5-7b_lora_dpo.yaml:stage"),
        "{}",
        from(&run, "method")
    );
    assert!(
        from(&run, "method").contains("quantization_bit"),
        "{}",
        from(&run, "method")
    );

    // With the benchmark supplied by flags, the packet is complete.
    let overrides = Overrides {
        benchmark: Some("legalbench_sw".into()),
        metric: Some("acc".into()),
        baseline: Some(0.41),
        outcome: Some(0.47),
        eval_samples: Some(400),
        held_out: Some(true),
        confidence: Some(0.8),
        tags: vec!["swahili".into(), "legal".into()],
        ..with_task("legal-qa")
    };
    let run =
        from_run(&fixture("dpo-qwen-llamafactory"), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let body = run.build().unwrap();
    assert_eq!(body.family, "qwen2.5-7b");
    assert_eq!(
        body.method,
        Method {
            tuning: Tuning::Qlora,
            objective: Objective::Dpo
        }
    );
    assert_eq!(
        hyper(&body, HyperKey::LearningRate),
        Some(f64::from(5e-6f32))
    );
    assert_eq!(hyper(&body, HyperKey::PrefBeta), Some(f64::from(0.1f32)));
    assert_eq!(hyper(&body, HyperKey::LoraRank), Some(16.0));
    assert_eq!(hyper(&body, HyperKey::BatchSize), Some(16.0));
    assert_eq!(hyper(&body, HyperKey::Epochs), Some(2.0));
    assert_eq!(body.data_scale, DataScale::Thousands);
    assert_eq!(
        from(&run, "learning_rate"),
        "from qwen2.5-7b_lora_dpo.yaml:learning_rate"
    );
    assert_eq!(
        from(&run, "pref_beta"),
        "from qwen2.5-7b_lora_dpo.yaml:pref_beta"
    );
    assert!(matches!(
        run.provenance.get("data_scale"),
        Some(Provenance::Derived { .. })
    ));
    assert_eq!(from(&run, "benchmark"), "from flag --benchmark");
}

#[test]
fn broken_run_gives_file_key_and_problem_and_no_packet() {
    let err = from_run(&fixture("broken-run"), &with_task("x")).unwrap_err();
    let text = problems(&err);
    println!("{}", text.join("\n"));
    assert!(err.partial.is_none());
    assert_eq!(text.len(), 3, "{text:?}");
    assert!(
        text[0].starts_with(
            "out/adapter_config.json: target_modules (last key before the error): truncated JSON"
        ),
        "{}",
        text[0]
    );
    assert_eq!(
        text[1],
        "out/all_results.json: eval_accuracy: NaN is not a usable number (the run wrote a non-finite value)"
    );
    assert_eq!(
        text[2],
        "out/all_results.json: train_samples: negative sample count -5"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let err = from_run(&fixture("no-such-run"), &Overrides::default()).unwrap_err();
    assert!(err.to_string().ends_with("is not a directory"), "{err}");
}

/// Run folders of tools qis had no sample of before (see tests/fixtures/runs/README.md): each
/// drafts its golden packet from `--task` and `--tag` alone.
const TOOL_SAMPLES: &[&str] = &[
    "axolotl-qlora-llama3-mmlu",
    "handbook-dpo-zephyr-qlora",
    "torchtune-qlora-llama3.1",
    "unsloth-rslora-llama3",
];

fn task_and_tag() -> Overrides {
    Overrides {
        tags: vec!["general".into()],
        ..with_task("qa")
    }
}

fn draft(name: &str, overrides: &Overrides) -> RunDraft {
    from_run(&fixture(name), overrides).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn each_tool_sample_drafts_its_golden_packet_with_task_and_tag_only() {
    for name in TOOL_SAMPLES {
        let run = draft(name, &task_and_tag());
        let golden = std::fs::read_to_string(fixture(name).join("expected.packet")).unwrap();
        assert_eq!(
            run.to_packet_file(),
            golden,
            "{name}: drafted packet differs"
        );
        let body = run.build().unwrap();
        assert!(check_size(&body, TYPICAL_CREATED).is_ok(), "{name}");
    }
}

#[test]
fn axolotl_sample_reads_groups_checkpoints_and_packing() {
    let run = draft("axolotl-qlora-llama3-mmlu", &task_and_tag());
    let body = run.build().unwrap();
    assert_eq!(body.family, "llama-3-8b");
    assert_eq!(body.method.to_string(), "qlora");
    // The group's own score, not one of its subjects; its size is its leaves' sum.
    assert_eq!((body.benchmark.as_str(), body.shots), ("mmlu", Some(5)));
    assert_eq!(body.eval_samples, 126 + 171 + 100 + 135);
    assert!(body.held_out);
    assert_eq!(hyper(&body, HyperKey::BatchSize), Some(8.0));
    assert_eq!(hyper(&body, HyperKey::MaxSeqLen), Some(4096.0));
    assert_eq!(
        body.hyperparam(&HyperKey::LoraTargets),
        Some(&HyperValue::Text("all-linear".into()))
    );
    assert_eq!(body.data_scale, DataScale::Thousands);
    assert!(from(&run, "data_scale").contains("packed sequences, not examples"));
    assert!(from(&run, "data_scale").contains("checkpoint-1616/trainer_state.json:global_step"));
    // The outcome is read from lm-eval's hidden `.__<path>` folder.
    assert!(from(&run, "outcome").starts_with("from lm_eval/.__outputs__qlora-out/"));

    // A subgroup can still be chosen.
    let overrides = Overrides {
        benchmark: Some("mmlu_stem".into()),
        ..task_and_tag()
    };
    let body = draft("axolotl-qlora-llama3-mmlu", &overrides)
        .build()
        .unwrap();
    assert_eq!(
        (body.benchmark.as_str(), body.eval_samples),
        ("mmlu_stem", 235)
    );
}

#[test]
fn a_benchmark_with_no_result_names_the_files_and_never_asks_for_benchmark_again() {
    let overrides = Overrides {
        benchmark: Some("arc_challenge".into()),
        ..task_and_tag()
    };
    let err = from_run(&fixture("axolotl-qlora-llama3-mmlu"), &overrides).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 1, "{text}");
    assert!(!text.contains("supply it with --benchmark"), "{text}");
    assert!(text.contains("--outcome-results FILE"), "{text}");
    assert!(text.contains("for arc_challenge"), "{text}");
    assert!(
        text.contains("lm_eval/.__outputs__qlora-out/results_"),
        "{text}"
    );
    assert!(text.contains("peft=./outputs/qlora-out"), "{text}");
}

#[test]
fn handbook_dpo_sample_is_dpo_on_qlora_with_its_beta() {
    let run = draft("handbook-dpo-zephyr-qlora", &task_and_tag());
    let body = run.build().unwrap();
    assert_eq!(body.method.to_string(), "dpo+qlora");
    assert!(from(&run, "method").contains("README.md:tags: dpo"));
    assert_eq!(hyper(&body, HyperKey::PrefBeta), Some(f64::from(0.01f32)));
    assert_eq!(hyper(&body, HyperKey::BatchSize), Some(32.0));
    // The adapter was evaluated as peft=data/zephyr-7b-dpo-qlora (no ./).
    assert_eq!(body.outcome, 0.595_563_1);

    // Results files given by flag take the role the flag says.
    let dir = fixture("handbook-dpo-zephyr-qlora").join("lm_eval_out");
    let overrides = Overrides {
        outcome_results: Some(
            dir.join("mistralai__Mistral-7B-v0.1/results_2026-10-20T12-00-00.000000.json"),
        ),
        baseline_results: Some(
            dir.join("data__zephyr-7b-dpo-qlora/results_2026-10-21T12-00-00.000000.json"),
        ),
        ..task_and_tag()
    };
    let body = draft("handbook-dpo-zephyr-qlora", &overrides)
        .build()
        .unwrap();
    assert_eq!((body.baseline, body.outcome), (0.595_563_1, 0.569_112_6));
}

#[test]
fn torchtune_and_unsloth_samples_name_family_method_and_scaling() {
    let run = draft("torchtune-qlora-llama3.1", &task_and_tag());
    let body = run.build().unwrap();
    assert_eq!(
        (body.family.as_str(), body.method.to_string().as_str()),
        ("llama-3.1-8b", "qlora")
    );
    assert_eq!(
        from(&run, "family"),
        "from 8B_qlora_single_device.yaml:model._component_"
    );
    assert_eq!(
        hyper(&body, HyperKey::LearningRate),
        Some(f64::from(3e-4f32))
    );
    assert_eq!(body.data_scale, DataScale::TensOfThousands);

    let run = draft("unsloth-rslora-llama3", &task_and_tag());
    let body = run.build().unwrap();
    assert_eq!(body.method.to_string(), "qlora");
    assert!(from(&run, "method").contains("bnb-4bit"));
    assert_eq!(
        body.hyperparam(&HyperKey::parse("rslora")),
        Some(&HyperValue::Bool(true))
    );
    // Accumulation is not written: the per-device batch only counts examples (a lower bound).
    assert_eq!(hyper(&body, HyperKey::BatchSize), None);
    assert_eq!(body.data_scale, DataScale::Hundreds);
}

#[test]
fn perplexity_is_unbounded_and_lower_is_better() {
    let dir = std::env::temp_dir().join(format!("qis-fromrun-ppl-{}", std::process::id()));
    let results = dir.join("eval/.__out");
    std::fs::create_dir_all(&results).unwrap();
    let json = r#"{"results": {"wikitext": {"alias": "wikitext", "word_perplexity,none": 9.42,
        "word_perplexity_stderr,none": "N/A"}},
      "configs": {"wikitext": {"task": "wikitext", "test_split": "test",
        "metric_list": [{"metric": "word_perplexity"}]}},
      "n-shot": {"wikitext": 0}, "n-samples": {"wikitext": {"original": 62, "effective": 62}},
      "config": {"model_args": "pretrained=meta-llama/Meta-Llama-3-8B,peft=./out", "limit": null}}"#;
    std::fs::write(results.join("results_2026-01-01T00-00-00.json"), json).unwrap();
    let overrides = Overrides {
        family: Some("llama-3-8b".into()),
        method: Some(Method::sft(Tuning::Lora)),
        data_scale: Some(DataScale::Thousands),
        baseline: Some(10.1),
        confidence: Some(0.9),
        ..task_and_tag()
    };
    let run = from_run(&dir, &overrides).unwrap_or_else(|e| panic!("{e}"));
    let body = run.build().unwrap();
    assert_eq!(body.score_scale, ScoreScale::Unbounded);
    assert!(!body.higher_is_better);
    assert_eq!((body.baseline, body.outcome), (10.1, 9.42));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Copies fixture `name` into a fresh scratch directory.
fn scratch_copy(name: &str) -> std::path::PathBuf {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("qis-fromrun-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&fixture(name), &dir);
    dir
}

#[test]
fn a_multi_device_run_multiplies_micro_batch_accumulation_and_devices() {
    // The Unsloth sample writes no accumulation, so its batch size is unknown; a DeepSpeed
    // config (accumulation 4) and an accelerate config (2 processes) beside it complete it.
    let dir = scratch_copy("unsloth-rslora-llama3");
    std::fs::write(
        dir.join("ds_config.json"),
        r#"{"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 4}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("accelerate_config.yaml"),
        "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_processes: 2\nmixed_precision: bf16\n",
    )
    .unwrap();
    let run = from_run(&dir, &task_and_tag()).unwrap();
    let batch = run
        .draft
        .hyperparams
        .iter()
        .find(|(k, _)| *k == HyperKey::BatchSize)
        .map(|(_, v)| v.to_string());
    assert_eq!(batch.as_deref(), Some("16"), "{}", run.render());
    let origin = run.provenance["batch_size"].to_string();
    assert!(
        origin.contains("ds_config.json") && origin.contains("accelerate_config.yaml"),
        "{origin}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
