//! Canonical text forms. Keys are hashes of text, so two publishers who mean the same context
//! must write the same bytes: every name is lower-cased and trimmed, and tags are sorted and
//! deduplicated. Normalising (`canonical_*`) is lenient and is applied to user input;
//! validation then checks that a body is already canonical, so a node refuses a packet whose
//! keys another publisher could not reproduce.

/// Lower-cases and trims `raw`, turns runs of white space and `_` into one `-`, and strips `-`
/// from both ends. Used for task types, domain tags and (after family folding) model families,
/// where `clinical_note summarization` and `clinical-note-summarization` mean the same thing.
pub(crate) fn canonical_token(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.trim().chars() {
        if ch.is_whitespace() || ch == '_' || ch == '-' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The canonical task name for raw input: [`canonical_token`], then the task vocabulary
/// ([`canonical_task`](super::vocab::canonical_task): `Summarisation` and `summarization` are
/// `summarization`, `QA` is `question-answering`).
pub(crate) fn canonical_task_name(raw: &str) -> String {
    super::vocab::canonical_task(&canonical_token(raw))
}

/// Lower-cases and trims a benchmark name and turns runs of white space into `_`. Underscores
/// are kept: benchmark names are usually lm-evaluation-harness task names (`medqa_4options`),
/// which are identifiers and must stay recognisable.
pub(crate) fn canonical_benchmark(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for ch in raw.trim().chars() {
        if ch.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push('_');
            pending_space = false;
        }
        out.extend(ch.to_lowercase());
    }
    out
}

/// Canonical tags: each one [`canonical_token`], empty ones dropped, sorted, deduplicated.
pub(crate) fn canonical_tags<S: AsRef<str>>(raw: &[S]) -> Vec<String> {
    let mut tags: Vec<String> = raw
        .iter()
        .map(|t| canonical_token(t.as_ref()))
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// The first character that may not appear in a canonical token, if any. Allowed: lower-case
/// letters and digits of any script, `-`, `.`, `+`, and (when `allow_underscore`) `_`. The key
/// strings use `/` and `,` as separators, so those can never appear inside a token.
pub(crate) fn first_bad_char(token: &str, allow_underscore: bool) -> Option<char> {
    token.chars().find(|&ch| {
        let ok = (ch.is_alphanumeric() && !ch.is_uppercase())
            || matches!(ch, '-' | '.' | '+')
            || (allow_underscore && ch == '_');
        !ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lower_case_trimmed_and_dashed() {
        assert_eq!(
            canonical_token("  Clinical_Note  Summarization "),
            "clinical-note-summarization"
        );
        assert_eq!(canonical_token("en-US"), "en-us");
        assert_eq!(canonical_token("--a__b--"), "a-b");
        assert_eq!(canonical_token("   "), "");
        assert_eq!(canonical_token("Kiswahili Ñ"), "kiswahili-ñ");
    }

    #[test]
    fn benchmarks_keep_underscores() {
        assert_eq!(canonical_benchmark(" MedQA_4options "), "medqa_4options");
        assert_eq!(canonical_benchmark("MMLU  Pro"), "mmlu_pro");
    }

    #[test]
    fn tags_are_sorted_and_deduplicated() {
        let tags = canonical_tags(&["SOAP notes", "healthcare", "soap-notes", " ", "en-US"]);
        assert_eq!(tags, vec!["en-us", "healthcare", "soap-notes"]);
    }

    #[test]
    fn separators_are_refused_in_tokens() {
        assert_eq!(first_bad_char("a/b", false), Some('/'));
        assert_eq!(first_bad_char("a,b", false), Some(','));
        assert_eq!(first_bad_char("a_b", false), Some('_'));
        assert_eq!(first_bad_char("a_b", true), None);
        assert_eq!(first_bad_char("qwen2.5-7b", false), None);
        assert_eq!(first_bad_char("Abc", false), Some('A'));
    }
}
