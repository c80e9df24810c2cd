//! Training configs written in YAML (axolotl, TRL / alignment-handbook, torchtune, accelerate),
//! parsed with `yaml-rust2` into the same JSON values the other readers use, so one set of
//! helpers reads every config. A YAML file that does not parse is a problem naming the file and
//! the line.

use super::files::{self, read_text};
use super::problem::RunProblem;
use serde_json::{Map, Number, Value};
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// Reads and parses a YAML file (its first document).
pub(crate) fn read_yaml(root: &Path, relative: &Path) -> Result<Value, RunProblem> {
    let text = read_text(root, relative)?;
    parse_yaml(&files::display(relative), &text)
}

/// Parses YAML text from `file` (its first document; an empty file is `null`).
pub(crate) fn parse_yaml(file: &str, text: &str) -> Result<Value, RunProblem> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        RunProblem::file(
            file,
            None,
            format!(
                "not valid YAML at line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            ),
        )
    })?;
    Ok(docs.first().map(to_json).unwrap_or(Value::Null))
}

/// A YAML node as JSON. Keys that are not text are written as text; aliases and bad values
/// become null (no config we read uses them for a value we need).
fn to_json(node: &Yaml) -> Value {
    match node {
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(text.clone()), Value::Number),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(hash) => {
            let mut object = Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                object.insert(key, to_json(value));
            }
            Value::Object(object)
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

/// The value at a dotted path (`optimizer.lr`), if present and not null.
pub(crate) fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut node = value;
    for part in path.split('.') {
        node = node.get(part)?;
    }
    (!node.is_null()).then_some(node)
}

/// A number, also when written as text (`3e-4` is text to YAML 1.1 readers such as PyYAML,
/// which the tools use, so people write it either way).
pub(crate) fn number_at(value: &Value, path: &str) -> Option<f64> {
    match at(value, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

/// A flag, also when written as text (`True`, `"true"`).
pub(crate) fn flag_at(value: &Value, path: &str) -> Option<bool> {
    match at(value, path)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Text (numbers and flags are not text).
pub(crate) fn text_at<'v>(value: &'v Value, path: &str) -> Option<&'v str> {
    at(value, path)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A list of text items, or a single text item as a list of one.
pub(crate) fn texts_at(value: &Value, path: &str) -> Option<Vec<String>> {
    match at(value, path)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_as_json_with_lenient_numbers_and_flags() {
        let v = parse_yaml(
            "c.yaml",
            "model:\n  _component_: torchtune.models.llama3_1.qlora_llama3_1_8b\n  lora_rank: 8\noptimizer:\n  lr: 3e-4\nlr2: \"2e-5\"\nbf16: True\nempty:\nmods: [q_proj, v_proj]\n",
        )
        .unwrap();
        assert_eq!(
            text_at(&v, "model._component_"),
            Some("torchtune.models.llama3_1.qlora_llama3_1_8b")
        );
        assert_eq!(number_at(&v, "model.lora_rank"), Some(8.0));
        assert_eq!(number_at(&v, "optimizer.lr"), Some(3e-4));
        assert_eq!(number_at(&v, "lr2"), Some(2e-5));
        assert_eq!(flag_at(&v, "bf16"), Some(true));
        assert_eq!(at(&v, "empty"), None);
        assert_eq!(
            texts_at(&v, "mods"),
            Some(vec!["q_proj".to_string(), "v_proj".to_string()])
        );
        let err = parse_yaml("bad.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.yaml: not valid YAML at line"),
            "{err}"
        );
    }
}
