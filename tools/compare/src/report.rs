//! The printed tables (per network size: qis, each peer and the ratio qis/peer) and the JSON
//! form of the same results, ratios included.

use crate::runner::{SizeResult, ThroughputResult};
use serde::Serialize;
use std::collections::BTreeMap;

/// Name of the system every ratio has in its numerator.
const QIS: &str = "qis";

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub lookups: usize,
    /// Header bytes `lo` counted per packet beyond the UDP payload.
    pub lo_overhead_bytes: u64,
    /// Whether counters came from a private network namespace (no outside traffic).
    pub isolated_netns: bool,
    /// How the mainline network was built.
    pub mainline_net: crate::mainline_system::NetMode,
    /// The systems measured, qis first when built in.
    pub systems: Vec<String>,
    pub sizes: Vec<SizeResult>,
    /// qis's figure over each peer's, per size, keyed by the field names of `sizes`.
    pub ratios: Vec<Ratios>,
    pub throughput: Vec<ThroughputResult>,
}

/// The ratios qis/peer at one size.
#[derive(Debug, Serialize)]
pub struct Ratios {
    pub peer: String,
    pub nodes: usize,
    /// Field name (as in [`SizeResult`], `get_`/`put_` for value figures) to qis/peer;
    /// `null` where either side has no figure.
    pub qis_over_peer: BTreeMap<&'static str, Option<f64>>,
}

/// One table row: the JSON key, a label, how to read the figure, decimals, and whether a
/// lower figure is the better one (recall and found: higher is better).
struct Row {
    key: &'static str,
    label: &'static str,
    value: fn(&SizeResult) -> Option<f64>,
    decimals: usize,
    lower_is_better: bool,
}

/// Shorthand for a row.
const fn row(
    key: &'static str,
    label: &'static str,
    value: fn(&SizeResult) -> Option<f64>,
    decimals: usize,
    lower_is_better: bool,
) -> Row {
    Row {
        key,
        label,
        value,
        decimals,
        lower_is_better,
    }
}

const ROWS: &[Row] = &[
    row(
        "p50_ms",
        "lookup latency p50 (ms)",
        |r| Some(r.p50_ms),
        2,
        true,
    ),
    row(
        "p99_ms",
        "lookup latency p99 (ms)",
        |r| Some(r.p99_ms),
        2,
        true,
    ),
    row(
        "datagrams_per_lookup",
        "datagrams / lookup",
        |r| Some(r.datagrams_per_lookup),
        1,
        true,
    ),
    row(
        "payload_bytes_per_lookup",
        "UDP payload bytes / lookup",
        |r| Some(r.payload_bytes_per_lookup),
        0,
        true,
    ),
    row(
        "rss_per_node_bytes",
        "resident memory / node (KiB)",
        |r| Some(r.rss_per_node_bytes / 1024.0),
        1,
        true,
    ),
    row(
        "cpu_s_per_1000",
        "CPU s / 1,000 lookups",
        |r| Some(r.cpu_s_per_1000),
        3,
        true,
    ),
    row(
        "proofs_checked_per_lookup",
        "  id proofs checked / lookup",
        |r| r.proofs_checked_per_lookup,
        1,
        true,
    ),
    row(
        "id_work_evaluations_per_lookup",
        "  of which id work (Argon2id)",
        |r| r.id_work_evaluations_per_lookup,
        2,
        true,
    ),
    row(
        "recall",
        "recall of true k closest",
        |r| Some(r.recall),
        3,
        false,
    ),
    row(
        "recall_k",
        "  k of that recall",
        |r| Some(r.recall_k as f64),
        0,
        false,
    ),
    row(
        "idle_cpu_ms_per_node_per_s",
        "idle CPU / node (ms/s)",
        |r| Some(r.idle_cpu_ms_per_node_per_s),
        3,
        true,
    ),
    row(
        "get_p50_ms",
        "value get p50 (ms)",
        |r| Some(r.values.as_ref()?.get.p50_ms),
        2,
        true,
    ),
    row(
        "get_p99_ms",
        "value get p99 (ms)",
        |r| Some(r.values.as_ref()?.get.p99_ms),
        2,
        true,
    ),
    row(
        "get_datagrams_per_op",
        "datagrams / get",
        |r| Some(r.values.as_ref()?.get.datagrams_per_op),
        1,
        true,
    ),
    row(
        "get_payload_bytes_per_op",
        "UDP payload bytes / get",
        |r| Some(r.values.as_ref()?.get.payload_bytes_per_op),
        0,
        true,
    ),
    row(
        "get_cpu_s_per_1000",
        "CPU s / 1,000 gets",
        |r| Some(r.values.as_ref()?.get.cpu_s_per_1000),
        3,
        true,
    ),
    row(
        "found",
        "gets that found the value",
        |r| Some(r.values.as_ref()?.found),
        3,
        false,
    ),
    row(
        "put_p50_ms",
        "value put p50 (ms)",
        |r| Some(r.values.as_ref()?.put.p50_ms),
        2,
        true,
    ),
    row(
        "put_datagrams_per_op",
        "datagrams / put",
        |r| Some(r.values.as_ref()?.put.datagrams_per_op),
        1,
        true,
    ),
    row(
        "put_payload_bytes_per_op",
        "UDP payload bytes / put",
        |r| Some(r.values.as_ref()?.put.payload_bytes_per_op),
        0,
        true,
    ),
];

