//! Choosing the baseline and outcome scores, the benchmark, the evaluation size, held-out flag,
//! scale and confidence (see the [module documentation](super) for the rules).

use super::Assembly;
use super::confidence::{binomial_stderr, from_stderr};
use super::findings::{Findings, Sourced};
use super::lmeval::{self, Chosen};
use super::overrides::{Overrides, ScoreSource};
use super::problem::RunProblem;
use super::provenance::Provenance;

const NO_SCORES: &str = "no benchmark scores on disk: no lm-evaluation-harness results and no Trainer evaluation at step 0";

/// Fills the score fields of the draft, or records why they are missing.
pub(crate) fn assemble_scores(found: &Findings, overrides: &Overrides, a: &mut Assembly) {
    if overrides.baseline.is_some() && overrides.outcome.is_some() {
        // Both scores from flags: the disk's evaluations are not consulted.
        for (field, why) in [
            ("benchmark", "the scores were given by flag"),
            ("eval_samples", "the scores were given by flag"),
            ("held_out", "the scores were given by flag"),
            (
                "confidence",
                "the scores were given by flag, without standard errors",
            ),
        ] {
            a.why_missing.insert(field, why.into());
        }
        return;
    }
    let use_lm_eval = match overrides.score_source {
        ScoreSource::Auto => !found.lm_eval.is_empty(),
        ScoreSource::LmEval => true,
        ScoreSource::Trainer => false,
    };
    if use_lm_eval {
        lm_eval_scores(found, overrides, a);
    } else {
        trainer_scores(found, overrides, a);
    }
}

fn missing_scores(a: &mut Assembly, why: &str) {
    let mut why = why.to_string();
    if a.notes.iter().any(|n| n.contains("reward metrics")) {
        why.push_str(" (the reward metrics in all_results.json describe preference training, not a benchmark)");
    }
    a.why_missing.insert(
        "benchmark",
        format!("{why}; name the benchmark you evaluated on"),
    );
    a.why_missing.insert(
        "baseline",
        "not on disk (see benchmark): the base model's score on the benchmark".into(),
    );
    a.why_missing.insert(
        "outcome",
        "not on disk (see benchmark): the fine-tuned model's score on the benchmark".into(),
    );
    a.why_missing.insert(
        "eval_samples",
        "not on disk (see benchmark): how many examples were evaluated".into(),
    );
    a.why_missing.insert(
        "held_out",
        "not on disk (see benchmark): whether the evaluation data was held out".into(),
    );
    a.why_missing.insert(
        "confidence",
        "no standard errors on disk to compute it from".into(),
    );
}

fn lm_eval_scores(found: &Findings, overrides: &Overrides, a: &mut Assembly) {
    if found.lm_eval.is_empty() {
        missing_scores(
            a,
            "no lm-evaluation-harness results found (--score-source lm-eval)",
        );
        return;
    }
    let base_model = overrides
        .family
        .as_deref()
        .or(found.base_model.as_ref().map(|b| b.value.as_str()));
    let pair = match lmeval::choose(&found.lm_eval, overrides, base_model) {
        Ok(pair) => pair,
        Err(problem) => {
            a.problems.push(problem);
            return;
        }
    };
    let outcome = &pair.outcome;
    set_common(a, outcome);
    a.draft.outcome = Some(outcome.score.value);
    a.note_from("outcome", &outcome.provenance());
    match &pair.baseline {
        Some(baseline) => {
            a.draft.baseline = Some(baseline.score.value);
            a.note_from("baseline", &baseline.provenance());
            set_confidence(a, baseline, outcome);
        }
        None if overrides.baseline.is_some() => {
            a.why_missing.insert("confidence", "the baseline was given by flag, without a standard error".into());
        }
        None => a.problems.push(RunProblem::NotComparable {
            why: format!(
                "lm-eval has a result for the fine-tuned model only ({}: {}) and none for the base model{}. \
                 Run lm-eval on the base model with the same settings, give its score with --baseline, \
                 or publish the Trainer's own before/after pair with --score-source trainer",
                outcome.file,
                outcome.describe(),
                lmeval::trainer_baseline_note(&found.trainer_eval.at_start),
            ),
        }),
    }
}

/// Benchmark, sample count, held-out flag and direction from the outcome's lm-eval result.
fn set_common(a: &mut Assembly, outcome: &Chosen) {
    a.draft.benchmark = Some(outcome.task.clone());
    a.note_from(
        "benchmark",
        &Provenance::file(&outcome.file, &format!("results.{}", outcome.task)),
    );
    match outcome.samples {
        Some(n) => {
            a.draft.eval_samples = Some(n);
            a.note_from(
                "eval_samples",
                &Provenance::file(
                    &outcome.file,
                    &format!("n-samples.{}.effective", outcome.task),
                ),
            );
        }
        None => {
            a.why_missing.insert(
                "eval_samples",
                format!("{} has no n-samples for {}", outcome.file, outcome.task),
            );
        }
    }
    match &outcome.split {
        Some(split) => {
            a.draft.held_out = Some(true);
            a.note_from(
                "held_out",
                &Provenance::derived(format!(
                    "lm-eval scores the benchmark's {split:?} split ({}:configs.{}), not training data",
                    outcome.file, outcome.task
                )),
            );
        }
        None => {
            a.why_missing.insert(
                "held_out",
                format!("{} does not name the evaluated split", outcome.file),
            );
        }
    }
    set_measure(a, outcome);
    if let Some(higher) = outcome.higher_is_better {
        a.draft.higher_is_better = Some(higher);
        a.note_from(
            "higher_is_better",
            &Provenance::file(
                &outcome.file,
                &format!("higher_is_better.{}.{}", outcome.task, outcome.score.metric),
            ),
        );
    }
}

