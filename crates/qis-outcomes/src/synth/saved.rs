//! Closing the loop on disk: a recommendation is saved with the evidence it weighed, a result
//! published `--built-on` it records what it used and becomes an entry of the client's
//! [`Ledger`], and the ledger roots the client's standing next time.
//!
//! Both files are JSON with a `format` number: a file of another format is refused with its
//! path and both numbers, never misread.

use super::evidence::Evidence;
use super::recommend::Recommendation;
use super::render::{RecommendationJson, to_json};
use super::standing::{Claim, Ledger, OwnOutcome, closest};
use crate::packet::{KeyLevel, OutcomeBody, OutcomePacket, Query};
use qis_core::{RecordId, SignedRecord};
use serde::{Deserialize, Serialize};

/// Format of a saved recommendation.
pub const SAVED_FORMAT: u32 = 1;

/// Format of the ledger file.
pub const LEDGER_FORMAT: u32 = 1;

/// Evidence a saved recommendation keeps, heaviest first: what the result built on it can
/// later check.
pub const SAVED_EVIDENCE: usize = 64;

/// One packet a recommendation weighed: its signed record (hex) and its similarity to the
/// query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedEvidence {
    /// The signed record, hex.
    pub record: String,
    /// Its context's similarity to the query.
    pub similarity: f64,
    /// The key level it matched the query at (absent in files saved before levels were
    /// kept: their outcomes teach the levels nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<KeyLevel>,
}

/// A recommendation as saved by `qis recommend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRecommendation {
    /// [`SAVED_FORMAT`].
    pub format: u32,
    /// When it was made (Unix seconds).
    pub created: u64,
    /// The query.
    pub family: Option<String>,
    /// The query's task.
    pub task: String,
    /// The query's tags.
    pub tags: Vec<String>,
    /// The packets its result should record as `built_on` (the heaviest contributors).
    pub built_on: Vec<RecordId>,
    /// What it recommended.
    pub recommendation: RecommendationJson,
    /// The evidence it weighed, heaviest first (at most [`SAVED_EVIDENCE`]).
    pub evidence: Vec<SavedEvidence>,
}

/// Why a saved file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// Not JSON of the expected shape.
    #[error("not a saved {what}: {reason}")]
    Shape {
        /// What was expected.
        what: &'static str,
        /// The parser's reason.
        reason: String,
    },
    /// Another format.
    #[error("a {what} of format {found}; this qis reads format {supported}")]
    Format {
        /// What it is.
        what: &'static str,
        /// Its format.
        found: u32,
        /// The one this build reads.
        supported: u32,
    },
}

impl SavedRecommendation {
    /// The saved form of `rec`, made for `query` from `evidence` at `created`.
    pub fn new(
        rec: &Recommendation,
        query: &Query,
        evidence: &[Evidence],
        records: &[SignedRecord],
        created: u64,
    ) -> SavedRecommendation {
        let mut weighed: Vec<(f64, &Evidence, &SignedRecord)> = evidence
            .iter()
            .zip(records)
            .map(|(e, r)| (e.weight(), e, r))
            .filter(|(w, _, _)| *w > 0.0)
            .collect();
        weighed.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        weighed.truncate(SAVED_EVIDENCE);
        SavedRecommendation {
            format: SAVED_FORMAT,
            created,
            family: query.family.clone(),
            task: query.task.clone(),
            tags: query.tags.clone(),
            built_on: rec
                .contributors
                .iter()
                .take(crate::packet::limits::MAX_BUILT_ON)
                .copied()
                .collect(),
            recommendation: to_json(rec),
            evidence: weighed
                .into_iter()
                .map(|(_, e, r)| SavedEvidence {
                    record: qis_core::hex(&r.encode()),
                    similarity: e.similarity,
                    level: e.level,
                })
                .collect(),
        }
    }

    /// The id of a saved recommendation: blake3 of its JSON text, hex.
    pub fn id_of(json: &str) -> String {
        qis_core::hex(blake3::hash(json.as_bytes()).as_bytes())
    }

    /// Reads a saved recommendation, refusing another format.
    pub fn parse(json: &str) -> Result<SavedRecommendation, SavedError> {
        parse_versioned(json, "saved recommendation", SAVED_FORMAT)
    }

    /// The packets of its evidence (opened and verified again; unreadable ones are skipped).
    pub fn packets(&self) -> Vec<OutcomePacket> {
        self.evidence
            .iter()
            .filter_map(|e| OutcomePacket::decode(&from_hex(&e.record)?).ok())
            .collect()
    }

    /// The ledger entry of a result published from `ran` (the published body) at `created`,
    /// built on this recommendation: its realised gain, and the saved claims close to what it
    /// ran (the records are opened and verified again; unreadable ones are skipped).
    pub fn outcome(&self, ran: &OutcomeBody, created: u64) -> OwnOutcome {
        let checked = closest(self.evidence.iter().filter_map(|e| {
            let bytes = from_hex(&e.record)?;
            let packet = OutcomePacket::decode(&bytes).ok()?;
            let claim = Claim::checked_by(
                packet.id(),
                packet.publisher(),
                &packet.body,
                e.similarity,
                ran,
            );
            Some(Claim {
                level: e.level,
                ..claim
            })
        }));
        OwnOutcome {
            checked,
            realised: ran.normalized_gain(),
            eval_samples: ran.eval_samples,
            created,
        }
    }
}

/// The ledger file: [`LEDGER_FORMAT`] and the ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerFile {
    /// [`LEDGER_FORMAT`].
    pub format: u32,
    /// The ledger.
    pub ledger: Ledger,
}

impl LedgerFile {
    /// An empty ledger of the current format.
    pub fn empty() -> LedgerFile {
        LedgerFile {
            format: LEDGER_FORMAT,
            ledger: Ledger::default(),
        }
    }

    /// Reads a ledger file, refusing another format.
    pub fn parse(json: &str) -> Result<LedgerFile, SavedError> {
        parse_versioned(json, "ledger", LEDGER_FORMAT)
    }
}

/// Reads JSON whose `format` must be `supported`: its format is read first, so a file of
/// another format is refused by name rather than misread as this one.
fn parse_versioned<T: serde::de::DeserializeOwned>(
    json: &str,
    what: &'static str,
    supported: u32,
) -> Result<T, SavedError> {
    #[derive(Deserialize)]
    struct Probe {
        format: u32,
    }
    let shape = |e: serde_json::Error| SavedError::Shape {
        what,
        reason: e.to_string(),
    };
    let probe: Probe = serde_json::from_str(json).map_err(shape)?;
    if probe.format != supported {
        return Err(SavedError::Format {
            what,
            found: probe.format,
            supported,
        });
    }
    serde_json::from_str(json).map_err(shape)
}

/// Bytes from lower- or upper-case hex; `None` for anything else.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