/// Rows the target verdicts are drawn from (the targets; recall_k is context).
const TARGET_ROWS: &[&str] = &[
    "p50_ms",
    "p99_ms",
    "datagrams_per_lookup",
    "payload_bytes_per_lookup",
    "rss_per_node_bytes",
    "cpu_s_per_1000",
    "recall",
    "idle_cpu_ms_per_node_per_s",
    "get_p50_ms",
    "get_datagrams_per_op",
    "get_payload_bytes_per_op",
];

/// A throughput-table row: label, how to read the figure, decimals.
type ThroughputRow = (&'static str, fn(&ThroughputResult) -> f64, usize);

/// Formats a value or a dash.
fn cell(v: Option<f64>, decimals: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// `a / b` when both exist and `b` is not zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// The result of `system` at `n` nodes.
fn find<'a>(sizes: &'a [SizeResult], system: &str, n: usize) -> Option<&'a SizeResult> {
    sizes.iter().find(|r| r.system == system && r.nodes == n)
}

/// Network sizes in the order measured.
fn node_counts(sizes: &[SizeResult]) -> Vec<usize> {
    let mut ns: Vec<usize> = Vec::new();
    for r in sizes {
        if !ns.contains(&r.nodes) {
            ns.push(r.nodes);
        }
    }
    ns
}

/// The qis/peer ratios of every peer at every size.
pub fn ratios(systems: &[String], sizes: &[SizeResult]) -> Vec<Ratios> {
    let mut out = Vec::new();
    for n in node_counts(sizes) {
        for peer in systems.iter().filter(|s| *s != QIS) {
            let q = find(sizes, QIS, n);
            let p = find(sizes, peer, n);
            let qis_over_peer = ROWS
                .iter()
                .filter(|row| row.key != "recall_k")
                .map(|row| (row.key, ratio(q.and_then(row.value), p.and_then(row.value))))
                .collect();
            out.push(Ratios {
                peer: peer.clone(),
                nodes: n,
                qis_over_peer,
            });
        }
    }
    out
}

