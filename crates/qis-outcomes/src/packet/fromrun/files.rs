//! Finding and reading the files a run left, defensively: bounded walk, bounded file sizes,
//! Python-style `NaN`/`Infinity` in JSON turned into errors that name the key, truncated JSON
//! reported with the last key before the break. `training_args.bin` is a pickle and is never
//! opened: unpickling runs code.

use super::problem::RunProblem;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Deepest directory level searched below the run directory.
const MAX_DEPTH: usize = 6;
/// Most directory entries looked at in all.
const MAX_ENTRIES: usize = 5_000;
/// Largest file read (metric files are small; anything bigger is not one of ours).
pub(crate) const MAX_FILE_BYTES: u64 = 8 << 20;

/// Marks a non-finite number inside a sanitised JSON document. A control character cannot occur
/// in a real JSON string value unescaped, and we escape it ourselves, so the marker is unique.
const NON_FINITE_MARK: &str = "\u{1}non-finite:";

/// The files of interest in a run directory, relative paths, shallowest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunFiles {
    /// Every regular file found (relative path), in walk order.
    pub all: Vec<PathBuf>,
    /// Whether a `training_args.bin` was seen (and ignored).
    pub saw_pickle: bool,
    /// Every directory searched (relative path), so a result naming a local model directory can
    /// be matched to one of the run's.
    pub dirs: Vec<PathBuf>,
    /// `trainer_state.json` of each intermediate checkpoint, with its step (`checkpoint-500`).
    pub checkpoint_states: Vec<(u64, PathBuf)>,
}

impl RunFiles {
    /// Files named exactly `name`, shallowest first, then by path.
    pub(crate) fn named(&self, name: &str) -> Vec<&PathBuf> {
        let mut found: Vec<&PathBuf> = self
            .all
            .iter()
            .filter(|p| p.file_name().and_then(|n| n.to_str()) == Some(name))
            .collect();
        found.sort_by_key(|p| (p.components().count(), (*p).clone()));
        found
    }

    /// The newest checkpoint's `trainer_state.json` (axolotl, the TRL CLI and Unsloth often
    /// leave it only there).
    pub(crate) fn newest_checkpoint_state(&self) -> Option<&PathBuf> {
        self.checkpoint_states
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
            .map(|(_, p)| p)
    }

    /// Files whose name ends with one of `suffixes`.
    pub(crate) fn ending_with(&self, suffixes: &[&str]) -> Vec<&PathBuf> {
        self.all
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
            })
            .collect()
    }
}

/// Whether a hidden directory is one lm-eval wrote: it names its output folder after the model
/// path with `/` written `__`, so `peft=./out` lands in `.__out`.
fn is_lm_eval_dir(name: &str) -> bool {
    name.starts_with('.') && name.contains("__")
}

/// Walks `root` (sorted, bounded), skipping hidden directories (except those lm-eval names
/// after a local model path), logging directories and intermediate checkpoints
/// (`checkpoint-*`: the run's final files are at the top), of which only `trainer_state.json`
/// is noted, as a fallback.
pub(crate) fn walk(root: &Path) -> Result<RunFiles, RunProblem> {
    let mut files = RunFiles::default();
    let mut seen = 0usize;
    let mut stack = vec![(PathBuf::new(), 0usize)];
    if !root.is_dir() {
        return Err(RunProblem::file(
            &root.display().to_string(),
            None,
            "is not a directory",
        ));
    }
    while let Some((relative, depth)) = stack.pop() {
        let dir = root.join(&relative);
        let mut entries: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(read) => read.filter_map(Result::ok).collect(),
            Err(e) => {
                return Err(RunProblem::file(
                    &display(&relative),
                    None,
                    format!("cannot list: {e}"),
                ));
            }
        };
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Ok(files);
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = relative.join(&name);
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if let Some(step) = name
                    .strip_prefix("checkpoint-")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    let state = path.join("trainer_state.json");
                    if root.join(&state).is_file() {
                        files.checkpoint_states.push((step, state));
                    }
                    continue;
                }
                let skip = (name.starts_with('.') && !is_lm_eval_dir(&name))
                    || name.starts_with("checkpoint-")
                    || matches!(
                        name.as_str(),
                        "runs" | "wandb" | "__pycache__" | "node_modules"
                    );
                if !skip && depth < MAX_DEPTH {
                    files.dirs.push(path.clone());
                    subdirs.push((path, depth + 1));
                }
            } else if kind.is_file() {
                if name == "training_args.bin" {
                    files.saw_pickle = true;
                } else {
                    files.all.push(path);
                }
            }
        }
        // Reverse so the stack pops subdirectories in sorted order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(files)
}

/// A path for messages.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Reads a text file (at most [`MAX_FILE_BYTES`]).
pub(crate) fn read_text(root: &Path, relative: &Path) -> Result<String, RunProblem> {
    let name = display(relative);
    let path = root.join(relative);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(RunProblem::file(
            &name,
            None,
            format!("{size} bytes, larger than any metrics file ({MAX_FILE_BYTES})"),
        ));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| RunProblem::file(&name, None, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|_| RunProblem::file(&name, None, "is not UTF-8 text"))
}

/// Reads and parses a JSON file as Python writes it (bare `NaN`/`Infinity` allowed: they are
/// replaced by markers that [`number`] reports as errors naming the key).
pub(crate) fn read_json(root: &Path, relative: &Path) -> Result<Value, RunProblem> {
    let text = read_text(root, relative)?;
    parse_json(&display(relative), &text)
}

