//! The task vocabulary: canonical task names, their synonyms, and the parent a specialised task
//! falls back to.
//!
//! Keys are hashes of text, so `summarisation` and `summarization` would otherwise be two
//! networks' worth of evidence that never meet, and a rare task (`legal-summarization`) would
//! find nothing although every summarisation run says something about it. [`TASKS`] lists,
//! for each canonical name, the spellings that mean it (British and American, abbreviations)
//! and, for a specialised task, its parent and the tags the specialisation stands for:
//! `legal-summarization` is `summarization` tagged `legal`. [`canonical_task`] applies it to a
//! [canonical token](super::canon::canonical_token), before any key is derived; a name the
//! table does not know is its own canonical name.
//!
//! Parents are one level deep (a parent has no parent), and every name and synonym appears once
//! in the table: the unit tests hold the table to that. The README's *Task vocabulary* section
//! lists it and says how to propose an entry.

/// One canonical task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEntry {
    /// The canonical name (a canonical token).
    pub name: &'static str,
    /// Other spellings of the same task (canonical tokens), mapped to `name`.
    pub synonyms: &'static [&'static str],
    /// The more general task this one specialises, if any.
    pub parent: Option<&'static str>,
    /// The tags the specialisation stands for (`legal` in `legal-summarization`), added to the
    /// context when falling back to the parent.
    pub implies: &'static [&'static str],
}

/// A root task: no parent.
const fn root(name: &'static str, synonyms: &'static [&'static str]) -> TaskEntry {
    TaskEntry {
        name,
        synonyms,
        parent: None,
        implies: &[],
    }
}

/// A specialised task: `parent` tagged `implies`.
const fn child(
    name: &'static str,
    synonyms: &'static [&'static str],
    parent: &'static str,
    implies: &'static [&'static str],
) -> TaskEntry {
    TaskEntry {
        name,
        synonyms,
        parent: Some(parent),
        implies,
    }
}

/// The vocabulary. Roots first, then specialisations grouped by parent.
pub const TASKS: &[TaskEntry] = &[
    root(
        "summarization",
        &[
            "summarisation",
            "summary",
            "summaries",
            "summarize",
            "summarise",
            "summ",
        ],
    ),
    root(
        "question-answering",
        &[
            "qa",
            "q-a",
            "q+a",
            "question-answer",
            "questions-answering",
            "question-answers",
        ],
    ),
    root("translation", &["machine-translation", "mt", "translate"]),
    root(
        "classification",
        &[
            "text-classification",
            "classify",
            "categorization",
            "categorisation",
        ],
    ),
    root(
        "code-generation",
        &["codegen", "code-gen", "coding", "code"],
    ),
    root(
        "math-reasoning",
        &[
            "math",
            "maths",
            "mathematical-reasoning",
            "math-word-problems",
        ],
    ),
    root("chat", &["dialogue", "dialog", "conversation", "chatbot"]),
    root("instruction-following", &["instruct", "instruction-tuning"]),
    root("named-entity-recognition", &["ner", "entity-recognition"]),
    root(
        "sentiment-analysis",
        &["sentiment", "sentiment-classification"],
    ),
    child(
        "legal-summarization",
        &["legal-summarisation", "legal-summary"],
        "summarization",
        &["legal"],
    ),
    child(
        "medical-summarization",
        &[
            "medical-summarisation",
            "clinical-summarization",
            "clinical-summarisation",
        ],
        "summarization",
        &["medical"],
    ),
    child(
        "news-summarization",
        &["news-summarisation"],
        "summarization",
        &["news"],
    ),
    child(
        "medical-qa",
        &[
            "medical-question-answering",
            "clinical-qa",
            "med-qa",
            "medqa",
        ],
        "question-answering",
        &["medical"],
    ),
    child(
        "legal-qa",
        &["legal-question-answering"],
        "question-answering",
        &["legal"],
    ),
    child(
        "legal-classification",
        &["legal-text-classification"],
        "classification",
        &["legal"],
    ),
];

/// The table entry of a canonical name or a synonym.
fn entry(token: &str) -> Option<&'static TaskEntry> {
    TASKS
        .iter()
        .find(|e| e.name == token || e.synonyms.contains(&token))
}

/// The canonical task for a canonical token: the table's name when `token` is a name or a
/// synonym, else `token` itself.
pub(crate) fn canonical_task(token: &str) -> String {
    entry(token).map_or_else(|| token.to_string(), |e| e.name.to_string())
}

/// The parent of a canonical task and the tags its specialisation stands for, if it has one.
pub(crate) fn parent_of(task: &str) -> Option<(&'static str, &'static [&'static str])> {
    let e = entry(task)?;
    Some((e.parent?, e.implies))
}

/// The root of a canonical task: its parent, or itself.
pub(crate) fn root_of(task: &str) -> &str {
    parent_of(task).map_or(task, |(parent, _)| parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::canon::canonical_token;
    use std::collections::BTreeSet;

    #[test]
    fn every_spelling_appears_once_and_is_a_canonical_token() {
        let mut seen = BTreeSet::new();
        for e in TASKS {
            for spelling in std::iter::once(&e.name).chain(e.synonyms).chain(e.implies) {
                assert_eq!(canonical_token(spelling), *spelling, "{spelling}");
                assert!(super::super::canon::first_bad_char(spelling, false).is_none());
            }
            for spelling in std::iter::once(&e.name).chain(e.synonyms) {
                assert!(seen.insert(*spelling), "{spelling} appears twice");
            }
        }
    }

    #[test]
    fn parents_are_roots_of_the_table_and_children_imply_a_tag() {
        for e in TASKS {
            if let Some(parent) = e.parent {
                let p = entry(parent).expect("the parent is in the table");
                assert_eq!(p.name, parent, "a parent is named canonically");
                assert!(p.parent.is_none(), "{parent} is a parent and has one");
                assert!(!e.implies.is_empty(), "{} implies no tag", e.name);
            } else {
                assert!(e.implies.is_empty());
            }
        }
    }

    #[test]
    fn synonyms_map_to_the_name_and_unknown_tasks_are_their_own() {
        assert_eq!(canonical_task("summarisation"), "summarization");
        assert_eq!(canonical_task("qa"), "question-answering");
        assert_eq!(canonical_task("legal-summarisation"), "legal-summarization");
        assert_eq!(canonical_task("swahili-poetry"), "swahili-poetry");
        assert_eq!(
            parent_of("legal-summarization"),
            Some(("summarization", &["legal"][..]))
        );
        assert_eq!(parent_of("summarization"), None);
        assert_eq!(root_of("medical-qa"), "question-answering");
        assert_eq!(root_of("swahili-poetry"), "swahili-poetry");
    }
}
