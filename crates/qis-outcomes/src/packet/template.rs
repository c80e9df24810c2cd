//! The packet file: a human-editable description of one packet, behind `qis packet new`
//! (which writes [`template`], or with `--example` the filled-in [`example`]), `qis packet
//! check` and `qis packet publish`.
//!
//! The format is a small subset of TOML, so editors highlight it and a TOML library could read
//! it, while qis parses it by hand with line-numbered errors:
//!
//! * one `name = value` per line; `#` starts a comment (outside quotes); blank lines are ignored;
//! * values are `"text"` (escapes `\"` and `\\`), numbers (`2e-4`, `0.5931`, `16`), `true` /
//!   `false`, or lists of texts `["a", "b"]` on one line;
//! * a `[hyperparameters]` line starts the hyperparameter section, whose names are free
//!   (well-known ones such as `learning_rate` encode in one byte);
//! * unknown names outside that section are errors, so a typo is never silently dropped.

use super::body::NO_FILTER;
use super::draft::Draft;
use super::hyper::{HyperKey, HyperValue, format_number};
use super::method::Method;
use super::scale::{DataScale, ScoreScale};
use qis_core::Id;
use qis_core::RecordId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A packet file that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

/// A complete, valid example packet file (`qis packet new --example`): a Swahili news
/// summarisation QLoRA run.
pub fn example() -> String {
    EXAMPLE.to_string()
}

/// Fields whose value in [`template`] is a placeholder: every statement about the run. The
/// rest (scales, direction, filter, the empty `built_on`) are defaults a run usually keeps.
const TO_FILL: [&str; 12] = [
    "family",
    "task",
    "tags",
    "data_scale",
    "benchmark",
    "metric",
    "shots",
    "baseline",
    "outcome",
    "method",
    "eval_samples",
    "confidence",
];

