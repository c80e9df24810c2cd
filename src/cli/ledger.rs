//! The client's files that close the feedback loop: saved recommendations
//! (`<data home>/recommendations/<id>.json`) and the ledger of its own outcomes
//! (`<data home>/ledger.json`). See `qis_outcomes::saved`.

use super::common::{CliError, data_home};
use qis_core::RecordId;
use qis_outcomes::SavedRecommendation;
use qis_outcomes::{Claim, LedgerFile, OutcomeBody, OutcomePacket, OwnOutcome, ReproductionBody};
use std::path::{Path, PathBuf};

/// What a `--built-on` names: a packet, or a saved recommendation (whose contributors the
/// result records, and whose evidence the ledger checks the result against).
#[derive(Clone, Debug)]
pub enum BuiltOn {
    /// A packet id.
    Packet(RecordId),
    /// A saved recommendation.
    Saved(Box<SavedRecommendation>),
}

/// The directory of saved recommendations.
fn recommendations_dir() -> PathBuf {
    data_home().join("recommendations")
}

/// The ledger file.
fn ledger_path() -> PathBuf {
    data_home().join("ledger.json")
}

/// Parses a `--built-on` value: a saved recommendation's id or file, else a packet id.
pub(super) fn parse_built_on(text: &str) -> Result<BuiltOn, String> {
    let is_id = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    let saved = recommendations_dir().join(format!("{}.json", text.to_ascii_lowercase()));
    let path = if is_id && saved.is_file() {
        saved
    } else if is_id {
        let id = qis_core::Id::from_hex(text).ok_or("not a packet id")?;
        return Ok(BuiltOn::Packet(RecordId(*id.as_bytes())));
    } else if Path::new(text).is_file() {
        PathBuf::from(text)
    } else {
        return Err(format!(
            "{text:?} is neither a packet id (64 hex characters), a saved recommendation's id nor its file"
        ));
    };
    let json = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let saved =
        SavedRecommendation::parse(&json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(BuiltOn::Saved(Box::new(saved)))
}

/// The packet ids `--built-on` values name (a saved recommendation's contributors).
pub(super) fn built_on_ids(values: &[BuiltOn]) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = Vec::new();
    for value in values {
        match value {
            BuiltOn::Packet(id) => ids.push(*id),
            BuiltOn::Saved(saved) => ids.extend(&saved.built_on),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|id| seen.insert(*id));
    ids.truncate(qis_outcomes::limits::MAX_BUILT_ON);
    ids
}

/// The text a saved recommendation is kept as, and its id.
fn saved_text(saved: &SavedRecommendation) -> Result<(String, String), CliError> {
    let json = serde_json::to_string_pretty(saved)
        .map_err(|e| CliError::Failed(format!("saving the recommendation: {e}")))?;
    let id = SavedRecommendation::id_of(&json);
    Ok((json, id))
}

/// The id `saved` has, or would have if it were saved (`--no-save`).
pub(super) fn recommendation_id(saved: &SavedRecommendation) -> Result<String, CliError> {
    saved_text(saved).map(|(_, id)| id)
}

/// Saves `saved`; its id (also the file name).
pub(super) fn save_recommendation(saved: &SavedRecommendation) -> Result<String, CliError> {
    let (json, id) = saved_text(saved)?;
    let dir = recommendations_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{id}.json"));
    qis_udp::write_atomically(&path, json.as_bytes(), 0o644)
        .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    Ok(id)
}

/// The client's ledger (empty when it has none yet); another format is refused by name.
pub(super) fn load_ledger() -> Result<LedgerFile, CliError> {
    let path = ledger_path();
    match std::fs::read_to_string(&path) {
        Ok(json) => LedgerFile::parse(&json)
            .map_err(|e| CliError::Failed(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerFile::empty()),
        Err(e) => Err(CliError::Failed(format!("{}: {e}", path.display()))),
    }
}

/// Adds the outcome of `published` (created at `created`) to the ledger for every saved
/// recommendation it was built on; how many entries were added.
pub(super) fn record_outcome(
    values: &[BuiltOn],
    published: &OutcomeBody,
    created: u64,
) -> Result<usize, CliError> {
    let saved: Vec<&SavedRecommendation> = values
        .iter()
        .filter_map(|v| match v {
            BuiltOn::Saved(saved) => Some(saved.as_ref()),
            BuiltOn::Packet(_) => None,
        })
        .collect();
    if saved.is_empty() {
        return Ok(0);
    }
    let outcomes = saved
        .iter()
        .map(|s| s.outcome(published, created))
        .collect();
    append_outcomes(outcomes)?;
    Ok(saved.len())
}

/// Adds the client's own re-run of `packet` (reported as `report`, signed at `created`) to the
/// ledger: a result of the packet's very recipe, so it checks the packet's claim at full
/// weight.
pub(super) fn record_reproduction(
    packet: &OutcomePacket,
    report: &ReproductionBody,
    created: u64,
) -> Result<(), CliError> {
    let claim = Claim {
        id: packet.id(),
        publisher: packet.publisher(),
        gain: packet.body.normalized_gain(),
        eval_samples: packet.body.eval_samples,
        weight: 1.0,
        level: None,
    };
    append_outcomes(vec![OwnOutcome {
        checked: vec![claim],
        realised: report.normalized_gain(),
        eval_samples: report.eval_samples,
        created,
    }])
}

/// Appends `outcomes` to the ledger file (written atomically).
fn append_outcomes(outcomes: Vec<OwnOutcome>) -> Result<(), CliError> {
    let mut file = load_ledger()?;
    file.ledger.outcomes.extend(outcomes);
    let json = serde_json::to_string_pretty(&file)
        .map_err(|e| CliError::Failed(format!("the ledger: {e}")))?;
    let path = ledger_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
    }
    qis_udp::write_atomically(&path, json.as_bytes(), 0o644)
        .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))
}

/// The packets held in saved recommendations (their evidence records), for finding a packet
/// by id without the network; unreadable files are skipped.
pub(super) fn saved_packets() -> Vec<OutcomePacket> {
    let Ok(entries) = std::fs::read_dir(recommendations_dir()) else {
        return Vec::new();
    };
    let mut packets = Vec::new();
    for entry in entries.flatten() {
        let Ok(json) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(saved) = SavedRecommendation::parse(&json) else {
            continue;
        };
        packets.extend(saved.packets());
    }
    packets
}
