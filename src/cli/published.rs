//! `qis published`: what this publisher keeps on disk for its nodes to republish, and
//! `qis published withdraw ID` to stop republishing one.

use super::common::{CliError, data_home};
use qis_core::RecordId;
use qis_core::RecordKind;
use qis_core::constants::RECORD_TTL;
use qis_outcomes::{OutcomePacket, Reproduction};
use qis_udp::{DataDirLock, PublishedDir, PublishedError, PublishedFile};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shortest id prefix `withdraw` accepts: `query` shows 12 characters.
const MIN_ID_PREFIX: usize = 8;

/// Arguments of `qis published`.
#[derive(Debug, clap::Args)]
pub struct PublishedArgs {
    /// The publisher's data directory, whose published/ folder is listed (default:
    /// <data home>/publisher, where `qis publish` keeps what it published).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// One JSON object on stdout, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Without one: list what is republished.
    #[command(subcommand)]
    pub action: Option<PublishedAction>,
}

/// What `qis published` does besides listing.
#[derive(Debug, clap::Subcommand)]
pub enum PublishedAction {
    /// Stop republishing a packet: its file is removed, so no node republishes it after its
    /// next scan of the folder (a minute at most); copies the network holds expire after
    /// their TTL.
    Withdraw {
        /// The packet id (64 hex characters, or a unique prefix of at least 8, as `query` and
        /// `qis published` show it).
        id: String,
    },
}

/// The published folder of `--data-dir`, or of the default publisher directory.
pub(super) fn publisher_dir(data_dir: Option<&Path>) -> PathBuf {
    data_dir.map_or_else(|| data_home().join("publisher"), Path::to_path_buf)
}

/// Runs `qis published`.
pub(super) fn run(args: PublishedArgs) -> Result<ExitCode, CliError> {
    let data_dir = publisher_dir(args.data_dir.as_deref());
    let published = PublishedDir::in_data_dir(&data_dir);
    match &args.action {
        None => list(&published, args.json),
        Some(PublishedAction::Withdraw { id }) => {
            let id = find(&published, id)?;
            // `qis publish` writes under this lock; a withdrawal waits for it.
            let _lock =
                DataDirLock::acquire_waiting(&data_dir, "withdraw", Duration::from_secs(10))?;
            withdraw(&published, id, args.json)
        }
    }
}

fn list(published: &PublishedDir, as_json: bool) -> Result<ExitCode, CliError> {
    let (files, bad) = published.list();
    for (path, why) in &bad {
        eprintln!("skipping {}: {why}", path.display());
    }
    if as_json {
        let rows: Vec<_> = files.iter().map(file_json).collect();
        println!(
            "{}",
            json!({ "dir": published.path(), "published": rows, "unreadable": bad.len() })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12} {:<40} {:<18} {:<17} {:<17}",
        "id", "context", "benchmark", "published", "refreshed"
    );
    for file in &files {
        let row = Row::of(file);
        println!(
            "{:<12} {:<40} {:<18} {:<17} {:<17}",
            &row.id[..12],
            row.context,
            row.benchmark,
            utc_minutes(row.created),
            row.saved.map_or_else(|| "-".into(), utc_minutes)
        );
    }
    eprintln!(
        "{} packet(s) republished from {} (`qis published withdraw ID` stops one)",
        files.len(),
        published.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What a listing shows of one published file.
struct Row {
    id: String,
    context: String,
    benchmark: String,
    created: u64,
    saved: Option<u64>,
}

impl Row {
    fn of(file: &PublishedFile) -> Row {
        let record = &file.entry.record;
        // Packets and reproduction reports (`qis reproduce` keeps its reports here too); a raw
        // record (a folder may hold anything signed) has no context to show.
        let context = |family: &str, task: &str, tags: &[String]| {
            format!("{family}/{task}/{}", tags.join(","))
        };
        let (context, benchmark) = match record.kind {
            RecordKind::Outcome => match OutcomePacket::from_record(record.clone()) {
                Ok(p) => (
                    context(&p.body.family, &p.body.task, &p.body.tags),
                    p.body.setting().to_string(),
                ),
                Err(e) => (format!("(unreadable packet: {e})"), "-".into()),
            },
            RecordKind::Reproduction => match Reproduction::from_record(record.clone()) {
                Ok(r) => (
                    format!(
                        "reproduction of {} {}",
                        &r.body.of.to_string()[..12],
                        context(&r.body.family, &r.body.task, &r.body.tags)
                    ),
                    r.body.setting().to_string(),
                ),
                Err(e) => (format!("(unreadable reproduction: {e})"), "-".into()),
            },
            RecordKind::Raw => ("(a raw record)".into(), "-".into()),
        };
        Row {
            id: record.content_id().to_string(),
            context,
            benchmark,
            created: record.created,
            saved: file.saved.and_then(unix_secs),
        }
    }
}

fn file_json(file: &PublishedFile) -> serde_json::Value {
    let row = Row::of(file);
    json!({
        "packet_id": row.id, "context": row.context, "benchmark": row.benchmark,
        "published": row.created, "published_utc": utc_minutes(row.created),
        "refreshed": row.saved, "refreshed_utc": row.saved.map(utc_minutes),
        "file": file.path, "superseded_files": file.superseded,
    })
}

fn unix_secs(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The one entry whose id is `wanted` (or starts with it).
fn find(published: &PublishedDir, wanted: &str) -> Result<RecordId, CliError> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if wanted.len() < MIN_ID_PREFIX
        || wanted.len() > 64
        || !wanted.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(CliError::Input(format!(
            "withdraw {wanted:?}: expected a packet id (hex, at least {MIN_ID_PREFIX} characters, as `qis published` shows it)"
        )));
    }
    let (files, _) = published.list();
    let matches: Vec<RecordId> = files
        .iter()
        .map(|f| f.entry.content_id())
        .filter(|id| id.to_string().starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => Err(CliError::Input(format!(
            "withdraw {wanted}: no packet of that id in {} ({} published there; `qis published` lists them)",
            published.path().display(),
            files.len()
        ))),
        several => Err(CliError::Input(format!(
            "withdraw {wanted}: {} packets start with that id; give more of it",
            several.len()
        ))),
    }
}

fn withdraw(published: &PublishedDir, id: RecordId, as_json: bool) -> Result<ExitCode, CliError> {
    let removed = published.withdraw(&id).map_err(|e| match e {
        PublishedError::NotFound { .. } => CliError::Input(e.to_string()),
        other => CliError::Failed(other.to_string()),
    })?;
    let ttl_h = RECORD_TTL.as_secs() / 3600;
    if as_json {
        println!(
            "{}",
            json!({ "withdrawn": id.to_string(), "removed_files": 1 + removed.superseded.len(), "expires_within_hours": ttl_h })
        );
    } else {
        println!(
            "withdrew {id}: removed {}; a node stops republishing it within a minute, and the copies the network holds expire within {ttl_h} h",
            removed.path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
pub(super) fn utc_minutes(secs: u64) -> String {
    let days = secs / 86_400;
    let minute_of_day = (secs % 86_400) / 60;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01: counted in 400-year eras of 146,097
/// days from 0000-03-01, so that the leap day falls at the end of each shifted year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_minutes(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minutes(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_minutes(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc_minutes(1_709_251_199), "2024-02-29 23:59 UTC");
    }
}
