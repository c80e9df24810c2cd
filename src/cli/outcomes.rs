//! `qis publish`, `qis query`, `qis recommend`: outcome packets over the DHT.

use super::answer::{OutputFormat, chosen, fragment};
use super::client::{ClientArgs, with_client};
use super::common::{CliError, unix_now};
use super::ledger;
use super::packet::{RunFlags, draft_from_run};
use super::published::{publisher_dir, utc_minutes};
use crate::exchange::{fetch, publish_packet};
use qis_core::Id;
use qis_outcomes::check_packet_file as check;
use qis_outcomes::{Evidence, NoFeedback, Reproduced, SavedRecommendation, standing};
use qis_outcomes::{OutcomeBody, OutcomePacket, Query, Trace};
use qis_outcomes::{PasteFormat, Recommendation};
use qis_outcomes::{Ranked, rank};
use qis_outcomes::{recommend, render_json, render_table};
use qis_udp::{DataDirLock, KeyRole, PublishedDir, PublishedEntry};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `qis publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// A packet file (see `qis packet new`); or use --from-run.
    #[arg(required_unless_present = "from_run", conflicts_with = "from_run")]
    pub file: Option<PathBuf>,
    /// Draft the packet from a training run's output directory (fields and their origins are
    /// printed before anything is published).
    #[arg(long, value_name = "DIR")]
    pub from_run: Option<PathBuf>,
    #[command(flatten)]
    flags: RunFlags,
    /// Where the publisher key lives; published packets are kept in DIR/published so a node
    /// republishes them (default: <data home>/publisher).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// What to look for: the context of the caller's own fine-tuning run.
#[derive(Debug, clap::Args)]
pub(super) struct ContextArgs {
    /// Base model family (optional: without it only task-level keys are asked).
    #[arg(long)]
    pub family: Option<String>,
    /// Task type, e.g. summarization.
    #[arg(long)]
    pub task: String,
    /// Domain tags, comma-separated or repeated, e.g. swahili,news (at most 6, each at most 32
    /// bytes, as in a packet; --tag works too).
    #[arg(long, visible_alias = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `qis query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    context: ContextArgs,
    /// Show at most this many packets.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// Arguments of `qis recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    context: ContextArgs,
    /// A publisher you trust outright, by the id `query` shows (repeatable): its packets get
    /// full standing. Everyone else's standing comes from feedback.
    #[arg(long = "trust", value_name = "PUBLISHER")]
    pub trust: Vec<String>,
    /// Do not save the recommendation (by default it is kept in <data home>/recommendations,
    /// so the result you publish with --built-on ID records what it used and is checked
    /// against it in your ledger).
    #[arg(long)]
    pub no_save: bool,
    /// What to print: a table (the default), json (as --json does), or a fragment to paste
    /// into a training config: peft (LoraConfig kwargs), axolotl (YAML), trl (SFTConfig,
    /// DPOConfig, ... kwargs) or optuna (a search space). A fragment holds only what the
    /// evidence stated; with nothing to paste it says why on stderr and exits 1.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<OutputFormat>,
}

/// The publisher ids of `--trust`, checked.
fn trusted_ids(args: &RecommendArgs) -> Result<Vec<qis_core::Id>, CliError> {
    args.trust
        .iter()
        .map(|hex| {
            qis_core::Id::from_hex(hex).ok_or_else(|| {
                CliError::Input(format!(
                    "--trust {hex:?}: expected a publisher id of 64 hex characters (as `query` shows it)"
                ))
            })
        })
        .collect()
}

