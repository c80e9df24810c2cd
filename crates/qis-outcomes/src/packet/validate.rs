//! Validation and normalisation of a packet body.
//!
//! [`normalize`] brings human input into canonical form (folding the family, lower-casing,
//! sorting tags and hyperparameters); [`validate`] checks every rule and names the field that
//! breaks one. A node runs only [`validate`]: a packet that is not already canonical is refused,
//! because its semantic keys would not be the ones other publishers compute.

use super::body::OutcomeBody;
use super::canon::{
    canonical_benchmark, canonical_tags, canonical_task_name, canonical_token, first_bad_char,
};
use super::error::PacketError;
use super::family::fold_family;
use super::hyper::{HyperKey, HyperKind, HyperValue, format_number};
use super::limits::*;
use super::method::{Method, Objective, Tuning};
use super::scale::ScoreScale;

/// Brings a body into canonical form. Never fails; [`validate`] reports what cannot be fixed.
pub(crate) fn normalize(mut body: OutcomeBody) -> OutcomeBody {
    body.family = fold_family(&body.family);
    body.task = canonical_task_name(&body.task);
    body.tags = canonical_tags(&body.tags);
    body.benchmark = canonical_benchmark(&body.benchmark);
    body.metric = canonical_benchmark(&body.metric);
    body.filter = canonical_benchmark(&body.filter);
    body.method = normalize_method(body.method);
    body.hyperparams = body
        .hyperparams
        .into_iter()
        .map(|(key, value)| {
            let key = HyperKey::parse(key.name());
            let value = normalize_value(&key, value);
            (key, value)
        })
        .collect();
    // A stable sort keeps duplicates in input order, so validation reports the second one.
    body.hyperparams.sort_by(|a, b| a.0.cmp(&b.0));
    body
}

fn normalize_method(method: Method) -> Method {
    // Re-parsing the display form folds an `Other` spelling of a known name into the known one.
    let text = method.to_string();
    Method::parse(&text).unwrap_or(method)
}

fn normalize_value(key: &HyperKey, value: HyperValue) -> HyperValue {
    match (key.kind(), value) {
        (HyperKind::Number, HyperValue::Int(i)) => HyperValue::Float(i as f32),
        (HyperKind::Integer, HyperValue::Float(x)) if x.fract() == 0.0 && x.abs() < 1e15 => {
            HyperValue::Int(x as i64)
        }
        (_, HyperValue::Text(text)) => HyperValue::Text(canonical_token(&text)),
        (_, value) => value,
    }
}

/// Checks every rule; the first broken one is reported, naming its field.
pub fn validate(body: &OutcomeBody) -> Result<(), PacketError> {
    validate_context(&body.family, &body.task, &body.tags)?;
    validate_measurement(&Measured {
        benchmark: &body.benchmark,
        metric: &body.metric,
        filter: &body.filter,
        scale: body.score_scale,
        higher_is_better: body.higher_is_better,
        baseline: body.baseline,
        outcome: body.outcome,
        eval_samples: body.eval_samples,
    })?;
    check_method(&body.method)?;
    check_hyperparams(&body.hyperparams)?;
    let confidence = f64::from(body.confidence);
    finite("confidence", confidence)?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(out_of_range(
            "confidence",
            format_number(confidence),
            "[0, 1]",
        ));
    }
    if body.built_on.len() > MAX_BUILT_ON {
        return Err(PacketError::TooMany {
            field: "built_on".into(),
            count: body.built_on.len(),
            max: MAX_BUILT_ON,
        });
    }
    let mut credited = body.built_on.clone();
    credited.sort();
    credited.dedup();
    if credited.len() != body.built_on.len() {
        return Err(PacketError::NotCanonical {
            field: "built_on".into(),
            found: "a repeated packet id".into(),
            expected: "each id once".into(),
        });
    }
    Ok(())
}

