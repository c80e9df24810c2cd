//! `qis status`: what a running node says about itself through the control socket in its data
//! directory ([`super::control`]): its id, role, routing table, records held and drops. No
//! network port is involved, and only the node's own user (or root) is answered.

use super::common::{CliError, data_home};
use qis_core::wire::Role;
use qis_udp::NodeStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The file name of a node's control socket in its data directory.
pub(super) const CONTROL_SOCKET: &str = "control.sock";

/// The version of the report a control socket answers (its `format` field). Fields are only
/// ever added within a format; a reader ignores those it does not know.
pub(super) const STATUS_FORMAT: u32 = 1;

/// The most a report may be (it is well under 2 KiB).
const MAX_REPORT_BYTES: u64 = 64 * 1024;

/// How long `qis status` waits for a node's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Arguments of `qis status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The node's data directory (its --data-dir). Default: every node under <data home>
    /// (`node-*` directories).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// One JSON object per node, one per line, instead of the text.
    #[arg(long)]
    pub json: bool,
}

/// What a running node reports about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StatusReport {
    /// [`STATUS_FORMAT`].
    pub format: u32,
    /// The qis version the node runs.
    pub qis_version: String,
    /// The node's process id.
    pub pid: u32,
    /// Node id (hex).
    pub id: String,
    /// `node` (a full node, in others' routing tables) or `client` (only asks).
    pub role: String,
    /// The address it listens on.
    pub addr: String,
    /// The network's name.
    pub network: String,
    /// Its data directory.
    pub data_dir: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Routing-table entries.
    pub table: usize,
    /// Records held for others.
    pub records: usize,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Requests answered.
    pub requests_answered: u64,
    /// Datagrams dropped, all reasons.
    pub dropped: u64,
    /// Datagrams dropped, by reason (the `reason` labels of the metrics endpoint).
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// Datagrams not sent because the socket's send buffer was full.
    pub sends_dropped: u64,
    /// The journal of held records.
    pub journal: Option<JournalStatus>,
    /// What the reachability checks found (`None`: a fixed `--role`, no checks).
    #[serde(default)]
    pub reachability: Option<ReachStatus>,
    /// The port mapping the gateway holds for the node (`--port-mapping`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mapping: Option<PortMappingStatus>,
}

/// The reachability part of a [`StatusReport`], for a node in the automatic role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ReachStatus {
    /// `unknown` (not decided yet: a client), `reachable` (a full node) or `unreachable` (a
    /// client).
    pub verdict: String,
    /// The address peers see the node at, if one answered.
    pub external: Option<String>,
    /// Checks started.
    pub checks: u64,
    /// Times the observed address changed (each started a check).
    pub address_changes: u64,
}

/// The port-mapping part of a [`StatusReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PortMappingStatus {
    /// The external address others reach the node at.
    pub external: String,
    /// `PCP`, `NAT-PMP` or `UPnP`.
    pub protocol: String,
    /// The gateway that holds it.
    pub gateway: String,
    /// Seconds granted at the last request (0: permanent).
    pub lifetime_s: u32,
}

/// The journal part of a [`StatusReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct JournalStatus {
    /// Its size in bytes.
    pub bytes: u64,
    /// Group commits since start (one write and one sync each).
    pub commits: u64,
    /// Commits that failed.
    pub failures: u64,
}

/// What a node's status names it: `node` or `client`.
pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Node => "node",
        Role::Client => "client",
    }
}

impl StatusReport {
    /// The report of a node with these `stats`.
    pub(super) fn new(
        stats: &NodeStats,
        network: &str,
        data_dir: &Path,
        uptime: Duration,
    ) -> StatusReport {
        let m = &stats.metrics;
        StatusReport {
            format: STATUS_FORMAT,
            qis_version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            id: stats.id.clone(),
            role: role_name(stats.role).to_string(),
            addr: stats.addr.to_string(),
            network: network.to_string(),
            data_dir: data_dir.display().to_string(),
            uptime_s: uptime.as_secs(),
            table: stats.table_size,
            records: stats.records,
            datagrams_in: m.datagrams_in,
            datagrams_out: m.datagrams_out,
            bytes_in: m.bytes_in,
            bytes_out: m.bytes_out,
            requests_answered: m.requests_answered,
            dropped: m.dropped(),
            dropped_by_reason: qis_udp::prometheus::drop_reasons(m)
                .iter()
                .map(|(reason, n)| (reason.to_string(), *n))
                .collect(),
            sends_dropped: stats.sends_dropped,
            journal: stats.journal.map(|j| JournalStatus {
                bytes: j.bytes,
                commits: j.commits,
                failures: j.failures,
            }),
            reachability: stats.reachability.map(|r| ReachStatus {
                verdict: r.verdict.name().to_string(),
                external: r.external.map(|a| a.to_string()),
                checks: r.checks,
                address_changes: r.address_changes,
            }),
            port_mapping: qis_udp::portmap::current_mapping().map(|m| PortMappingStatus {
                external: m.external.to_string(),
                protocol: m.protocol.to_string(),
                gateway: m.gateway.to_string(),
                lifetime_s: m.lifetime_s,
            }),
        }
    }

