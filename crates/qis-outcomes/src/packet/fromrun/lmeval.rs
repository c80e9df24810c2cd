//! lm-evaluation-harness result files (`results_<date>.json`): which model was evaluated, and
//! each task's metrics per filter, standard errors, shots, sample counts and limit.
//!
//! A result is the *tuned* model's when its `model_args` load an adapter (`peft=`) or a local
//! directory (`pretrained=./out`), and the *base* model's otherwise. A baseline and an outcome
//! are paired only when task, metric, filter, shots and limit agree; anything else is refused
//! with the difference named.

use super::super::canon::canonical_benchmark;
use super::super::family::fold_family;
use super::files::{self, as_number, parse_json, read_text};
use super::findings::{Findings, Sourced};
use super::overrides::Overrides;
use super::problem::RunProblem;
use super::provenance::Provenance;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One metric of one task under one filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LmEvalScore {
    /// Metric name (`acc`, `exact_match`).
    pub metric: String,
    /// Filter name (`none`, `strict-match`).
    pub filter: String,
    /// The score.
    pub value: f64,
    /// Its standard error, when reported.
    pub stderr: Option<f64>,
}

/// One task's results in one file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LmEvalTask {
    /// Task name.
    pub task: String,
    /// Scores by metric and filter.
    pub scores: Vec<LmEvalScore>,
    /// The task's first listed metric (its primary one).
    pub primary_metric: Option<String>,
    /// Few-shot examples.
    pub shots: Option<u64>,
    /// Samples evaluated.
    pub samples: Option<u64>,
    /// The evaluation split.
    pub split: Option<String>,
    /// Whether higher is better, per metric.
    pub higher_is_better: BTreeMap<String, bool>,
    /// For a group (`mmlu`): its leaf tasks, whose sample counts and splits are the group's.
    pub leaves: Vec<String>,
    /// Whether no other group of the file contains it (what a user asked lm-eval for).
    pub top_level: bool,
}

/// One lm-eval results file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LmEvalFile {
    /// Path relative to the run directory.
    pub file: String,
    /// `model_args` as key/value pairs.
    pub model_args: BTreeMap<String, String>,
    /// Whether it evaluates the fine-tuned model.
    pub tuned: bool,
    /// Why it is taken as the fine-tuned or the base model's result.
    pub role_reason: String,
    /// Given by `--outcome-results` / `--baseline-results`: such files replace the ones found
    /// for their role.
    pub forced: bool,
    /// `config.limit` as text (`null` → `None`).
    pub limit: Option<String>,
    /// `date` (seconds), to pick the latest of several.
    pub date: f64,
    /// Tasks.
    pub tasks: Vec<LmEvalTask>,
}

/// Whether a file name looks like an lm-eval results file.
pub(crate) fn is_results_name(name: &str) -> bool {
    name.starts_with("results") && name.ends_with(".json")
}

/// How a results file's role is decided.
pub(crate) enum Role<'a> {
    /// From its `model_args`: an adapter (`peft=`) or a local model directory (a path, or the
    /// name of one of `run_dirs`) is the fine-tuned model.
    Auto {
        /// The run's directories (relative), to recognise a local model named by its path.
        run_dirs: &'a [std::path::PathBuf],
    },
    /// Given by flag: the fine-tuned model's (`true`) or the base model's.
    Forced(bool),
}