/// Metric, filter and shots of the outcome's lm-eval result (the baseline was paired only
/// with a result measured the same way).
fn set_measure(a: &mut Assembly, outcome: &Chosen) {
    let key = format!(
        "results.{}.{},{}",
        outcome.task, outcome.score.metric, outcome.score.filter
    );
    a.draft.metric = Some(outcome.score.metric.clone());
    a.note_from("metric", &Provenance::file(&outcome.file, &key));
    a.draft.filter = Some(outcome.score.filter.clone());
    a.note_from("filter", &Provenance::file(&outcome.file, &key));
    match outcome.shots {
        Some(shots) => {
            a.draft.shots = Some(shots);
            a.note_from(
                "shots",
                &Provenance::file(&outcome.file, &format!("n-shot.{}", outcome.task)),
            );
        }
        None => {
            a.why_missing.insert(
                "shots",
                format!("{} has no n-shot for {}", outcome.file, outcome.task),
            );
        }
    }
}

/// Whether a metric is a proportion of items (binomial standard error applies).
fn is_proportion(metric: &str) -> bool {
    metric.starts_with("acc")
        || metric.contains("accuracy")
        || metric == "exact_match"
        || metric == "em"
}

fn set_confidence(a: &mut Assembly, baseline: &Chosen, outcome: &Chosen) {
    let delta = outcome.score.value - baseline.score.value;
    let (se_b, se_o, how) = match (baseline.score.stderr, outcome.score.stderr) {
        (Some(b), Some(o)) => (b, o, format!("reported stderrs {b} and {o}")),
        _ if is_proportion(&outcome.score.metric) => {
            let b = binomial_stderr(baseline.score.value, baseline.samples.unwrap_or(0))
                .unwrap_or(f64::NAN);
            let o = binomial_stderr(outcome.score.value, outcome.samples.unwrap_or(0))
                .unwrap_or(f64::NAN);
            (b, o, "binomial stderrs (none reported)".to_string())
        }
        _ => (f64::NAN, f64::NAN, String::new()),
    };
    match from_stderr(delta, se_b, se_o) {
        Some(c) => {
            a.draft.confidence = Some(c);
            a.note_from(
                "confidence",
                &Provenance::derived(format!("erf(|delta| / √(se_b² + se_o²) / √2) with {how}")),
            );
        }
        None => {
            a.why_missing.insert(
                "confidence",
                "no usable standard errors for the scores".into(),
            );
        }
    }
}

fn trainer_scores(found: &Findings, overrides: &Overrides, a: &mut Assembly) {
    let eval = &found.trainer_eval;
    // Metrics evaluated both at step 0 and later (a final entry distinct from the step-0 one).
    let pairs: Vec<(&String, &Sourced<f64>, &Sourced<f64>)> = eval
        .at_start
        .iter()
        .filter_map(|(metric, start)| {
            eval.at_end
                .get(metric)
                .filter(|end| end.from != start.from)
                .map(|end| (metric, start, end))
        })
        .collect();
    let wanted = overrides
        .metric
        .as_deref()
        .map(|m| m.strip_prefix("eval_").unwrap_or(m));
    let chosen: Vec<_> = pairs
        .iter()
        .filter(|(m, _, _)| wanted.is_none_or(|w| w == m.as_str()))
        .collect();
    let (metric, start, end) = match chosen.as_slice() {
        [one] => **one,
        [] => {
            missing_scores(a, NO_SCORES);
            return;
        }
        many => {
            a.problems.push(RunProblem::Ambiguous {
                what: "Trainer metric".into(),
                file: "trainer_state.json".into(),
                count: many.len(),
                choices: many.iter().map(|(m, _, _)| format!("eval_{m}")).collect(),
                flag: "--metric".into(),
            });
            return;
        }
    };
    a.draft.baseline = Some(start.value);
    a.note_from("baseline", &start.from);
    a.draft.metric = Some(metric.to_string());
    a.note_from(
        "metric",
        &Provenance::derived(format!("the Trainer's eval_{metric} ({})", start.from)),
    );
    a.draft.outcome = Some(end.value);
    a.note_from("outcome", &end.from);
    a.why_missing.insert(
        "benchmark",
        format!("the Trainer does not record the name of its evaluation set (scores: eval_{metric}, {})", start.from),
    );
    a.draft.held_out = Some(true);
    a.note_from(
        "held_out",
        &Provenance::derived("the Trainer's evaluation set is separate from its training set"),
    );
    match &eval.samples {
        Some(n) => {
            a.draft.eval_samples = Some(n.value);
            a.note_from("eval_samples", &n.from);
            let b = if is_proportion(metric) {
                binomial_stderr(start.value, n.value)
            } else {
                None
            };
            let o = if is_proportion(metric) {
                binomial_stderr(end.value, n.value)
            } else {
                None
            };
            match b
                .zip(o)
                .and_then(|(b, o)| from_stderr(end.value - start.value, b, o))
            {
                Some(c) => {
                    a.draft.confidence = Some(c);
                    let rule = format!(
                        "erf(|delta| / √(se_b² + se_o²) / √2) with binomial stderrs on {} samples",
                        n.value
                    );
                    a.note_from("confidence", &Provenance::derived(rule));
                }
                None => {
                    a.why_missing.insert(
                        "confidence",
                        format!("eval_{metric} is not a proportion, so no standard error"),
                    );
                }
            }
        }
        None => {
            a.why_missing
                .insert("eval_samples", "no eval_samples in all_results.json".into());
            a.why_missing.insert(
                "confidence",
                "no evaluation size to derive a standard error from".into(),
            );
        }
    }
}
