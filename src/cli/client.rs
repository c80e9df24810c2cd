//! `qis put`, `qis get` and `qis ping`: short-lived clients. A client joins through a bootstrap
//! node but marks itself as a client, so no node enters it into its routing table.

use super::common::{CliError, NetworkArgs, data_home, resolve, runtime, unix_now};
use qis_core::Config;
use qis_core::wire::Role;
use qis_core::{Id, hex};
use qis_core::{RecordKind, SignedRecord};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions, spawn};
use serde_json::json;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Options every client subcommand takes.
#[derive(Debug, clap::Args)]
pub(super) struct ClientArgs {
    /// A node to join through (HOST:PORT); repeat for several.
    #[arg(long, required = true, value_name = "ADDR")]
    pub bootstrap: Vec<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    network: NetworkArgs,
}

/// Arguments of `qis put`.
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// The key: any text; the DHT key is its blake3 hash.
    pub key: String,
    /// The value (UTF-8 text; `-` reads standard input). A record holds at most 512 bytes,
    /// signature included.
    pub value: String,
    /// Where the signing key lives (default: <data home>/client).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `qis get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The key, as given to `qis put`.
    pub key: String,
    #[command(flatten)]
    client: ClientArgs,
}

/// Arguments of `qis ping`.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// The node to ping (HOST:PORT).
    pub addr: String,
    /// Give up after this many seconds (the node itself retries once, after about 3 s).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    network: NetworkArgs,
}

/// The DHT key for a user's key text.
pub(super) fn key_of(text: &str) -> Id {
    Id::hash(text.as_bytes())
}

fn timeout(secs: f64) -> Result<Duration, CliError> {
    if !(secs.is_finite() && secs > 0.0 && secs < 1e6) {
        return Err(CliError::Input(format!(
            "--timeout {secs}: expected a positive number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Starts a client node on an ephemeral port of the seeds' address family.
async fn start_client(network: &NetworkArgs, seeds: &[SocketAddr]) -> Result<NodeHandle, CliError> {
    let identity = qis_udp::generate_identity()?;
    let listen: SocketAddr = if seeds.first().is_some_and(SocketAddr::is_ipv6) {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()
    .map_err(|_| CliError::Input("listen address".into()))?;
    let config = Config {
        network: network.id()?,
        role: Role::Client,
        rate_limit: None,
        join_refresh: false,
        ..Config::default()
    };
    Ok(spawn(
        &identity,
        NodeOptions {
            listen,
            config,
            socket: SocketOptions::default(),
        },
    )
    .await?)
}

/// Starts a client and joins through the bootstrap nodes.
pub(super) async fn connect(args: &ClientArgs) -> Result<NodeHandle, CliError> {
    let seeds = resolve(&args.bootstrap).await?;
    let client = start_client(&args.network, &seeds).await?;
    let report = client.bootstrap(seeds).await?;
    if report.bootstrap_answered == 0 {
        return Err(CliError::Failed(format!(
            "no bootstrap node answered ({})",
            args.bootstrap.join(", ")
        )));
    }
    Ok(client)
}

pub(super) async fn bounded<T>(
    secs: f64,
    work: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::time::timeout(timeout(secs)?, work)
        .await
        .map_err(|_| CliError::Failed(format!("timed out after {secs} s")))?
}

fn read_value(value: &str) -> Result<Vec<u8>, CliError> {
    if value == "-" {
        let mut buf = Vec::new();
        std::io::stdin().take(64 * 1024).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    Ok(value.as_bytes().to_vec())
}

/// Runs `qis put`.
pub(super) fn put(args: PutArgs) -> Result<ExitCode, CliError> {
    let value = read_value(&args.value)?;
    let key_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| data_home().join("client"));
    let identity = qis_udp::load_or_create_identity(&key_dir)?;
    let record = SignedRecord::sign(identity.signing_key(), RecordKind::Raw, unix_now(), value)
        .map_err(|e| CliError::Input(format!("VALUE: {e}")))?;
    let key = key_of(&args.key);
    let report = runtime()?.block_on(bounded(args.client.timeout, async {
        let client = connect(&args.client).await?;
        let report = client.put(key, record.clone()).await?;
        client.shutdown().await;
        Ok(report)
    }))?;
    if args.client.json {
        let out = json!({
            "key": key.to_hex(),
            "record_id": record.id().to_string(),
            "acks": report.acks,
            "refused": report.refused,
            "failed": report.failed,
            "hops": report.lookup.hops,
            "rounds": report.lookup.rounds,
            "requests": report.lookup.requests,
            "elapsed_ms": report.lookup.elapsed.as_secs_f64() * 1e3,
        });
        println!("{out}");
    } else {
        println!(
            "stored {:?} at {} nodes (key {}, hops {}, {} requests, {:.1} ms)",
            args.key,
            report.acks,
            &key.to_hex()[..16],
            report.lookup.hops,
            report.lookup.requests,
            report.lookup.elapsed.as_secs_f64() * 1e3
        );
    }
    if report.acks == 0 {
        return Err(CliError::Failed("no node stored the value".into()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `qis get`.
pub(super) fn get(args: GetArgs) -> Result<ExitCode, CliError> {
    let key = key_of(&args.key);
    let report = runtime()?.block_on(bounded(args.client.timeout, async {
        let client = connect(&args.client).await?;
        let report = client.get(key).await?;
        client.shutdown().await;
        Ok(report)
    }))?;
    if args.client.json {
        let values: Vec<_> = report
            .records
            .iter()
            .map(|r| {
                json!({
                    "value": String::from_utf8_lossy(&r.payload),
                    "value_hex": hex(&r.payload),
                    "publisher": r.publisher.id().to_hex(),
                    "created": r.created,
                    "record_id": r.id().to_string(),
                })
            })
            .collect();
        let out = json!({
            "key": key.to_hex(),
            "values": values,
            "holders": report.holders,
            "complete": report.complete,
            "hops": report.lookup.hops,
            "rounds": report.lookup.rounds,
            "requests": report.lookup.requests,
            "elapsed_ms": report.lookup.elapsed.as_secs_f64() * 1e3,
        });
        println!("{out}");
    } else {
        for r in &report.records {
            println!("{}", String::from_utf8_lossy(&r.payload));
        }
        eprintln!(
            "{} value(s) from {} holder(s); hops {}, {} requests, {:.1} ms",
            report.records.len(),
            report.holders,
            report.lookup.hops,
            report.lookup.requests,
            report.lookup.elapsed.as_secs_f64() * 1e3
        );
    }
    if report.records.is_empty() {
        return Err(CliError::Failed(format!("no value under {:?}", args.key)));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `qis ping`.
pub(super) fn ping(args: PingArgs) -> Result<ExitCode, CliError> {
    let reply = runtime()?.block_on(bounded(args.timeout, async {
        let addr = resolve(std::slice::from_ref(&args.addr)).await?;
        let client = start_client(&args.network, &addr).await?;
        let reply = client.ping(addr[0]).await?;
        client.shutdown().await;
        Ok(reply)
    }))?;
    let Some(reply) = reply else {
        if args.json {
            println!("{}", json!({ "addr": args.addr, "answered": false }));
        }
        return Err(CliError::Failed(format!("{} did not answer", args.addr)));
    };
    if args.json {
        println!(
            "{}",
            json!({ "addr": reply.addr, "answered": true, "id": reply.id.to_hex(), "rtt_ms": reply.rtt.as_secs_f64() * 1e3 })
        );
    } else {
        println!(
            "{} answered: id {} rtt {:.2} ms",
            reply.addr,
            reply.id,
            reply.rtt.as_secs_f64() * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}