/// Checks a canonical context (the fields semantic keys are derived from): a packet's, or the
/// packet's a reproduction names.
pub(crate) fn validate_context(
    family: &str,
    task: &str,
    tags: &[String],
) -> Result<(), PacketError> {
    check_token("family", family, MAX_FAMILY_LEN, false)?;
    expect_canonical("family", family, &fold_family(family))?;
    check_token("task", task, MAX_TASK_LEN, false)?;
    check_tags(tags)
}

/// How a pair of scores was measured, as a packet or a reproduction states it.
pub(crate) struct Measured<'a> {
    pub(crate) benchmark: &'a str,
    pub(crate) metric: &'a str,
    pub(crate) filter: &'a str,
    pub(crate) scale: ScoreScale,
    pub(crate) higher_is_better: bool,
    pub(crate) baseline: f32,
    pub(crate) outcome: f32,
    pub(crate) eval_samples: u32,
}

/// Checks a measurement: benchmark, metric and filter names, the metric's direction, both
/// scores on their scale, and at least one evaluation sample.
pub(crate) fn validate_measurement(m: &Measured<'_>) -> Result<(), PacketError> {
    check_token("benchmark", m.benchmark, MAX_BENCHMARK_LEN, true)?;
    expect_canonical("benchmark", m.benchmark, &canonical_benchmark(m.benchmark))?;
    check_measure_name("metric", m.metric)?;
    check_measure_name("filter", m.filter)?;
    if m.higher_is_better && is_lower_better_metric(m.metric) {
        return Err(PacketError::Direction {
            metric: m.metric.to_string(),
        });
    }
    check_scores(m.scale, m.baseline, m.outcome)?;
    if m.eval_samples == 0 {
        return Err(out_of_range("eval_samples", "0".into(), "at least 1"));
    }
    Ok(())
}

/// Checks a query's context by the rules a packet's context obeys (after the same
/// normalisation): a task token of at most [`MAX_TASK_LEN`] bytes, at most [`MAX_TAGS`] tags of
/// at most [`MAX_TAG_LEN`] bytes, a family of at most [`MAX_FAMILY_LEN`] bytes; each error names
/// the field and the rule.
pub fn check_query(family: Option<&str>, task: &str, tags: &[String]) -> Result<(), PacketError> {
    if let Some(family) = family {
        check_token("family", &fold_family(family), MAX_FAMILY_LEN, false)?;
    }
    check_token("task", &canonical_token(task), MAX_TASK_LEN, false)?;
    check_tag_list(&canonical_tags(tags))
}

/// Checks a stated delta against `outcome - baseline` (tolerance
/// [`DELTA_TOLERANCE`], scaled to percent scores).
pub(crate) fn check_delta(body: &OutcomeBody, stated: f64) -> Result<(), PacketError> {
    finite("delta", stated)?;
    let computed = body.delta();
    let tolerance = DELTA_TOLERANCE * body.score_scale.to_unit_factor().map_or(1.0, |f| 1.0 / f);
    let tolerance = tolerance.max(computed.abs() * 1e-6);
    if (stated - computed).abs() > tolerance {
        return Err(PacketError::DeltaMismatch { stated, computed });
    }
    Ok(())
}

fn out_of_range(field: &str, value: String, range: &str) -> PacketError {
    PacketError::OutOfRange {
        field: field.into(),
        value,
        range: range.into(),
    }
}

fn finite(field: &str, value: f64) -> Result<(), PacketError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(PacketError::NotFinite {
            field: field.into(),
            value: value.to_string(),
        })
    }
}

fn expect_canonical(field: &str, found: &str, expected: &str) -> Result<(), PacketError> {
    if found == expected {
        Ok(())
    } else {
        Err(PacketError::NotCanonical {
            field: field.into(),
            found: found.into(),
            expected: expected.into(),
        })
    }
}