/// The commented template `qis packet new` writes: the [`example`]'s comments and layout, with
/// a placeholder (`"<e.g. …>"`) for every statement about the run, so that `check` and
/// `publish` refuse it until each is filled in (sample values left in place would poison a real
/// context). Example hyperparameters are placeholders too.
pub fn template() -> String {
    let mut out = String::new();
    let mut in_hyperparams = false;
    for line in EXAMPLE.lines() {
        let content = strip_comment(line).trim();
        if content == "[hyperparameters]" {
            in_hyperparams = true;
        }
        match content.split_once('=') {
            Some((name, value)) if in_hyperparams || TO_FILL.contains(&name.trim()) => {
                let value = value.trim().trim_matches('"').replace('"', "'");
                let _ = writeln!(out, "{} = \"<e.g. {value}>\"", name.trim());
            }
            // The example's delta matches its scores; the template has none to match.
            Some((name, _)) if name.trim() == "delta" => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The error for a count field (`eval_samples`, `shots`) holding a number that is not one.
fn not_a_count(name: &str, x: f64, rule: &str) -> String {
    format!(
        "{name}: {} is not a count of examples: a whole number, {rule}",
        format_number(x)
    )
}

/// The error for a field still holding its placeholder.
fn placeholder(name: &str, text: &str) -> String {
    format!(
        "{name}: still the template's placeholder {text:?}: put your run's value here (or delete the line if it is optional)"
    )
}

/// Whether `text` is a placeholder of [`template`].
fn is_placeholder(text: &str) -> bool {
    text.starts_with('<') && text.ends_with('>')
}

const EXAMPLE: &str = r#"# qis outcome packet. Edit the values, then run `qis packet check FILE`.
# Format: `name = value`; text in "double quotes"; lists as ["a", "b"]; `#` starts a comment.
# A packet is public once published: state results, never data, paths or anything secret.

# Base model you fine-tuned (a hub id or a name). Folded to a family:
# meta-llama/Meta-Llama-3-8B and Llama-3-8B both become llama-3-8b.
family = "meta-llama/Meta-Llama-3-8B"

# What the model was fine-tuned to do, in a few words (lower-cased, spaces become '-').
task = "summarization"

# Up to 6 domain tags: language, domain, document type. Sorted and deduplicated for you.
tags = ["news", "swahili"]

# Training examples, as a bucket (never an exact count): "<100", "100-1k", "1k-10k",
# "10k-100k", ">100k".
data_scale = "1k-10k"

# Benchmark both scores come from; an lm-evaluation-harness task name where there is one.
benchmark = "xlsum_sw"

# How both scores were measured, as lm-evaluation-harness names it: the metric (acc, acc_norm,
# exact_match, rougel, word_perplexity, ...), the filter applied to answers before scoring
# ("none" if none, else e.g. "strict-match") and the few-shot examples per prompt. Gains are
# only compared between packets measured alike.
metric = "rougel"
filter = "none"
shots = 0

# Scale of the scores: "unit" (0..1, as lm-eval reports accuracy), "percent" (0..100) or
# "unbounded" (perplexity, loss, BLEU above 1). Set higher_is_better = false for loss-like ones.
score_scale = "unit"
higher_is_better = true

# Base model score and fine-tuned score: same benchmark, shots, filter and sample limit.
baseline = 0.2140
outcome = 0.2610
# Optional: checked against outcome - baseline if present.
delta = 0.0470

# Method: a tuning (full, lora, qlora, dora, ia3, prompt-tuning, prefix-tuning), an objective
# (sft, dpo, orpo, kto, simpo, ppo, grpo), or both as objective+tuning, e.g. "dpo+qlora".
method = "qlora"

# Was the evaluation data held out from training? How many examples were evaluated?
held_out = true
eval_samples = 1000

# How sure you are that the delta is real, 0..1. `qis packet from-run` computes it from the
# reported standard errors.
confidence = 0.9

# Optional: ids (64 hex characters) of packets whose advice you followed, to credit them.
built_on = []

[hyperparameters]
# Well-known names: lora_rank, lora_alpha, lora_dropout, learning_rate, epochs, batch_size
# (effective: per device x accumulation x devices), scheduler, warmup_ratio, weight_decay,
# max_seq_len, pref_beta, optimizer, quant_bits, lora_targets. Other names are allowed.
lora_rank = 16
lora_alpha = 32
learning_rate = 2e-4
epochs = 3
batch_size = 16
scheduler = "cosine"
"#;

/// A value as written in the file.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    Number(f64, bool),
    Bool(bool),
    List(Vec<String>),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Number(..) => "a number",
            Value::Bool(_) => "true or false",
            Value::List(_) => "a list",
        }
    }
}

/// Parses a packet file into a draft. Field names in errors are the file's names.
pub fn parse_packet_file(text: &str) -> Result<Draft, FileError> {
    let mut draft = Draft::default();
    let mut in_hyperparams = false;
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |message: String| FileError { line, message };
        let content = strip_comment(raw_line).trim();
        if content.is_empty() {
            continue;
        }
        if content.starts_with('[') && !content.contains('=') {
            if content == "[hyperparameters]" {
                in_hyperparams = true;
                continue;
            }
            return Err(fail(format!(
                "unknown section {content} (only [hyperparameters] exists)"
            )));
        }
        let (name, value_text) = content
            .split_once('=')
            .ok_or_else(|| fail(format!("expected `name = value`, got {content:?}")))?;
        let name = name.trim();
        let value =
            parse_value(value_text.trim()).map_err(|message| fail(format!("{name}: {message}")))?;
        if in_hyperparams {
            let hyper = match value {
                Value::Text(s) if is_placeholder(&s) => {
                    return Err(fail(placeholder(name, &s)));
                }
                Value::Text(s) => HyperValue::Text(s),
                Value::Number(x, true) if x.abs() < 9.0e15 => HyperValue::Int(x as i64),
                Value::Number(x, _) => HyperValue::Float(x as f32),
                Value::Bool(b) => HyperValue::Bool(b),
                Value::List(_) => {
                    return Err(fail(format!(
                        "{name}: a hyperparameter takes one value, not a list"
                    )));
                }
            };
            draft.set_hyperparam(HyperKey::parse(name), hyper);
        } else {
            set_field(&mut draft, name, value).map_err(fail)?;
        }
    }
    Ok(draft)
}