/// Prints one table per size, the throughput table and the target verdicts.
pub fn print(report: &Report) {
    let peers: Vec<&String> = report.systems.iter().filter(|s| *s != QIS).collect();
    for n in node_counts(&report.sizes) {
        let mut header = format!("{:<30} | {:>10}", format!("{n} nodes"), QIS);
        for p in &peers {
            header += &format!(" | {:>10} {:>8}", p, format!("qis/{}", short(p)));
        }
        println!("{header}");
        println!("{}", "-".repeat(header.len()));
        for row in ROWS {
            let q = find(&report.sizes, QIS, n).and_then(row.value);
            let mut line = format!("{:<30} | {:>10}", row.label, cell(q, row.decimals));
            for p in &peers {
                let v = find(&report.sizes, p, n).and_then(row.value);
                let r = if row.key == "recall_k" {
                    None
                } else {
                    ratio(q, v)
                };
                line += &format!(" | {:>10} {:>8}", cell(v, row.decimals), cell(r, 2));
            }
            println!("{line}");
        }
        println!();
    }

    println!(
        "{:<30} | {}",
        "single node (same load gen)",
        report
            .throughput
            .iter()
            .map(|t| format!("{:>10}", t.system))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let tp_rows: [ThroughputRow; 4] = [
        ("answers / s", |t| t.load.answers_per_sec, 0),
        ("answer latency p50 (ms)", |t| t.load.p50_us as f64 / 1e3, 3),
        ("answer latency p99 (ms)", |t| t.load.p99_us as f64 / 1e3, 3),
        ("node CPU (cores busy)", |t| t.node_cores, 2),
    ];
    for (label, f, d) in tp_rows {
        let cells: Vec<String> = report
            .throughput
            .iter()
            .map(|t| format!("{:>10}", cell(Some(f(t)), d)))
            .collect();
        println!("{label:<30} | {}", cells.join(" | "));
    }

    println!();
    println!("targets for qis (ratio qis/peer; lower is better except recall and found):");
    for r in &report.ratios {
        let verdicts: Vec<String> = TARGET_ROWS
            .iter()
            .filter_map(|key| {
                let row = ROWS.iter().find(|row| row.key == *key)?;
                let x = (*r.qis_over_peer.get(key)?)?;
                let pass = if row.lower_is_better {
                    x < 1.0
                } else {
                    x >= 1.0
                };
                Some(format!(
                    "{} {key} {x:.2}",
                    if pass { "PASS" } else { "FAIL" }
                ))
            })
            .collect();
        println!("  vs {} @{}:", r.peer, r.nodes);
        for v in verdicts {
            println!("    {v}");
        }
    }
    let rps = |sys: &str| {
        report
            .throughput
            .iter()
            .find(|t| t.system == sys)
            .map(|t| t.load.answers_per_sec)
    };
    for peer in &peers {
        if let Some(x) = ratio(rps(QIS), rps(peer)) {
            let v = if x >= 1.0 { "PASS" } else { "FAIL" };
            println!("  single-node throughput >= {peer}: {v} (ratio {x:.3})");
        }
    }
}

/// A peer name cut to fit a ratio column header.
fn short(peer: &str) -> &str {
    peer.get(..3).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::{QIS, ratios};
    use crate::runner::SizeResult;

    fn result(system: &str, nodes: usize, p50_ms: f64, datagrams: f64) -> SizeResult {
        SizeResult {
            system: system.into(),
            nodes,
            p50_ms,
            datagrams_per_lookup: datagrams,
            ..SizeResult::default()
        }
    }

    #[test]
    fn every_peer_gets_a_ratio_per_size_under_the_field_names() {
        let systems: Vec<String> = [QIS, "opendht", "libp2p"].map(String::from).to_vec();
        let sizes = vec![
            result(QIS, 100, 1.0, 40.0),
            result("opendht", 100, 2.0, 20.0),
            result("libp2p", 100, 4.0, 0.0),
            result(QIS, 300, 1.0, 40.0),
            result("opendht", 300, 0.5, 40.0),
        ];
        let r = ratios(&systems, &sizes);
        // Two peers at two sizes; libp2p at 300 was not measured but still has its entry.
        assert_eq!(r.len(), 4);
        let at = |peer: &str, n: usize, key: &str| {
            r.iter()
                .find(|x| x.peer == peer && x.nodes == n)
                .and_then(|x| *x.qis_over_peer.get(key).expect("key present"))
        };
        assert_eq!(at("opendht", 100, "p50_ms"), Some(0.5));
        assert_eq!(at("opendht", 100, "datagrams_per_lookup"), Some(2.0));
        assert_eq!(at("opendht", 300, "p50_ms"), Some(2.0));
        // A zero denominator and a missing system give no ratio, not infinity.
        assert_eq!(at("libp2p", 100, "datagrams_per_lookup"), None);
        assert_eq!(at("libp2p", 300, "p50_ms"), None);
        // Value figures of systems without values are absent too.
        assert_eq!(at("opendht", 100, "get_p50_ms"), None);
        assert!(!r[0].qis_over_peer.contains_key("recall_k"));
    }
}
