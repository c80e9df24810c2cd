//! `qis reproduce`: report a re-run of somebody's packet, stored under that packet's keys.

use super::client::{ClientArgs, with_client};
use super::common::{CliError, data_home, unix_now};
use super::ledger;
use super::packet::{RunFlags, draft_from_run};
use crate::exchange::{fetch_packets, publish_reproduction};
use qis_core::Id;
use qis_outcomes::standing::tolerance;
use qis_outcomes::{Draft, OutcomePacket, Overrides, Query, Reproduction, ReproductionBody};
use qis_udp::{DataDirLock, KeyRole, PublishedDir, PublishedEntry};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Shortest packet-id prefix `qis reproduce` accepts (`query` shows 12 characters).
const MIN_ID_PREFIX: usize = 8;

/// Arguments of `qis reproduce`.
#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// The packet you re-ran: its id, or at least its first 8 hex characters (`query` shows
    /// 12). It is looked up in your saved recommendations, then under the keys of the context
    /// given by --family/--task/--tag (or found in --from-run).
    pub packet: String,
    /// Read your re-run's scores from its output directory, as `packet from-run` does
    /// (otherwise give --baseline, --outcome, --eval-samples).
    #[arg(long, value_name = "DIR")]
    pub from_run: Option<PathBuf>,
    #[command(flatten)]
    flags: RunFlags,
    /// Where the publisher key lives; the report is kept in DIR/published so a node
    /// republishes it (default: <data home>/publisher).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Runs `qis reproduce`.