fn set_field(draft: &mut Draft, name: &str, value: Value) -> Result<(), String> {
    let wrong = |expected: &str, value: &Value| {
        format!("{name}: expected {expected}, got {}", value.describe())
    };
    if let Value::Text(text) = &value
        && is_placeholder(text)
    {
        return Err(placeholder(name, text));
    }
    match (name, value) {
        ("family", Value::Text(s)) => draft.family = Some(s),
        ("task", Value::Text(s)) => draft.task = Some(s),
        ("benchmark", Value::Text(s)) => draft.benchmark = Some(s),
        ("metric", Value::Text(s)) => draft.metric = Some(s),
        ("filter", Value::Text(s)) => draft.filter = Some(s),
        ("shots", Value::Number(x, true)) if x >= 0.0 => draft.shots = Some(x as u64),
        ("shots", Value::Number(x, _)) => return Err(not_a_count("shots", x, "0 for zero-shot")),
        ("shots", v) => return Err(wrong("a whole number", &v)),
        ("tags", Value::List(list)) => draft.tags = list,
        ("data_scale", Value::Text(s)) => {
            draft.data_scale = Some(DataScale::parse(&s).ok_or_else(|| {
                format!("data_scale: {s:?} is not one of \"<100\", \"100-1k\", \"1k-10k\", \"10k-100k\", \">100k\"")
            })?)
        }
        ("score_scale", Value::Text(s)) => {
            draft.score_scale = Some(
                ScoreScale::parse(&s)
                    .ok_or_else(|| format!("score_scale: {s:?} is not one of \"unit\", \"percent\", \"unbounded\""))?,
            )
        }
        ("method", Value::Text(s)) => {
            draft.method = Some(Method::parse_stated(&s).map_err(|e| format!("method: {e}"))?)
        }
        ("higher_is_better", Value::Bool(b)) => draft.higher_is_better = Some(b),
        ("held_out", Value::Bool(b)) => draft.held_out = Some(b),
        ("baseline", Value::Number(x, _)) => draft.baseline = Some(x),
        ("outcome", Value::Number(x, _)) => draft.outcome = Some(x),
        ("delta", Value::Number(x, _)) => draft.delta = Some(x),
        ("confidence", Value::Number(x, _)) => draft.confidence = Some(x),
        ("eval_samples", Value::Number(x, true)) if x >= 0.0 => draft.eval_samples = Some(x as u64),
        ("eval_samples", Value::Number(x, _)) => {
            return Err(not_a_count("eval_samples", x, "at least 1"));
        }
        ("eval_samples", v) => return Err(wrong("a whole number", &v)),
        ("built_on", Value::List(list)) => {
            draft.built_on = list
                .iter()
                .map(|hex| Id::from_hex(hex).map(|id| RecordId(*id.as_bytes())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| "built_on: every entry must be a packet id of 64 hex characters".to_string())?
        }
        ("family" | "task" | "benchmark" | "metric" | "filter" | "data_scale" | "score_scale" | "method", v) => {
            return Err(wrong("text in double quotes", &v));
        }
        ("tags" | "built_on", v) => return Err(wrong("a list like [\"a\", \"b\"]", &v)),
        ("higher_is_better" | "held_out", v) => return Err(wrong("true or false", &v)),
        ("baseline" | "outcome" | "delta" | "confidence", v) => return Err(wrong("a number", &v)),
        (other, _) => return Err(format!("unknown field {other:?} (hyperparameters go below [hyperparameters])")),
    }
    Ok(())
}

/// The line up to a `#` that is not inside a quoted text.
fn strip_comment(line: &str) -> &str {
    let mut in_text = false;
    let mut escaped = false;
    for (i, ch) in line.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_text => escaped = true,
            '"' => in_text = !in_text,
            '#' if !in_text => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_value(text: &str) -> Result<Value, String> {
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or("a list must end with ] on the same line")?;
        let mut items = Vec::new();
        let mut rest = inner.trim();
        while !rest.is_empty() {
            let (item, after) = parse_text(rest)?;
            items.push(item);
            rest = after.trim_start();
            rest = match rest.strip_prefix(',') {
                Some(after_comma) => after_comma.trim_start(),
                None if rest.is_empty() => rest,
                None => return Err(format!("expected ',' between list items, found {rest:?}")),
            };
        }
        return Ok(Value::List(items));
    }
    if text.starts_with('"') {
        let (item, rest) = parse_text(text)?;
        if !rest.trim().is_empty() {
            return Err(format!(
                "unexpected {:?} after the closing quote",
                rest.trim()
            ));
        }
        return Ok(Value::Text(item));
    }
    match text {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let plain = text.replace('_', "");
    let integer = plain.parse::<i64>().is_ok();
    match plain.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Value::Number(x, integer)),
        Ok(_) => Err(format!("{text} is not a finite number")),
        Err(_) => Err(format!(
            "{text:?} is not a value (text needs double quotes)"
        )),
    }
}