/// Reads an lm-eval results file; `false` if the JSON is not one (no `results` and `config`).
pub(crate) fn read(root: &Path, path: &Path, role: Role<'_>, found: &mut Findings) -> bool {
    let file = files::display(path);
    let Some(text) = found.keep(read_text(root, path)) else {
        return true;
    };
    let Some(json) = found.keep(parse_json(&file, &text)) else {
        return true;
    };
    let (Some(results), Some(config)) = (
        json.get("results").and_then(Value::as_object),
        json.get("config"),
    ) else {
        return false;
    };
    let model_args = model_args(config);
    let (tuned, role_reason, forced) = match role {
        Role::Forced(tuned) => (tuned, "given by flag".to_string(), true),
        Role::Auto { run_dirs } => {
            let (tuned, reason) = tuned_by_model_args(&model_args, root, run_dirs);
            (tuned, reason, false)
        }
    };
    let limit = config
        .get("limit")
        .filter(|v| !v.is_null())
        .map(|v| v.to_string());
    let date = json.get("date").and_then(Value::as_f64).unwrap_or(0.0);
    let mut tasks = Vec::new();
    // Groups are listed in `results` and, by some lm-eval versions, only in `groups`.
    let groups = json.get("groups").and_then(Value::as_object);
    let entries = results.iter().chain(
        groups
            .into_iter()
            .flatten()
            .filter(|(name, _)| !results.contains_key(*name)),
    );
    for (task, metrics) in entries {
        let Some(metrics) = metrics.as_object() else {
            continue;
        };
        let mut scores = Vec::new();
        for (key, value) in metrics {
            let Some((metric, filter)) = key.split_once(',') else {
                continue;
            };
            if metric.ends_with("_stderr") {
                continue;
            }
            let location = format!("results.{task}.{key}");
            let Some(value) = found.keep(as_number(value, &file, &location)) else {
                continue;
            };
            let stderr_key = format!("{metric}_stderr,{filter}");
            // lm-eval writes "N/A" when it could not compute a standard error.
            let stderr = metrics
                .get(&stderr_key)
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && *s > 0.0);
            scores.push(LmEvalScore {
                metric: metric.into(),
                filter: filter.into(),
                value,
                stderr,
            });
        }
        let task_config = json.get("configs").and_then(|c| c.get(task));
        let primary_metric = task_config
            .and_then(|c| c.get("metric_list"))
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .and_then(|m| files::text(m, "metric"))
            .map(str::to_string);
        let shots = json
            .get("n-shot")
            .and_then(|n| n.get(task))
            .and_then(Value::as_u64)
            .or_else(|| {
                task_config
                    .and_then(|c| c.get("num_fewshot"))
                    .and_then(Value::as_u64)
            });
        let samples = json
            .get("n-samples")
            .and_then(|n| n.get(task))
            .and_then(|n| n.get("effective"))
            .and_then(Value::as_u64);
        // lm-eval scores a task's test split, or its validation split when it has none.
        let split = task_config
            .and_then(|c| {
                files::text(c, "test_split").or_else(|| files::text(c, "validation_split"))
            })
            .map(str::to_string);
        let higher_is_better = json
            .get("higher_is_better")
            .and_then(|h| h.get(task))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)))
                    .collect()
            })
            .unwrap_or_default();
        tasks.push(LmEvalTask {
            task: task.clone(),
            scores,
            primary_metric,
            shots,
            samples,
            split,
            higher_is_better,
            leaves: Vec::new(),
            top_level: true,
        });
    }
    mark_groups(&json, &mut tasks);
    found.lm_eval.push(LmEvalFile {
        file,
        model_args,
        tuned,
        role_reason,
        forced,
        limit,
        date,
        tasks,
    });
    true
}