/// Parses JSON text from `file` (see [`read_json`]).
pub(crate) fn parse_json(file: &str, text: &str) -> Result<Value, RunProblem> {
    let sanitised = mark_non_finite(text);
    serde_json::from_str(&sanitised).map_err(|e| {
        let offset = offset_of(&sanitised, e.line(), e.column());
        let key = last_key_before(&sanitised, offset);
        let problem = if e.is_eof() {
            format!("truncated JSON: the file ends inside a value ({e})")
        } else {
            format!("not valid JSON ({e})")
        };
        let key = key.map(|k| format!("{k} (last key before the error)"));
        RunProblem::File {
            file: file.to_string(),
            key,
            problem,
        }
    })
}

/// Replaces bare `NaN`, `Infinity` and `-Infinity` outside strings by marker strings.
fn mark_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if in_string {
            match ch {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if ch == '"' {
            in_string = true;
        } else if let Some(token) = ["NaN", "-Infinity", "Infinity"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str(&format!("\"\\u0001non-finite:{token}\""));
            rest = &rest[token.len()..];
            continue;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Byte offset of a 1-based line and column (serde_json counts columns in bytes).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return (offset + column).min(text.len());
        }
        offset += l.len();
    }
    text.len()
}

/// The last object key (a string followed by `:`) that starts before `offset`.
fn last_key_before(text: &str, offset: usize) -> Option<String> {
    let text = text.get(..offset).unwrap_or(text);
    let mut last = None;
    let mut chars = text.char_indices().peekable();
    while let Some((start, ch)) = chars.next() {
        if ch != '"' {
            continue;
        }
        let mut escaped = false;
        let mut end = None;
        for (i, c) in chars.by_ref() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if text[end + 1..].trim_start().starts_with(':') {
            last = Some(text[start + 1..end].to_string());
        }
    }
    last
}

/// Reads `key` of object `value` as a finite number: `Ok(None)` if absent or null, an error
/// naming file and key if non-finite or not a number.
pub(crate) fn number(value: &Value, file: &str, key: &str) -> Result<Option<f64>, RunProblem> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_number(v, file, key).map(Some),
    }
}

/// A JSON value as a finite number, or an error naming file and key.
pub(crate) fn as_number(value: &Value, file: &str, key: &str) -> Result<f64, RunProblem> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| RunProblem::file(file, Some(key), "number out of range")),
        Value::String(s) if s.starts_with(NON_FINITE_MARK) => {
            let token = &s[NON_FINITE_MARK.len()..];
            Err(RunProblem::file(
                file,
                Some(key),
                format!("{token} is not a usable number (the run wrote a non-finite value)"),
            ))
        }
        other => Err(RunProblem::file(
            file,
            Some(key),
            format!("expected a number, found {other}"),
        )),
    }
}

/// Reads `key` as a sample count: a non-negative whole number.
pub(crate) fn count(value: &Value, file: &str, key: &str) -> Result<Option<u64>, RunProblem> {
    let Some(x) = number(value, file, key)? else {
        return Ok(None);
    };
    if x < 0.0 {
        return Err(RunProblem::file(
            file,
            Some(key),
            format!("negative sample count {x}"),
        ));
    }
    if x.fract() != 0.0 || x > 1e15 {
        return Err(RunProblem::file(
            file,
            Some(key),
            format!("{x} is not a whole number of samples"),
        ));
    }
    Ok(Some(x as u64))
}

/// Reads `key` as text.
pub(crate) fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// Every top-level numeric entry of a metrics file must be finite: a NaN loss or metric means
/// the run diverged or the evaluation broke, and no packet should be drafted from it.
pub(crate) fn check_all_finite(value: &Value, file: &str) -> Vec<RunProblem> {
    let Some(object) = value.as_object() else {
        return vec![RunProblem::file(
            file,
            None,
            "expected a JSON object of metrics",
        )];
    };
    object
        .iter()
        .filter(|(_, v)| v.as_str().is_some_and(|s| s.starts_with(NON_FINITE_MARK)))
        .filter_map(|(k, v)| as_number(v, file, k).err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_non_finite_numbers_become_errors_naming_the_key() {
        let value = parse_json(
            "m.json",
            r#"{"a": NaN, "b": -Infinity, "c": "NaN in text", "d": 1.5}"#,
        )
        .unwrap();
        let err = number(&value, "m.json", "a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.json: a: NaN is not a usable number (the run wrote a non-finite value)"
        );
        assert!(number(&value, "m.json", "b").is_err());
        assert_eq!(text(&value, "c"), Some("NaN in text"));
        assert_eq!(number(&value, "m.json", "d").unwrap(), Some(1.5));
        assert_eq!(number(&value, "m.json", "zz").unwrap(), None);
        assert_eq!(check_all_finite(&value, "m.json").len(), 2);
    }

    #[test]
    fn truncated_json_names_the_last_key() {
        let err = parse_json(
            "a.json",
            "{\n \"r\": 16,\n \"target_modules\": [\"q\", \"v\"\n",
        )
        .unwrap_err();
        let RunProblem::File { key, problem, .. } = err else {
            panic!()
        };
        assert_eq!(
            key.as_deref(),
            Some("target_modules (last key before the error)")
        );
        assert!(problem.starts_with("truncated JSON"), "{problem}");
        let err = parse_json("a.json", "{\"a\": 1,, }").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn counts_must_be_whole_and_non_negative() {
        let value = parse_json("m.json", r#"{"n": -5, "f": 2.5, "ok": 16000}"#).unwrap();
        assert_eq!(
            count(&value, "m.json", "n").unwrap_err().to_string(),
            "m.json: n: negative sample count -5"
        );
        assert!(count(&value, "m.json", "f").is_err());
        assert_eq!(count(&value, "m.json", "ok").unwrap(), Some(16000));
    }
}