/// A quoted text at the start of `text`, and what follows it.
fn parse_text(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or_else(|| format!("expected text in double quotes, found {text:?}"))?;
    let mut out = String::new();
    let mut escaped = false;
    for (i, ch) in body.char_indices() {
        match ch {
            _ if escaped => {
                out.push(ch);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => return Ok((out, &body[i + 1..])),
            _ => out.push(ch),
        }
    }
    Err("text is missing its closing quote".into())
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn number(x: f64) -> String {
    let text = format_number(x);
    // A value that must read back as a number, never an integer, keeps a decimal point or exponent.
    if text.contains(['.', 'e', 'i', 'N']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// Writes a draft as a packet file (the inverse of [`parse_packet_file`] for every set field).
/// `notes` maps a field name (`learning_rate` for hyperparameters) to a comment written above it,
/// e.g. where `from-run` found the value.
pub fn render_packet_file(draft: &Draft, notes: &BTreeMap<String, String>) -> String {
    let mut out = String::from("# qis outcome packet. Check with `qis packet check FILE`.\n");
    let mut line = |name: &str, value: Option<String>| {
        let Some(value) = value else {
            let _ = writeln!(out, "# {name} = ?   (missing: fill in)");
            return;
        };
        if let Some(note) = notes.get(name) {
            let _ = writeln!(out, "# {note}");
        }
        let _ = writeln!(out, "{name} = {value}");
    };
    let list = |items: Vec<String>| {
        format!(
            "[{}]",
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    line("family", draft.family.as_deref().map(quote));
    line("task", draft.task.as_deref().map(quote));
    line("tags", Some(list(draft.tags.clone())));
    line("data_scale", draft.data_scale.map(|s| quote(s.label())));
    line("benchmark", draft.benchmark.as_deref().map(quote));
    line("metric", draft.metric.as_deref().map(quote));
    line(
        "filter",
        Some(quote(draft.filter.as_deref().unwrap_or(NO_FILTER))),
    );
    line("shots", draft.shots.map(|n| n.to_string()));
    line(
        "score_scale",
        Some(quote(draft.score_scale.unwrap_or(ScoreScale::Unit).label())),
    );
    line(
        "higher_is_better",
        Some(draft.higher_is_better.unwrap_or(true).to_string()),
    );
    line("baseline", draft.baseline.map(number));
    line("outcome", draft.outcome.map(number));
    if draft.delta.is_some() {
        line("delta", draft.delta.map(number));
    }
    line(
        "method",
        draft.method.as_ref().map(|m| quote(&m.to_string())),
    );
    line("held_out", draft.held_out.map(|b| b.to_string()));
    line("eval_samples", draft.eval_samples.map(|n| n.to_string()));
    line("confidence", draft.confidence.map(number));
    line(
        "built_on",
        Some(list(
            draft.built_on.iter().map(|id| id.to_string()).collect(),
        )),
    );
    out.push_str("\n[hyperparameters]\n");
    let mut params = draft.hyperparams.clone();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in params {
        if let Some(note) = notes.get(key.name()) {
            let _ = writeln!(out, "# {note}");
        }
        let value = match value {
            HyperValue::Text(s) => quote(&s),
            HyperValue::Float(x) => number(f64::from(x)),
            other => other.to_string(),
        };
        let _ = writeln!(out, "{} = {value}", key.name());
    }
    out
}