/// `config.model_args`: `a=1,b=2` text (older lm-eval) or an object (newer).
fn model_args(config: &Value) -> BTreeMap<String, String> {
    match config.get("model_args") {
        Some(Value::String(text)) => text
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                (k.clone(), v)
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Whether `model_args` load the fine-tuned model, and why: an adapter (`peft=`), or a
/// `pretrained=` that is a local directory (`./out`, an absolute path, a directory under the
/// run, or a path whose last part names one of the run's directories, as when the run was
/// evaluated elsewhere and copied here). A hub id (`org/name`) is the base model.
fn tuned_by_model_args(
    args: &BTreeMap<String, String>,
    root: &Path,
    run_dirs: &[std::path::PathBuf],
) -> (bool, String) {
    if let Some(peft) = args.get("peft") {
        return (true, format!("model_args load an adapter (peft={peft})"));
    }
    let pretrained = args
        .get("pretrained")
        .map(String::as_str)
        .unwrap_or_default();
    if pretrained.is_empty() {
        return (false, "model_args name no model (no pretrained=)".into());
    }
    let local = Path::new(pretrained);
    let explicit = pretrained.starts_with(['.', '/', '~']);
    let under_run = !local.is_absolute() && root.join(local).is_dir();
    let last = local
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let names_run_dir = !last.is_empty()
        && run_dirs.iter().any(|d| {
            d.file_name().and_then(|n| n.to_str()) == Some(last)
                && (local.components().count() > 1 || explicit)
        });
    if explicit || under_run || names_run_dir || local.is_absolute() && local.is_dir() {
        (
            true,
            format!("model_args load a local directory (pretrained={pretrained})"),
        )
    } else {
        (
            false,
            format!("model_args load a hub model (pretrained={pretrained})"),
        )
    }
}

/// Groups (`mmlu` over its subjects): each task's leaves from `group_subtasks`, and which
/// tasks are top level. A group's sample count and split come from its leaves.
fn mark_groups(json: &Value, tasks: &mut [LmEvalTask]) {
    let Some(groups) = json.get("group_subtasks").and_then(Value::as_object) else {
        for task in tasks.iter_mut() {
            task.top_level = true;
        }
        return;
    };
    let children = |name: &str| -> Vec<String> {
        groups
            .get(name)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let contained: Vec<String> = groups.keys().flat_map(|g| children(g)).collect();
    for task in tasks.iter_mut() {
        task.top_level = !contained.contains(&task.task);
        let mut leaves = Vec::new();
        let mut stack = children(&task.task);
        let mut guard = 0;
        while let Some(next) = stack.pop() {
            guard += 1;
            if guard > 10_000 {
                break; // a cyclic hierarchy: lm-eval never writes one
            }
            let below = children(&next);
            if below.is_empty() {
                leaves.push(next);
            } else {
                stack.extend(below);
            }
        }
        leaves.sort();
        leaves.dedup();
        task.leaves = leaves;
    }
    let snapshot: Vec<LmEvalTask> = tasks.to_vec();
    for task in tasks.iter_mut().filter(|t| !t.leaves.is_empty()) {
        let leaves: Vec<&LmEvalTask> = snapshot
            .iter()
            .filter(|t| task.leaves.contains(&t.task))
            .collect();
        if task.samples.is_none() && leaves.len() == task.leaves.len() {
            let counts: Option<Vec<u64>> = leaves.iter().map(|l| l.samples).collect();
            task.samples = counts.map(|c| c.iter().sum());
        }
        if task.split.is_none() {
            let splits: Option<Vec<&String>> = leaves.iter().map(|l| l.split.as_ref()).collect();
            if let Some(splits) = splits.filter(|s| !s.is_empty()) {
                let mut names: Vec<&str> = splits.iter().map(|s| s.as_str()).collect();
                names.sort();
                names.dedup();
                task.split = Some(names.join("+"));
            }
        }
        let shots: Vec<Option<u64>> = leaves.iter().map(|l| l.shots).collect();
        if shots.windows(2).all(|w| w[0] == w[1])
            && let Some(Some(n)) = shots.first()
            && task.shots.is_none_or(|s| s == 0 && *n != 0)
        {
            task.shots = Some(*n);
        }
        for leaf in &leaves {
            for (metric, higher) in &leaf.higher_is_better {
                task.higher_is_better
                    .entry(metric.clone())
                    .or_insert(*higher);
            }
        }
        if task.primary_metric.is_none() {
            task.primary_metric = leaves.first().and_then(|l| l.primary_metric.clone());
        }
    }
}

/// A chosen lm-eval score with everything the packet needs from it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chosen {
    /// The file.
    pub file: String,
    /// The task (the benchmark).
    pub task: String,
    /// The score.
    pub score: LmEvalScore,
    /// Few-shot examples.
    pub shots: Option<u64>,
    /// Samples evaluated.
    pub samples: Option<u64>,
    /// Split.
    pub split: Option<String>,
    /// Limit.
    pub limit: Option<String>,
    /// Whether higher is better.
    pub higher_is_better: Option<bool>,
    /// The model evaluated (`pretrained=`).
    pub pretrained: String,
}

impl Chosen {
    /// Provenance of the score.
    pub(crate) fn provenance(&self) -> Provenance {
        Provenance::file(
            &self.file,
            &format!(
                "results.{}.{},{}",
                self.task, self.score.metric, self.score.filter
            ),
        )
    }

    /// `gsm8k exact_match (5-shot, filter flexible-extract)`.
    pub(crate) fn describe(&self) -> String {
        let shots = self.shots.map_or("?".into(), |s| s.to_string());
        format!(
            "{} {} ({shots}-shot, filter {})",
            self.task, self.score.metric, self.score.filter
        )
    }
}

/// The lm-eval scores for the packet: the outcome, and the baseline when one exists.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LmEvalPair {
    /// The tuned model's score.
    pub outcome: Chosen,
    /// The base model's score under the same settings, if evaluated.
    pub baseline: Option<Chosen>,
}

/// Picks the benchmark, metric and filter, and pairs the tuned result with a comparable base
/// result. Several tasks, metrics or filters without a choice are refused with the choices.
pub(crate) fn choose(
    files: &[LmEvalFile],
    overrides: &Overrides,
    base_model: Option<&str>,
) -> Result<LmEvalPair, RunProblem> {
    let wanted = overrides.benchmark.as_deref().map(canonical_benchmark);
    // Files given by flag replace those found for the same role.
    let in_role = |tuned: bool| -> Vec<&LmEvalFile> {
        let role: Vec<&LmEvalFile> = files.iter().filter(|f| f.tuned == tuned).collect();
        if role.iter().any(|f| f.forced) {
            role.into_iter().filter(|f| f.forced).collect()
        } else {
            role
        }
    };
    let tuned_files = in_role(true);
    let base_files = in_role(false);
    fn latest<'f>(role: &[&'f LmEvalFile], task: &str) -> Option<(&'f LmEvalFile, &'f LmEvalTask)> {
        role.iter()
            .filter_map(|f| f.tasks.iter().find(|t| t.task == task).map(|t| (*f, t)))
            .max_by(|a, b| {
                a.0.date
                    .total_cmp(&b.0.date)
                    .then_with(|| a.0.file.cmp(&b.0.file))
            })
    }
    // Without --benchmark only what was asked of lm-eval counts: a group (mmlu), not its 57
    // subjects; with it, any task or subgroup may be named.
    let mut tuned_tasks: Vec<&str> = tuned_files
        .iter()
        .flat_map(|f| f.tasks.iter())
        .filter(|t| match &wanted {
            Some(w) => canonical_benchmark(&t.task) == *w,
            None => t.top_level,
        })
        .map(|t| t.task.as_str())
        .collect();
    tuned_tasks.sort();
    tuned_tasks.dedup();
    let task = match tuned_tasks.as_slice() {
        [one] => one.to_string(),
        [] => return Err(no_tuned_result(files, &tuned_files, wanted.as_deref())),
        many => {
            return Err(RunProblem::Ambiguous {
                what: "benchmark".into(),
                file: "the lm-eval results".into(),
                count: many.len(),
                choices: many.iter().map(|s| s.to_string()).collect(),
                flag: "--benchmark".into(),
            });
        }
    };
    let Some((tuned_file, tuned_task)) = latest(&tuned_files, &task) else {
        return Err(no_tuned_result(files, &tuned_files, Some(&task)));
    };
    let outcome = pick_score(tuned_file, tuned_task, overrides)?;
    let Some((base_file, base_task)) = latest(&base_files, &task) else {
        return Ok(LmEvalPair {
            outcome,
            baseline: None,
        });
    };
    let baseline = base_task
        .scores
        .iter()
        .find(|s| s.metric == outcome.score.metric && s.filter == outcome.score.filter)
        .map(|score| chosen(base_file, base_task, score))
        .ok_or_else(|| RunProblem::NotComparable {
            why: format!(
                "{} reports no {} with filter {} for {task}; point at the base model's result \
                 measured the same way with --baseline-results FILE, or give it with --baseline",
                base_file.file, outcome.score.metric, outcome.score.filter
            ),
        })?;
    check_comparable(&baseline, &outcome, base_model)?;
    Ok(LmEvalPair {
        outcome,
        baseline: Some(baseline),
    })
}