/// Non-empty, within `max` bytes, allowed characters only, equal to its canonical form.
fn check_token(field: &str, value: &str, max: usize, benchmark: bool) -> Result<(), PacketError> {
    if value.is_empty() {
        return Err(PacketError::Empty {
            field: field.into(),
        });
    }
    if value.len() > max {
        return Err(PacketError::TooLong {
            field: field.into(),
            len: value.len(),
            max,
        });
    }
    let canonical = if benchmark {
        canonical_benchmark(value)
    } else {
        canonical_token(value)
    };
    expect_canonical(field, value, &canonical)?;
    if let Some(ch) = first_bad_char(value, benchmark) {
        return Err(PacketError::BadChar {
            field: field.into(),
            ch,
        });
    }
    Ok(())
}

/// Metrics lower scores of which are better: a packet naming one must say so, or its gain
/// would count with the wrong sign.
const LOWER_IS_BETTER_METRICS: [&str; 9] = [
    "perplexity",
    "word_perplexity",
    "byte_perplexity",
    "bits_per_byte",
    "loss",
    "eval_loss",
    "ter",
    "wer",
    "cer",
];

/// Whether `metric` is one of [`LOWER_IS_BETTER_METRICS`].
pub(crate) fn is_lower_better_metric(metric: &str) -> bool {
    LOWER_IS_BETTER_METRICS.contains(&metric)
}

/// A metric or filter name: non-empty, within [`MAX_METRIC_LEN`], lower-case, and made of
/// letters, digits and `- _ . + @` (lm-evaluation-harness names such as `pass@1`). These names
/// are not part of any key, so `@` is safe here.
fn check_measure_name(field: &str, value: &str) -> Result<(), PacketError> {
    if value.is_empty() {
        return Err(PacketError::Empty {
            field: field.into(),
        });
    }
    if value.len() > MAX_METRIC_LEN {
        return Err(PacketError::TooLong {
            field: field.into(),
            len: value.len(),
            max: MAX_METRIC_LEN,
        });
    }
    expect_canonical(field, value, &canonical_benchmark(value))?;
    let allowed = |ch: char| {
        (ch.is_alphanumeric() && !ch.is_uppercase()) || matches!(ch, '-' | '_' | '.' | '+' | '@')
    };
    match value.chars().find(|&ch| !allowed(ch)) {
        Some(ch) => Err(PacketError::BadChar {
            field: field.into(),
            ch,
        }),
        None => Ok(()),
    }
}