pub(super) fn run(args: ReproduceArgs) -> Result<ExitCode, CliError> {
    if !args.flags.built_on.is_empty() {
        return Err(CliError::Input(
            "--built-on does not apply to a reproduction: it names the one packet it re-ran".into(),
        ));
    }
    let prefix = id_prefix(&args.packet)?;
    let draft = rerun_draft(&args)?;
    let packet = find_packet(&prefix, &draft, &args.client)?;
    let body = ReproductionBody::from_draft(&packet, &draft)
        .map_err(|e| CliError::Input(format!("packet {}: {e}", packet.id())))?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| data_home().join("publisher"));
    let lock = DataDirLock::acquire_waiting(&data_dir, "reproduce", Duration::from_secs(10))?;
    let identity = qis_udp::load_or_create_identity(&data_dir, KeyRole::Publisher)?;
    let report = Reproduction::sign(body, &packet, identity.signing_key(), unix_now())
        .map_err(|e| CliError::Input(e.to_string()))?;
    let keys = report.keys();
    let saved = PublishedDir::in_data_dir(&data_dir)
        .save(&PublishedEntry {
            keys: keys.iter().map(|k| k.id).collect(),
            record: report.record.clone(),
        })
        .map_err(|e| CliError::Failed(e.to_string()))?;
    drop(lock);
    let stored = with_client(&args.client, async |client| {
        Ok(publish_reproduction(client, &report).await)
    })?;
    ledger::record_reproduction(&packet, &report.body, report.created())?;
    let claimed = packet.body.normalized_gain();
    let yours = report.body.normalized_gain();
    let allowed = tolerance(packet.body.eval_samples, report.body.eval_samples);
    let agrees = yours >= claimed - allowed;
    if args.client.json {
        let keys: Vec<_> = keys.iter().zip(&stored).map(|(k, s)| json!({"level": k.level.label(), "key": k.text, "id": k.id.to_hex(), "acks": s.acks, "verified": s.verified})).collect();
        println!(
            "{}",
            json!({ "reproduction_id": report.id().to_string(), "of": packet.id().to_string(),
                "claimed_gain": claimed, "your_gain": yours, "tolerance": allowed, "agrees": agrees,
                "encoded_size": report.record.encoded_len(), "keys": keys, "saved": saved })
        );
    } else {
        println!(
            "reproduction {} of packet {} ({} bytes)",
            report.id(),
            packet.id(),
            report.record.encoded_len()
        );
        let verdict = if agrees {
            "agrees: your gain is within the combined uncertainty of the claim"
        } else {
            "does not reproduce: your gain is below the claim by more than the combined uncertainty"
        };
        println!(
            "  claimed gain {claimed:+.4}, yours {yours:+.4} (allowed shortfall {allowed:.4}): {verdict}"
        );
        for (key, s) in keys.iter().zip(&stored) {
            println!(
                "  {:<12} {:<60} verified at {} nodes ({} acknowledged)",
                key.level.label(),
                key.text,
                s.verified,
                s.acks
            );
        }
        println!(
            "kept in {} (a qis node republishes it); your ledger now counts it as your own observation",
            saved.display()
        );
    }
    if stored.iter().all(|s| s.acks == 0) {
        return Err(CliError::Failed(format!(
            "no node stored the reproduction (kept in {} for republishing)",
            saved.display()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// The packet id or id prefix, lower-case hex of at least [`MIN_ID_PREFIX`] characters.
fn id_prefix(text: &str) -> Result<String, CliError> {
    let text = text.trim().to_ascii_lowercase();
    if text.len() < MIN_ID_PREFIX || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(CliError::Input(format!(
            "packet {text:?}: expected a packet id (hex, at least its first {MIN_ID_PREFIX} characters, as `query` shows it)"
        )));
    }
    Ok(text)
}

/// The re-run as a draft: from its run folder, or from the flags alone.
fn rerun_draft(args: &ReproduceArgs) -> Result<Draft, CliError> {
    let mut draft = match &args.from_run {
        Some(dir) => {
            let run = draft_from_run(dir, &args.flags)?;
            eprint!("{}", run.render());
            run.draft
        }
        None => flag_draft(&args.flags.overrides()),
    };
    // A reproduction is scored like the packet; what it needs of the run is its scores.
    for (field, missing) in [
        ("--baseline", draft.baseline.is_none()),
        ("--outcome", draft.outcome.is_none()),
        ("--eval-samples", draft.eval_samples.is_none()),
    ] {
        if missing {
            return Err(CliError::Input(format!(
                "the re-run's {} is unknown: give {field} (or --from-run DIR with its results)",
                &field[2..]
            )));
        }
    }
    draft.held_out.get_or_insert(true);
    Ok(draft)
}

/// Finds the packet by id prefix: in saved recommendations, else under the keys of the
/// context the flags (or the run) state.
fn find_packet(
    prefix: &str,
    draft: &Draft,
    client: &ClientArgs,
) -> Result<OutcomePacket, CliError> {
    let matching = |packets: Vec<OutcomePacket>| -> Result<Option<OutcomePacket>, CliError> {
        let mut found: Vec<OutcomePacket> = packets
            .into_iter()
            .filter(|p| p.id().to_string().starts_with(prefix))
            .collect();
        found.sort_by_key(|p| p.id());
        found.dedup_by_key(|p| p.id());
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(CliError::Input(format!(
                "packet {prefix}: {n} packets start with it; give more of the id"
            ))),
        }
    };
    if let Some(packet) = matching(ledger::saved_packets())? {
        return Ok(packet);
    }
    let Some(task) = &draft.task else {
        return Err(CliError::Input(format!(
            "packet {prefix} is in none of your saved recommendations: give its context (--task, and --family/--tag) to look it up"
        )));
    };
    let query = Query::new(draft.family.as_deref(), task, &draft.tags);
    let keys: Vec<Id> = query.keys().iter().map(|k| k.id).collect();
    let (packets, _) = with_client(client, async |node| Ok(fetch_packets(node, &keys).await))?;
    matching(packets)?.ok_or_else(|| {
        CliError::Failed(format!(
            "packet {prefix} was not found in your saved recommendations nor under the keys of task {task} (check its id and context with `qis query`)"
        ))
    })
}

/// The re-run as the flags state it (no run folder).
fn flag_draft(o: &Overrides) -> Draft {
    Draft {
        family: o.family.clone(),
        task: o.task.clone(),
        tags: o.tags.clone(),
        benchmark: o.benchmark.clone(),
        metric: o.metric.clone(),
        filter: o.lm_eval_filter.clone(),
        shots: o.shots,
        score_scale: o.score_scale,
        higher_is_better: o.higher_is_better,
        baseline: o.baseline,
        outcome: o.outcome,
        eval_samples: o.eval_samples,
        held_out: o.held_out,
        ..Draft::default()
    }
}