/// Why no result of the fine-tuned model was found, naming each results file, the model it
/// evaluated and what it holds, and the flags that fix it (never `--benchmark` again when it
/// was given).
fn no_tuned_result(
    files: &[LmEvalFile],
    tuned_files: &[&LmEvalFile],
    wanted: Option<&str>,
) -> RunProblem {
    let listing: Vec<String> = files
        .iter()
        .map(|f| {
            let mut top: Vec<&str> = f
                .tasks
                .iter()
                .filter(|t| t.top_level)
                .map(|t| t.task.as_str())
                .collect();
            top.sort();
            let role = if f.tuned { "fine-tuned" } else { "base" };
            format!(
                "{} ({role}: {}; tasks {})",
                f.file,
                f.role_reason,
                top.join(", ")
            )
        })
        .collect();
    let why = match wanted {
        Some(w) if !tuned_files.is_empty() => format!(
            "no lm-eval result of the fine-tuned model for {w}: {}",
            listing.join("; ")
        ),
        _ => format!(
            "no lm-eval results file evaluates the fine-tuned model (an adapter with peft= or a \
             local directory with pretrained=): {}",
            listing.join("; ")
        ),
    };
    RunProblem::Missing {
        field: "outcome".into(),
        flag: "--outcome-results FILE (the fine-tuned model's results file), or --outcome".into(),
        why,
    }
}

fn chosen(file: &LmEvalFile, task: &LmEvalTask, score: &LmEvalScore) -> Chosen {
    Chosen {
        file: file.file.clone(),
        task: task.task.clone(),
        score: score.clone(),
        shots: task.shots,
        samples: task.samples,
        split: task.split.clone(),
        limit: file.limit.clone(),
        higher_is_better: task.higher_is_better.get(&score.metric).copied(),
        pretrained: file
            .model_args
            .get("pretrained")
            .cloned()
            .unwrap_or_default(),
    }
}

