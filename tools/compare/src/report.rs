//! The printed table (qis, mainline and the ratio qis/mainline per network size) and the
//! JSON form of the same results.

use crate::runner::{SizeResult, ThroughputResult};
use serde::Serialize;

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
    pub sizes: Vec<SizeResult>,
    pub throughput: Vec<ThroughputResult>,
}

/// A throughput-table row: label, how to read the figure, decimals.
type ThroughputRow = (&'static str, fn(&ThroughputResult) -> f64, usize);

/// One table row: a label, how to read the figure, decimals.
struct Row {
    label: &'static str,
    value: fn(&SizeResult) -> f64,
    decimals: usize,
}

const ROWS: &[Row] = &[
    Row {
        label: "lookup latency p50 (ms)",
        value: |r| r.p50_ms,
        decimals: 2,
    },
    Row {
        label: "lookup latency p99 (ms)",
        value: |r| r.p99_ms,
        decimals: 2,
    },
    Row {
        label: "datagrams / lookup",
        value: |r| r.datagrams_per_lookup,
        decimals: 1,
    },
    Row {
        label: "UDP payload bytes / lookup",
        value: |r| r.payload_bytes_per_lookup,
        decimals: 0,
    },
    Row {
        label: "resident memory / node (KiB)",
        value: |r| r.rss_per_node_bytes / 1024.0,
        decimals: 1,
    },
    Row {
        label: "CPU s / 1,000 lookups",
        value: |r| r.cpu_s_per_1000,
        decimals: 3,
    },
    Row {
        label: "recall of true 20 closest",
        value: |r| r.recall,
        decimals: 3,
    },
    Row {
        label: "idle CPU / node (ms/s)",
        value: |r| r.idle_cpu_ms_per_node_per_s,
        decimals: 3,
    },
];

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

/// Prints the lookup table, the throughput table and the target verdicts.
pub fn print(report: &Report) {
    let mut sizes: Vec<usize> = report.sizes.iter().map(|r| r.nodes).collect();
    sizes.dedup();
    let find = |sys: &str, n: usize| {
        report
            .sizes
            .iter()
            .find(|r| r.system == sys && r.nodes == n)
    };

    let mut header = format!("{:<30}", "metric");
    for n in &sizes {
        header += &format!(
            " | {:>10} {:>10} {:>8}",
            format!("qis@{n}"),
            format!("ml@{n}"),
            "qis/ml"
        );
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for row in ROWS {
        let mut line = format!("{:<30}", row.label);
        for &n in &sizes {
            let q = find("qis", n).map(row.value);
            let m = find("mainline", n).map(row.value);
            line += &format!(
                " | {:>10} {:>10} {:>8}",
                cell(q, row.decimals),
                cell(m, row.decimals),
                cell(ratio(q, m), 2)
            );
        }
        println!("{line}");
    }

    let tq = report.throughput.iter().find(|t| t.system == "qis");
    let tm = report.throughput.iter().find(|t| t.system == "mainline");
    let rps = |t: Option<&ThroughputResult>| t.map(|t| t.load.answers_per_sec);
    println!();
    println!(
        "{:<30} | {:>10} {:>10} {:>8}",
        "single node (same load gen)", "qis", "mainline", "qis/ml"
    );
    let tp_rows: [ThroughputRow; 4] = [
        ("answers / s", |t| t.load.answers_per_sec, 0),
        ("answer latency p50 (ms)", |t| t.load.p50_us as f64 / 1e3, 3),
        ("answer latency p99 (ms)", |t| t.load.p99_us as f64 / 1e3, 3),
        ("node CPU (cores busy)", |t| t.node_cores, 2),
    ];
    for (label, f, d) in tp_rows {
        let (q, m) = (tq.map(f), tm.map(f));
        println!(
            "{:<30} | {:>10} {:>10} {:>8}",
            label,
            cell(q, d),
            cell(m, d),
            cell(ratio(q, m), 2)
        );
    }

    println!();
    println!("targets for qis (per size):");
    for &n in &sizes {
        let r =
            |f: fn(&SizeResult) -> f64| ratio(find("qis", n).map(f), find("mainline", n).map(f));
        verdict(
            &format!("fewer datagrams / lookup @{n}"),
            r(|r| r.datagrams_per_lookup),
            |x| x < 1.0,
        );
        verdict(&format!("lower p50 latency @{n}"), r(|r| r.p50_ms), |x| {
            x < 1.0
        });
        verdict(
            &format!("memory / node <= 1/10 @{n}"),
            r(|r| r.rss_per_node_bytes),
            |x| x <= 0.1,
        );
    }
    verdict(
        "single-node throughput >= mainline",
        ratio(rps(tq), rps(tm)),
        |x| x >= 1.0,
    );
}

/// Prints PASS/FAIL for a ratio, or n/a when it could not be computed.
fn verdict(label: &str, ratio: Option<f64>, pass: fn(f64) -> bool) {
    let v = match ratio {
        Some(x) if pass(x) => format!("PASS (ratio {x:.3})"),
        Some(x) => format!("FAIL (ratio {x:.3})"),
        None => "n/a (qis not measured)".to_string(),
    };
    println!("  {label:<40} {v}");
}
