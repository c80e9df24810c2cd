//! Why a run directory did not yield a packet. Every problem names the file and key, or the
//! field and the flag that supplies it; all problems are reported together.

use super::super::error::PacketError;
use std::fmt;

/// One reason a run directory did not yield a packet.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunProblem {
    /// A file is unreadable, malformed, or holds an unusable value.
    #[error("{file}{}: {problem}", key.as_ref().map(|k| format!(": {k}")).unwrap_or_default())]
    File {
        /// The file, relative to the run directory.
        file: String,
        /// The key concerned, when known.
        key: Option<String>,
        /// What is wrong.
        problem: String,
    },
    /// A required field is not on disk and was not given.
    #[error("{field}: {why}; supply it with {flag}")]
    Missing {
        /// The packet field.
        field: String,
        /// The flag that supplies it.
        flag: String,
        /// Why it could not be found.
        why: String,
    },
    /// A value has several candidates on disk and none was chosen.
    #[error("{what}: {file} has {count} candidates ({}); choose one with {flag}", choices.join(", "))]
    Ambiguous {
        /// What must be chosen.
        what: String,
        /// Where the candidates are.
        file: String,
        /// How many.
        count: usize,
        /// The candidates.
        choices: Vec<String>,
        /// The flag that chooses.
        flag: String,
    },
    /// The baseline and outcome on disk do not measure the same thing.
    #[error("baseline and outcome are not comparable: {why}")]
    NotComparable {
        /// What differs, and how to fix it.
        why: String,
    },
    /// The draft is complete but the packet is invalid.
    #[error("{0}")]
    Invalid(PacketError),
}

impl RunProblem {
    /// A problem with `file`, optionally at `key`.
    pub fn file(file: &str, key: Option<&str>, problem: impl Into<String>) -> RunProblem {
        RunProblem::File {
            file: file.to_string(),
            key: key.map(str::to_string),
            problem: problem.into(),
        }
    }
}

/// Everything that kept a run directory from yielding a packet.
#[derive(Clone, Debug, PartialEq)]
pub struct FromRunError {
    /// The problems, in the order found.
    pub problems: Vec<RunProblem>,
    /// What was found, when the files were readable (for showing next to the problems).
    pub partial: Option<Box<super::provenance::RunDraft>>,
}

impl fmt::Display for FromRunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for FromRunError {}