/// The metric (override, else the task's primary one, else the only one) and the filter
/// (override, else the only one).
fn pick_score(
    file: &LmEvalFile,
    task: &LmEvalTask,
    overrides: &Overrides,
) -> Result<Chosen, RunProblem> {
    let mut metrics: Vec<&str> = task.scores.iter().map(|s| s.metric.as_str()).collect();
    metrics.sort();
    metrics.dedup();
    let metric = match (&overrides.metric, &task.primary_metric) {
        (Some(m), _) => m.clone(),
        (None, Some(primary)) if metrics.contains(&primary.as_str()) => primary.clone(),
        (None, _) if metrics.len() == 1 => metrics[0].to_string(),
        _ => {
            return Err(RunProblem::Ambiguous {
                what: format!("metric of {}", task.task),
                file: file.file.clone(),
                count: metrics.len(),
                choices: metrics.iter().map(|s| s.to_string()).collect(),
                flag: "--metric".into(),
            });
        }
    };
    let candidates: Vec<&LmEvalScore> = task.scores.iter().filter(|s| s.metric == metric).collect();
    if candidates.is_empty() {
        return Err(RunProblem::Missing {
            field: "outcome".into(),
            flag: "--metric".into(),
            why: format!(
                "{} has no metric {metric} for {} (it has: {})",
                file.file,
                task.task,
                metrics.join(", ")
            ),
        });
    }
    let score = match (&overrides.lm_eval_filter, candidates.as_slice()) {
        (Some(filter), _) => candidates
            .iter()
            .find(|s| s.filter == *filter)
            .copied()
            .ok_or_else(|| RunProblem::Ambiguous {
                what: format!(
                    "lm-eval filter {filter:?} is not reported for {} {metric}",
                    task.task
                ),
                file: file.file.clone(),
                count: candidates.len(),
                choices: candidates.iter().map(|s| s.filter.clone()).collect(),
                flag: "--lm-eval-filter".into(),
            })?,
        (None, [one]) => *one,
        (None, many) => {
            return Err(RunProblem::Ambiguous {
                what: format!("filter of {} {metric}", task.task),
                file: file.file.clone(),
                count: many.len(),
                choices: many.iter().map(|s| s.filter.clone()).collect(),
                flag: "--lm-eval-filter".into(),
            });
        }
    };
    Ok(chosen(file, task, score))
}

/// Same shots, limit and sample count, and the baseline evaluated the run's base model.
fn check_comparable(
    baseline: &Chosen,
    outcome: &Chosen,
    base_model: Option<&str>,
) -> Result<(), RunProblem> {
    let differ = |what: &str, b: String, o: String| RunProblem::NotComparable {
        why: format!(
            "{what} differ: baseline {b} ({}), outcome {o} ({})",
            baseline.file, outcome.file
        ),
    };
    let show = |v: &Option<u64>| v.map_or("unknown".to_string(), |n| n.to_string());
    if baseline.shots != outcome.shots {
        return Err(differ(
            "shots (num_fewshot)",
            show(&baseline.shots),
            show(&outcome.shots),
        ));
    }
    if baseline.limit != outcome.limit {
        let limit = |l: &Option<String>| l.clone().unwrap_or_else(|| "none".into());
        return Err(differ(
            "limits",
            limit(&baseline.limit),
            limit(&outcome.limit),
        ));
    }
    if baseline.samples != outcome.samples {
        return Err(differ(
            "sample counts",
            show(&baseline.samples),
            show(&outcome.samples),
        ));
    }
    if let Some(base) = base_model
        && fold_family(&baseline.pretrained) != fold_family(base)
    {
        return Err(RunProblem::NotComparable {
            why: format!(
                "the baseline evaluated {} ({}), but the run's base model is {base}",
                baseline.pretrained, baseline.file
            ),
        });
    }
    Ok(())
}

/// The Trainer step-0 metric, for explaining why it cannot serve as an lm-eval baseline.
pub(crate) fn trainer_baseline_note(at_start: &BTreeMap<String, Sourced<f64>>) -> String {
    match at_start.iter().next() {
        Some((metric, value)) => format!(
            "; the Trainer's step-0 eval_{metric} ({}) is a different evaluation and cannot be its baseline",
            value.from
        ),
        None => String::new(),
    }
}
