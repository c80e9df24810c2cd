//! `qis put`, `qis get` and `qis ping`: short-lived clients. A client joins through a bootstrap
//! node but marks itself as a client, so no node enters it into its routing table.

use super::common::{
    CliError, NetworkArgs, all_mismatched, data_home, explain_silence, resolve, runtime, unix_now,
};
use qis_core::BootstrapReport;
use qis_core::Config;
use qis_core::wire::{NetworkId, Role};
use qis_core::{Credentials, IdentityScheme};
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

/// Starts a client node on an ephemeral port of the bootstrap addresses' family.
pub(super) async fn start_client(
    network: NetworkId,
    scheme: IdentityScheme,
    bootstrap: &[SocketAddr],
) -> Result<NodeHandle, CliError> {
    let identity = qis_udp::generate_identity()?;
    let credentials = Credentials::client(&identity, scheme);
    // Dual-stack when any bootstrap address is IPv6 (a name may have both kinds), so every
    // one of them can be asked; IPv4 alone where the system has no IPv6.
    let any: std::net::IpAddr = if bootstrap.iter().any(SocketAddr::is_ipv6)
        && std::net::UdpSocket::bind("[::]:0").is_ok()
    {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    };
    let listen = SocketAddr::new(any, 0);
    let config = Config {
        network,
        role: Role::Client,
        rate_limit: None,
        join_refresh: false,
        ..Config::default()
    };
    Ok(spawn(
        &credentials,
        NodeOptions {
            listen,
            config,
            socket: SocketOptions::default(),
        },
    )
    .await?)
}

/// Joins through the bootstrap nodes. Gives up at once when every one of them has shown it
/// speaks another protocol version or runs another network: no answer can come.
pub(super) async fn join(
    client: &NodeHandle,
    bootstrap: &[SocketAddr],
    named: &[String],
) -> Result<BootstrapReport<SocketAddr>, CliError> {
    let report = tokio::select! {
        report = client.bootstrap(bootstrap.to_vec()) => Some(report?),
        () = all_mismatched(client, bootstrap) => None,
    };
    match report {
        Some(report) if report.bootstrap_answered > 0 => Ok(report),
        _ => Err(CliError::Failed(format!(
            "no bootstrap node answered ({})",
            named.join(", ")
        ))),
    }
}

fn timed_out(secs: f64) -> CliError {
    CliError::Failed(format!("timed out after {secs} s"))
}

/// Runs `work` on a client joined through `--bootstrap`, all within `--timeout`, and shuts the
/// client down. When joining fails (nobody answered, or the time ran out first) and a bootstrap
/// node spoke another network or protocol version, the error says so instead.
pub(super) fn with_client<T>(
    args: &ClientArgs,
    work: impl AsyncFnOnce(&NodeHandle) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let limit = timeout(args.timeout)?;
    let network = args.network.id()?;
    let scheme = args.network.scheme()?;
    runtime()?.block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        let bootstrap = tokio::time::timeout_at(deadline, resolve(&args.bootstrap))
            .await
            .unwrap_or_else(|_| Err(timed_out(args.timeout)))?;
        let client = start_client(network, scheme, &bootstrap).await?;
        let mut joined = false;
        let outcome = tokio::time::timeout_at(deadline, async {
            join(&client, &bootstrap, &args.bootstrap).await?;
            joined = true;
            work(&client).await
        })
        .await
        .unwrap_or_else(|_| Err(timed_out(args.timeout)));
        let outcome = match outcome {
            Err(error) if !joined => Err(explain_silence(&client, &bootstrap, &args.network)
                .await
                .unwrap_or(error)),
            other => other,
        };
        client.shutdown().await;
        outcome
    })
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
    // Its records are signed with this key, so a damaged file is never replaced silently.
    let identity = qis_udp::load_or_create_identity(&key_dir, qis_udp::KeyRole::Publisher)?;
    let record = SignedRecord::sign(identity.signing_key(), RecordKind::Raw, unix_now(), value)
        .map_err(|e| CliError::Input(format!("VALUE: {e}")))?;
    let key = key_of(&args.key);
    let report = with_client(&args.client, async |client| {
        Ok(client.put(key, record.clone()).await?)
    })?;
    if args.client.json {
        let out = json!({
            "key": key.to_hex(),
            "record_id": record.id().to_string(),
            "acks": report.acks,
            "verified": report.verified,
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
            "stored {:?}: verified at {} nodes ({} acknowledged; key {}, hops {}, {} requests, {:.1} ms)",
            args.key,
            report.verified,
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
    if report.verified == 0 {
        return Err(CliError::Failed(
            "no node that acknowledged the value served it back to an audit: it may be censored (see the README's Security section)".into(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `qis get`.
pub(super) fn get(args: GetArgs) -> Result<ExitCode, CliError> {
    let key = key_of(&args.key);
    let report = with_client(&args.client, async |client| Ok(client.get(key).await?))?;
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
    let limit = timeout(args.timeout)?;
    let network = args.network.id()?;
    let scheme = args.network.scheme()?;
    let reply = runtime()?.block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        let addr = tokio::time::timeout_at(deadline, resolve(std::slice::from_ref(&args.addr)))
            .await
            .unwrap_or_else(|_| Err(timed_out(args.timeout)))?;
        let client = start_client(network, scheme, &addr).await?;
        let asked = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                reply = client.ping(addr[0]) => Ok(reply?),
                () = all_mismatched(&client, &addr) => Ok(None),
            }
        })
        .await
        .unwrap_or_else(|_| Err(timed_out(args.timeout)));
        let answered = asked.and_then(|reply| {
            reply.ok_or_else(|| CliError::Failed(format!("{} did not answer", args.addr)))
        });
        let outcome = match answered {
            Err(error) => Err(explain_silence(&client, &addr, &args.network)
                .await
                .unwrap_or(error)),
            ok => ok,
        };
        client.shutdown().await;
        outcome
    });
    let reply = match reply {
        Ok(reply) => reply,
        Err(error) => {
            if args.json && matches!(error, CliError::Failed(_)) {
                println!("{}", json!({ "addr": args.addr, "answered": false }));
            }
            return Err(error);
        }
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