    /// The report as `qis status` prints it.
    fn text(&self) -> String {
        let mut drops: Vec<(&String, &u64)> = self
            .dropped_by_reason
            .iter()
            .filter(|(_, n)| **n > 0)
            .collect();
        drops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let drops: Vec<String> = drops.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let dropped = if drops.is_empty() {
            "0".to_string()
        } else {
            format!("{}: {}", self.dropped, drops.join(", "))
        };
        let journal = self.journal.as_ref().map_or(String::new(), |j| {
            format!(
                " (journal {} bytes, {} commits, {} failures)",
                j.bytes, j.commits, j.failures
            )
        });
        let lost = if self.sends_dropped > 0 {
            format!("; {} sends lost to a full send buffer", self.sends_dropped)
        } else {
            String::new()
        };
        let role = match &self.reachability {
            None => self.role.clone(),
            Some(r) => format!(
                "{} (auto: {}{}, {} checks, {} address changes)",
                self.role,
                r.verdict,
                r.external
                    .as_ref()
                    .map_or(String::new(), |a| format!(", seen at {a}")),
                r.checks,
                r.address_changes
            ),
        };
        let mapped = self.port_mapping.as_ref().map_or(String::new(), |p| {
            format!(
                "  mapped    {} via {} (gateway {}, lifetime {} s)\n",
                p.external, p.protocol, p.gateway, p.lifetime_s
            )
        });
        format!(
            "node {}\n  role      {role}\n  address   {} (network {})\n{mapped}  data dir  {}\n  up        {} (pid {}, qis {})\n  table     {} entries\n  records   {} held for others{journal}\n  traffic   {} datagrams in, {} out; {} requests answered{lost}\n  dropped   {dropped}\n",
            self.id,
            self.addr,
            self.network,
            self.data_dir,
            duration(self.uptime_s),
            self.pid,
            self.qis_version,
            self.table,
            self.records,
            self.datagrams_in,
            self.datagrams_out,
            self.requests_answered,
        )
    }
}

/// `3725` as `1h 02m 05s`.
fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// Why no report came from a data directory.
#[derive(Debug)]
enum Unreachable {
    /// No control socket: no node has run there, or it stopped cleanly.
    NoSocket,
    /// A socket nobody listens on: left by a node that was killed.
    Stale,
    /// Anything else, said in full.
    Other(String),
}

/// Asks the node of `data_dir` for its report.
fn ask(data_dir: &Path) -> Result<StatusReport, Unreachable> {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    let path = data_dir.join(CONTROL_SOCKET);
    if !path.exists() {
        return Err(Unreachable::NoSocket);
    }
    let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Unreachable::Stale,
        std::io::ErrorKind::NotFound => Unreachable::NoSocket,
        std::io::ErrorKind::PermissionDenied => Unreachable::Other(format!(
            "{}: permission denied (run qis status as the node's user, or as root)",
            path.display()
        )),
        _ => Unreachable::Other(format!("{}: {e}", path.display())),
    })?;
    let _ = stream.set_read_timeout(Some(ANSWER_WITHIN));
    let mut text = String::new();
    stream
        .take(MAX_REPORT_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| Unreachable::Other(format!("{}: no answer: {e}", path.display())))?;
    let bad = |why: String| Unreachable::Other(format!("{}: {why}", path.display()));
    if text.trim().is_empty() {
        return Err(bad(
            "the node closed the connection without an answer (is it run by another user?)".into(),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a status report: {e}")))?;
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(f) if f == u64::from(STATUS_FORMAT) => {}
        Some(f) => {
            return Err(bad(format!(
                "the node reports status format {f}, this qis reads {STATUS_FORMAT}: run the qis that runs the node"
            )));
        }
        None => return Err(bad("a report without a format".into())),
    }
    serde_json::from_value(value).map_err(|e| bad(format!("not a status report: {e}")))
}

/// The data directories `qis status` looks at without `--data-dir`: `node-*` under the data
/// home, in name order.
fn default_dirs(home: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(home) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("node-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Runs `qis status`.
pub(super) fn run(args: StatusArgs) -> Result<ExitCode, CliError> {
    let reports = match &args.data_dir {
        Some(dir) => vec![ask(dir).map_err(|why| match why {
            Unreachable::NoSocket => CliError::Failed(format!(
                "no node runs at {}: it has no control socket (the node is stopped, or runs with another --data-dir)",
                dir.display()
            )),
            Unreachable::Stale => CliError::Failed(format!(
                "no node runs at {}: its control socket was left by a node that was killed",
                dir.display()
            )),
            Unreachable::Other(why) => CliError::Failed(why),
        })?],
        None => {
            let home = data_home();
            let mut reports = Vec::new();
            let mut errors = Vec::new();
            for dir in default_dirs(&home) {
                match ask(&dir) {
                    Ok(report) => reports.push(report),
                    Err(Unreachable::NoSocket | Unreachable::Stale) => {}
                    Err(Unreachable::Other(why)) => errors.push(why),
                }
            }
            if reports.is_empty() {
                let also = if errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errors.join("; "))
                };
                return Err(CliError::Failed(format!(
                    "no node runs under {} (no node-*/{CONTROL_SOCKET} answered){also}; for a node elsewhere give --data-dir",
                    home.display()
                )));
            }
            reports
        }
    };
    for (i, report) in reports.iter().enumerate() {
        if args.json {
            println!(
                "{}",
                serde_json::to_string(report).map_err(|e| CliError::Failed(e.to_string()))?
            );
        } else {
            if i > 0 {
                println!();
            }
            print!("{}", report.text());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_an_operator_writes_them() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(65), "1m 05s");
        assert_eq!(duration(3725), "1h 02m 05s");
    }
}
