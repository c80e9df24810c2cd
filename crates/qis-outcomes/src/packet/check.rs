//! `qis packet check FILE`: parse, validate, size and key a packet file without publishing it.

use super::body::OutcomeBody;
use super::error::PacketError;
use super::keys::packet_keys;
use super::size::{TYPICAL_CREATED, check_size, field_sizes};
use super::template::{FileError, parse_packet_file};
use qis_core::constants::MAX_RECORD;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a packet file did not check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: FileError,
    },
    /// The packet is invalid or too large.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The refusal, naming the field.
        source: PacketError,
    },
}

/// One semantic key, for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key level (`exact`, `family-task`, `task-tag`, `task`).
    pub level: String,
    /// The canonical key string.
    pub text: String,
    /// The DHT key in hex.
    pub id: String,
}

/// What `check` found for a valid packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The canonical body that would be published.
    #[serde(skip)]
    pub body: OutcomeBody,
    /// Canonical family, task, tags, benchmark and method, for display.
    pub canonical: Vec<(String, String)>,
    /// Encoded record size in bytes, signature included.
    pub encoded_size: usize,
    /// The limit.
    pub limit: usize,
    /// Encoded size of each body field, largest first.
    pub field_sizes: Vec<(String, usize)>,
    /// The keys the packet would be stored under.
    pub keys: Vec<KeyReport>,
}

/// Checks the packet file at `path`.
pub fn check(path: &Path) -> Result<CheckReport, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Io {
        path: path.into(),
        source,
    })?;
    check_text(&text).map_err(|e| match e {
        TextError::Parse(source) => CheckError::Parse {
            path: path.into(),
            source,
        },
        TextError::Invalid(source) => CheckError::Invalid {
            path: path.into(),
            source,
        },
    })
}

/// A packet file text that did not check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] FileError),
    /// It parses but the packet is invalid or too large.
    #[error(transparent)]
    Invalid(#[from] PacketError),
}

/// Checks packet file text (what [`check`] does after reading the file).
pub fn check_text(text: &str) -> Result<CheckReport, TextError> {
    let draft = parse_packet_file(text)?;
    let body = draft.build()?;
    let encoded_size = check_size(&body, TYPICAL_CREATED)?;
    let keys = packet_keys(&body)
        .into_iter()
        .map(|k| KeyReport {
            level: k.level.to_string(),
            text: k.text,
            id: k.id.to_hex(),
        })
        .collect();
    let canonical = vec![
        ("family".to_string(), body.family.clone()),
        ("task".to_string(), body.task.clone()),
        ("tags".to_string(), body.tags.join(", ")),
        ("benchmark".to_string(), body.benchmark.clone()),
        ("measured".to_string(), body.setting().to_string()),
        ("method".to_string(), body.method.to_string()),
        (
            "delta".to_string(),
            super::hyper::format_number(body.delta()),
        ),
    ];
    Ok(CheckReport {
        field_sizes: field_sizes(&body),
        body,
        canonical,
        encoded_size,
        limit: MAX_RECORD,
        keys,
    })
}

impl CheckReport {
    /// A human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "valid: {} of {} bytes used (signature included)",
            self.encoded_size, self.limit
        );
        for (field, value) in &self.canonical {
            let _ = writeln!(out, "  {field:<10} {value}");
        }
        let largest: Vec<String> = self
            .field_sizes
            .iter()
            .take(4)
            .map(|(field, bytes)| format!("{field} {bytes} B"))
            .collect();
        let _ = writeln!(out, "largest fields: {}", largest.join(", "));
        let _ = writeln!(out, "stored under {} keys:", self.keys.len());
        for key in &self.keys {
            let _ = writeln!(out, "  {:<12} {}  {}", key.level, &key.id[..16], key.text);
        }
        out
    }
}