/// At most [`MAX_TAGS`] tags, each a canonical token of at most [`MAX_TAG_LEN`] bytes.
fn check_tag_list(tags: &[String]) -> Result<(), PacketError> {
    if tags.len() > MAX_TAGS {
        return Err(PacketError::TooMany {
            field: "tags".into(),
            count: tags.len(),
            max: MAX_TAGS,
        });
    }
    for (i, tag) in tags.iter().enumerate() {
        check_token(&format!("tags[{i}]"), tag, MAX_TAG_LEN, false)?;
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<(), PacketError> {
    check_tag_list(tags)?;
    let canonical = canonical_tags(tags);
    if canonical != tags {
        return Err(PacketError::NotCanonical {
            field: "tags".into(),
            found: tags.join(","),
            expected: canonical.join(","),
        });
    }
    Ok(())
}

fn check_scores(scale: ScoreScale, baseline: f32, outcome: f32) -> Result<(), PacketError> {
    for (field, score) in [("baseline", baseline), ("outcome", outcome)] {
        let score = f64::from(score);
        finite(field, score)?;
        if !scale.contains(score) {
            let range = match scale.to_unit_factor() {
                Some(1.0) => "[0, 1] (score_scale unit; use percent for 0-100 scores)",
                _ => "[0, 100] (score_scale percent)",
            };
            return Err(out_of_range(field, format_number(score), range));
        }
    }
    Ok(())
}

fn check_method(method: &Method) -> Result<(), PacketError> {
    if let Tuning::Other(name) = &method.tuning {
        check_name("method", name)?;
    }
    if let Objective::Other(name) = &method.objective {
        check_name("method", name)?;
    }
    if normalize_method(method.clone()) != *method {
        return Err(PacketError::NotCanonical {
            field: "method".into(),
            found: format!("{method:?}"),
            expected: normalize_method(method.clone()).to_string(),
        });
    }
    Ok(())
}

/// An `Other` name: a canonical token without `+` (which separates objective from tuning).
fn check_name(field: &str, name: &str) -> Result<(), PacketError> {
    check_token(field, name, MAX_NAME_LEN, false)?;
    if name.contains('+') {
        return Err(PacketError::BadChar {
            field: field.into(),
            ch: '+',
        });
    }
    Ok(())
}

fn check_hyperparams(params: &[(HyperKey, HyperValue)]) -> Result<(), PacketError> {
    if params.len() > MAX_HYPERPARAMS {
        return Err(PacketError::TooMany {
            field: "hyperparameters".into(),
            count: params.len(),
            max: MAX_HYPERPARAMS,
        });
    }
    for pair in params.windows(2) {
        if pair[0].0 >= pair[1].0 {
            let field = format!("hyperparameters.{}", pair[1].0);
            return Err(PacketError::NotCanonical {
                field,
                found: "repeated or out of order".into(),
                expected: "each key once, sorted".into(),
            });
        }
    }
    params
        .iter()
        .try_for_each(|(key, value)| check_hyperparam(key, value))
}

fn check_hyperparam(key: &HyperKey, value: &HyperValue) -> Result<(), PacketError> {
    let field = format!("hyperparameters.{key}");
    if let HyperKey::Other(name) = key {
        if name.is_empty() {
            return Err(PacketError::Empty { field });
        }
        if name.len() > MAX_NAME_LEN {
            return Err(PacketError::TooLong {
                field,
                len: name.len(),
                max: MAX_NAME_LEN,
            });
        }
        if let Some(ch) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'))
        {
            return Err(PacketError::BadChar { field, ch });
        }
        expect_canonical(&field, name, HyperKey::parse(name).name())?;
    }
    let type_error = |expected| PacketError::HyperparamType {
        key: key.name().into(),
        expected,
        found: value.to_string(),
    };
    match (key.kind(), value) {
        (HyperKind::Integer, HyperValue::Int(i)) => check_integer(key, *i, &field),
        (HyperKind::Integer, _) => Err(type_error("an integer")),
        (HyperKind::Number | HyperKind::Any, HyperValue::Float(x)) => {
            check_number(key, f64::from(*x), &field)
        }
        (HyperKind::Number, _) => Err(type_error("a number")),
        (HyperKind::Text | HyperKind::Any, HyperValue::Text(text)) => check_name(&field, text),
        (HyperKind::Text, _) => Err(type_error("a text token")),
        (HyperKind::Any, HyperValue::Int(_) | HyperValue::Bool(_)) => Ok(()),
    }
}

fn check_integer(key: &HyperKey, value: i64, field: &str) -> Result<(), PacketError> {
    let (low, high, range) = match key {
        HyperKey::QuantBits => (1, 16, "1..=16 bits"),
        _ => (1, i64::from(u32::MAX), "at least 1"),
    };
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range(field, value.to_string(), range))
    }
}

fn check_number(key: &HyperKey, value: f64, field: &str) -> Result<(), PacketError> {
    finite(field, value)?;
    let (ok, range) = match key {
        HyperKey::LoraDropout => ((0.0..1.0).contains(&value), "[0, 1)"),
        HyperKey::WarmupRatio => ((0.0..=1.0).contains(&value), "[0, 1]"),
        HyperKey::LearningRate => (value > 0.0 && value <= 1.0, "(0, 1]"),
        HyperKey::WeightDecay => (value >= 0.0, "at least 0"),
        HyperKey::LoraAlpha | HyperKey::Epochs | HyperKey::PrefBeta => {
            (value > 0.0, "greater than 0")
        }
        _ => (true, ""),
    };
    if ok {
        Ok(())
    } else {
        Err(out_of_range(field, format_number(value), range))
    }
}
