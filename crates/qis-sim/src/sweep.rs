//! A sweep over network sizes: a table of the figures against log2 N, and the same as JSON,
//! CSV and two SVG plots (hop depth against N, lookup-latency CDF).

use super::SimReport;
use super::svg::{Series, line_chart};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The human table of a sweep.
pub fn sweep_table(reports: &[SimReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:>6} {:>7} {:>7} {:>5} {:>5} {:>5} {:>4} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>10} {:>7}",
        "nodes",
        "log2N",
        "success",
        "recall",
        "hops",
        "p50",
        "p90",
        "p99",
        "rounds",
        "req/lk",
        "lat p50",
        "lat p99",
        "wall s",
        "events/s",
        "bytes/node",
        "formed"
    );
    for r in reports {
        // No lookups measured: no success rate (rather than a vacuous 100%).
        let success = if r.lookups == 0 {
            "-".to_string()
        } else {
            format!("{:.2}%", r.success_rate * 100.0)
        };
        let _ = writeln!(
            out,
            "{:>8} {:>6.2} {:>7} {:>7.4} {:>5.2} {:>5} {:>5} {:>4} {:>6.2} {:>7.1} {:>7.0} {:>7.0} {:>7.1} {:>8.0} {:>10} {:>7}",
            r.nodes,
            (r.nodes.max(1) as f64).log2(),
            success,
            r.recall_k,
            r.hops.mean,
            r.hops.p50,
            r.hops.p90,
            r.hops.p99,
            r.rounds.mean,
            r.requests_per_lookup.mean,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.wall_s,
            r.events_per_s,
            r.bytes_per_node,
            r.formation
        );
    }
    out
}

/// The CSV of a sweep: one row per run.
pub(crate) fn csv(reports: &[SimReport]) -> String {
    let mut out = String::from(
        "nodes,log2_nodes,lookups,success_rate,recall_k,hops_mean,hops_p50,hops_p90,hops_p99,hops_max,rounds_mean,rounds_p50,requests_mean,latency_p50_ms,latency_p90_ms,latency_p99_ms,datagrams_per_lookup,bytes_per_lookup,wall_s,events_per_s,peak_rss_bytes,bytes_per_node,formation,join_refresh,loss,seed\n",
    );
    for r in reports {
        let _ = writeln!(
            out,
            "{},{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.nodes,
            (r.nodes.max(1) as f64).log2(),
            r.lookups,
            r.success_rate,
            r.recall_k,
            r.hops.mean,
            r.hops.p50,
            r.hops.p90,
            r.hops.p99,
            r.hops.max,
            r.rounds.mean,
            r.rounds.p50,
            r.requests_per_lookup.mean,
            r.latency_ms.p50,
            r.latency_ms.p90,
            r.latency_ms.p99,
            r.datagrams_per_lookup,
            r.bytes_per_lookup,
            r.wall_s,
            r.events_per_s,
            r.peak_rss_bytes,
            r.bytes_per_node,
            r.formation,
            r.join_refresh,
            r.loss,
            r.seed
        );
    }
    out
}

/// Hop depth (mean, median, 90th percentile) and mean rounds against log2 N.
pub(crate) fn hops_plot(reports: &[SimReport]) -> String {
    let x = |r: &SimReport| (r.nodes.max(1) as f64).log2();
    let series = |name: &str, f: &dyn Fn(&SimReport) -> f64| Series {
        name: name.into(),
        points: reports.iter().map(|r| (x(r), f(r))).collect(),
    };
    line_chart(
        "Lookup hop depth against network size",
        "log2 N (nodes)",
        "hops",
        &[
            series("hops mean", &|r| r.hops.mean),
            series("hops p50", &|r| r.hops.p50),
            series("hops p90", &|r| r.hops.p90),
            series("rounds mean", &|r| r.rounds.mean),
        ],
    )
}

/// The lookup-latency CDF of each run.
pub(crate) fn latency_plot(reports: &[SimReport]) -> String {
    let series: Vec<Series> = reports
        .iter()
        .map(|r| {
            let n = r.latency_ms.cdf.len().saturating_sub(1).max(1) as f64;
            // The last point is the maximum: leave it out so one straggler does not squash the plot.
            let points = r
                .latency_ms
                .cdf
                .iter()
                .enumerate()
                .take(r.latency_ms.cdf.len().saturating_sub(1))
                .map(|(i, &ms)| (ms, i as f64 / n))
                .collect();
            Series {
                name: format!("N = {}", r.nodes),
                points,
            }
        })
        .collect();
    line_chart(
        "Lookup latency CDF (to the 95th percentile)",
        "latency (virtual ms)",
        "fraction of lookups",
        &series,
    )
}

/// Writes `sweep.json`, `sweep.csv`, `hops.svg` and `latency_cdf.svg` into `dir`.
pub fn write_sweep_outputs(dir: &Path, reports: &[SimReport]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(reports).map_err(std::io::Error::other)?;
    let files = [
        ("sweep.json", json + "\n"),
        ("sweep.csv", csv(reports)),
        ("hops.svg", hops_plot(reports)),
        ("latency_cdf.svg", latency_plot(reports)),
    ];
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}