/// Runs `qis publish`.
pub(super) fn publish(args: PublishArgs) -> Result<ExitCode, CliError> {
    let body = packet_body(&args)?;
    let data_dir = publisher_dir(args.data_dir.as_deref());
    // One writer at a time (a concurrent `qis publish` waits a little), so stale temporary
    // files can be removed safely.
    let lock = DataDirLock::acquire_waiting(&data_dir, "publish", Duration::from_secs(10))?;
    let published = PublishedDir::in_data_dir(&data_dir);
    for dir in [data_dir.as_path(), published.path()] {
        qis_udp::remove_stale_temporaries(dir).map_err(|e| CliError::Failed(e.to_string()))?;
    }
    let identity = qis_udp::load_or_create_identity(&data_dir, KeyRole::Publisher)?;
    let signed = OutcomePacket::sign(body, identity.signing_key(), unix_now())
        .map_err(|e| CliError::Input(e.to_string()))?;
    // The same body from this key is the same packet whenever it is signed: publishing it
    // again stores the record kept from the first time (holders refresh it), not a second one.
    let already = published
        .list()
        .0
        .into_iter()
        .find(|f| f.entry.content_id() == signed.id());
    let packet = match &already {
        Some(file) => {
            eprintln!(
                "already published as {} on {}; republishing refreshes it (no second packet is made)",
                signed.id(),
                utc_minutes(file.entry.record.created)
            );
            OutcomePacket::from_record(file.entry.record.clone())
                .map_err(|e| CliError::Failed(format!("{}: {e}", file.path.display())))?
        }
        None => signed,
    };
    let keys = packet.keys();
    let entry = PublishedEntry {
        keys: keys.iter().map(|k| k.id).collect(),
        record: packet.record.clone(),
    };
    let saved = published
        .save(&entry)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    drop(lock);
    // The result enters the ledger once, when it is first kept (whatever the network does
    // next: a node republishes it), never again when it is published again.
    let checked = match already {
        Some(_) => 0,
        None => ledger::record_outcome(&args.flags.built_on, &packet.body, packet.created())?,
    };
    let id = packet.id().to_string();
    // From here on the packet is on disk for republishing: a failure says so.
    let kept = |error: CliError| {
        CliError::Failed(format!(
            "{error}; the packet is kept in {} and a qis node republishes it from there (`qis published withdraw {}` drops it)",
            saved.display(),
            &id[..12]
        ))
    };
    let stored = with_client(&args.client, async |client| {
        Ok(publish_packet(client, &packet).await)
    })
    .map_err(kept)?;
    let size = packet.record.encoded_len();
    if args.client.json {
        let keys: Vec<_> = keys.iter().zip(&stored).map(|(k, s)| json!({"level": k.level.label(), "key": k.text, "id": k.id.to_hex(), "acks": s.acks, "verified": s.verified})).collect();
        println!(
            "{}",
            json!({ "packet_id": id, "encoded_size": size, "keys": keys, "saved": saved, "ledger_entries": checked, "already_published": already.is_some() })
        );
    } else {
        let verb = if already.is_some() {
            "refreshed"
        } else {
            "published"
        };
        println!("{verb} packet {id} ({size} bytes)");
        for (key, s) in keys.iter().zip(&stored) {
            println!(
                "  {:<12} {:<60} verified at {} nodes ({} acknowledged)",
                key.level.label(),
                key.text,
                s.verified,
                s.acks
            );
        }
        if checked > 0 {
            println!(
                "checked against the recommendation it built on: your ledger now roots standing in it"
            );
        }
        println!(
            "kept in {} (a qis node republishes it from there)",
            saved.display()
        );
    }
    if stored.iter().all(|s| s.acks == 0) {
        return Err(kept(CliError::Failed("no node stored the packet".into())));
    }
    if stored.iter().all(|s| s.verified == 0) {
        return Err(kept(CliError::Failed(
            "no node that acknowledged the packet served it back to an audit: it may be censored (see the README's Security section)".into(),
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn packet_body(args: &PublishArgs) -> Result<OutcomeBody, CliError> {
    if let Some(dir) = &args.from_run {
        let draft = draft_from_run(dir, &args.flags)?;
        eprint!("{}", draft.render());
        return draft.build().map_err(|e| CliError::Input(e.to_string()));
    }
    let file = args
        .file
        .as_ref()
        .ok_or_else(|| CliError::Input("give a packet FILE or --from-run DIR".into()))?;
    let report = check(file).map_err(|e| CliError::Input(e.to_string()))?;
    Ok(report.body)
}

fn query_of(context: &ContextArgs) -> Result<Query, CliError> {
    // The context is held to the rules of the packets it looks for: a tag no packet may carry
    // would only ever find nothing.
    qis_outcomes::check_query(context.family.as_deref(), &context.task, &context.tags)
        .map_err(|e| CliError::Input(format!("--{e}")))?;
    Ok(Query::new(
        context.family.as_deref(),
        &context.task,
        &context.tags,
    ))
}

/// What a query found: the packets ranked, the reproductions of them, and refusals.
struct Found {
    ranked: Vec<Ranked>,
    reproductions: Vec<Reproduced>,
    refused: usize,
}

impl Found {
    /// How many of the reproductions name packet `id`.
    fn reproductions_of(&self, id: &qis_core::RecordId) -> usize {
        self.reproductions
            .iter()
            .filter(|r| r.body.of == *id)
            .count()
    }
}

fn search(context: &ContextArgs) -> Result<Found, CliError> {
    let query = query_of(context)?;
    let keys: Vec<Id> = query.keys().iter().map(|k| k.id).collect();
    let fetched = with_client(&context.client, async |client| {
        Ok(fetch(client, &keys).await)
    })?;
    Ok(Found {
        ranked: rank(&query, fetched.packets),
        reproductions: fetched
            .reproductions
            .iter()
            .map(Reproduced::of_report)
            .collect(),
        refused: fetched.refused,
    })
}

fn packet_json(r: &Ranked, reproductions: usize) -> serde_json::Value {
    let b = &r.packet.body;
    json!({
        "packet_id": r.id().to_string(),
        "similarity": r.similarity.score,
        "level": r.similarity.level.label(),
        "family": b.family, "task": b.task, "tags": b.tags,
        "method": b.method.to_string(), "benchmark": b.benchmark,
        "metric": b.metric, "filter": b.filter, "shots": b.shots,
        "higher_is_better": b.higher_is_better, "gain": b.gain(),
        "baseline": b.baseline, "outcome": b.outcome, "delta": b.delta(),
        "eval_samples": b.eval_samples, "held_out": b.held_out, "confidence": b.confidence,
        "hyperparams": b.hyperparams.iter().map(|(k, v)| (k.name().to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
        "publisher": r.packet.publisher().id().to_hex(),
        "reproductions": reproductions,
    })
}

/// Runs `qis query`.
pub(super) fn query(args: QueryArgs) -> Result<ExitCode, CliError> {
    let found = search(&args.context)?;
    let (ranked, refused) = (&found.ranked, found.refused);
    let shown = &ranked[..ranked.len().min(args.limit)];
    if args.context.client.json {
        let packets: Vec<_> = shown
            .iter()
            .map(|r| packet_json(r, found.reproductions_of(&r.id())))
            .collect();
        println!(
            "{}",
            json!({ "found": ranked.len(), "refused": refused, "reproductions": found.reproductions.len(), "packets": packets })
        );
    } else {
        println!(
            "{:<5} {:<12} {:<14} {:<16} {:<22} {:<16} {:<12} {:>8} {:>6} {:>5} {:>5}  id",
            "sim",
            "level",
            "family",
            "method",
            "tags",
            "benchmark",
            "metric",
            "gain",
            "n",
            "conf",
            "repro"
        );
        for r in shown {
            let b = &r.packet.body;
            println!(
                "{:<5.2} {:<12} {:<14} {:<16} {:<22} {:<16} {:<12} {:>+8.4} {:>6} {:>5.2} {:>5}  {}",
                r.similarity.score,
                r.similarity.level.label(),
                b.family,
                b.method.to_string(),
                b.tags.join(","),
                b.benchmark,
                b.metric,
                // The gain (positive: the fine-tune helped, whichever way the metric points),
                // as `recommend` reports it.
                b.gain(),
                b.eval_samples,
                b.confidence,
                found.reproductions_of(&r.id()),
                &r.id().to_string()[..12]
            );
        }
        eprintln!(
            "{} packet(s) found, {} shown{}",
            ranked.len(),
            shown.len(),
            refused_note(refused)
        );
    }
    if ranked.is_empty() {
        return Err(CliError::Failed("no packets for this context".into()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every `--format` fragment of `rec`, by format name: `{"text": ...}`, or `{"error": ...}`
/// saying why there is nothing to paste in that format, so a tool that asked once for JSON
/// (the Python package) has them all without asking the network again.
fn fragments_json(rec: &Recommendation, trace: &Trace) -> serde_json::Value {
    PasteFormat::ALL
        .iter()
        .map(|&format| {
            let entry = match fragment(format, rec, trace) {
                Ok(text) => json!({ "text": text }),
                Err(error) => json!({ "error": error.to_string() }),
            };
            (format.name().to_string(), entry)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn refused_note(refused: usize) -> String {
    if refused == 0 {
        String::new()
    } else {
        format!(", {refused} invalid record(s) ignored")
    }
}

/// Runs `qis recommend`.
pub(super) fn recommend_cmd(args: RecommendArgs) -> Result<ExitCode, CliError> {
    let format = chosen(args.format, args.context.client.json)?;
    let trusted = trusted_ids(&args)?;
    let query = query_of(&args.context)?;
    let found = search(&args.context)?;
    let (ranked, refused) = (&found.ranked, found.refused);
    let mut evidence: Vec<Evidence> = ranked
        .iter()
        .map(|r| Evidence::from_ranked(r, &NoFeedback))
        .collect();
    // Standing from feedback in what was found, rooted in the user's own outcomes (its
    // ledger) and the publishers it trusts.
    let mut ledger = ledger::load_ledger()?.ledger;
    ledger.trusted.extend(
        evidence
            .iter()
            .map(|e| e.publisher)
            .filter(|key| trusted.contains(&key.id())),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let standing = standing::standings(&evidence, &found.reproductions, &ledger, now);
    standing::apply(&mut evidence, &standing);
    // Each key level weighs what the user's own outcomes say it predicted.
    qis_outcomes::LevelWeights::learn(&ledger, now).apply(&mut evidence);
    let context = json!({ "family": query.family, "task": query.task, "tags": query.tags });
    let Some(rec) = recommend::recommend(&evidence) else {
        if format == OutputFormat::Json {
            println!(
                "{}",
                json!({ "found": ranked.len(), "context": context, "recommendation": null })
            );
        }
        let nothing = if format.paste().is_some() {
            ": nothing to paste"
        } else {
            ""
        };
        return Err(CliError::Failed(format!(
            "no usable evidence ({} packet(s) found{}){nothing}",
            ranked.len(),
            refused_note(refused)
        )));
    };
    let records: Vec<_> = ranked.iter().map(|r| r.packet.record.clone()).collect();
    let saved = SavedRecommendation::new(&rec, &query, &evidence, &records, now);
    // A fragment is made before anything is saved: a recommendation with nothing to paste
    // leaves no file behind.
    let trace = Trace {
        id: ledger::recommendation_id(&saved)?,
        saved: !args.no_save,
        family: query.family.clone(),
        task: query.task.clone(),
        tags: query.tags.clone(),
    };
    let pasted = match format.paste() {
        Some(paste_format) => Some(fragment(paste_format, &rec, &trace)?),
        None => None,
    };
    let saved_id = if args.no_save {
        None
    } else {
        Some(ledger::save_recommendation(&saved)?)
    };
    match (format, pasted) {
        (OutputFormat::Json, _) => println!(
            "{}",
            json!({ "found": ranked.len(), "refused": refused, "context": context, "recommendation": render_json(&rec), "recommendation_id": saved_id, "ledger_outcomes": ledger.outcomes.len(), "fragments": fragments_json(&rec, &trace) })
        ),
        (_, Some(text)) => print!("{text}"),
        (_, None) => print!("{}", render_table(&rec)),
    }
    if format != OutputFormat::Json {
        eprintln!("from {} packet(s){}", ranked.len(), refused_note(refused));
        if let Some(id) = &saved_id {
            eprintln!("saved as recommendation {id}: publish your result with --built-on {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
