//! A sweep over network sizes and seeds: a table of the figures against log2 N, and the same
//! as JSON, CSV (per run, and per size across seeds) and two SVG plots (hop depth against N,
//! with the spread across seeds; lookup-latency CDF).

use super::SimReport;
use super::plots::{CdfSeries, HopsPoint, hops_chart, latency_cdf_chart};
use super::points::{Across, SweepPoint, points_csv, sweep_points};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The human table of a sweep.
pub fn sweep_table(reports: &[SimReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:>5} {:>6} {:>7} {:>7} {:>5} {:>5} {:>5} {:>4} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>10} {:>7}",
        "nodes",
        "seed",
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
            "{:>8} {:>5} {:>6.2} {:>7} {:>7.4} {:>5.2} {:>5} {:>5} {:>4} {:>6.2} {:>7.1} {:>7.0} {:>7.0} {:>7.1} {:>8.0} {:>10} {:>7}",
            r.nodes,
            r.seed,
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

/// Hop depth (mean, median, 90th percentile) and mean rounds against log2 N: each point the
/// mean across seeds, with a bar from the smallest to the largest.
pub(crate) fn hops_plot(points: &[SweepPoint]) -> String {
    let figure = |p: &SweepPoint, name: &str| p.metric(name).unwrap_or(Across::of(&[0.0]));
    let points: Vec<HopsPoint> = points
        .iter()
        .map(|p| HopsPoint {
            nodes: p.nodes as f64,
            hops_mean: figure(p, "hops_mean"),
            hops_p50: figure(p, "hops_p50"),
            hops_p90: figure(p, "hops_p90"),
            rounds_mean: figure(p, "rounds_mean"),
        })
        .collect();
    hops_chart(&points)
}

/// The lookup-latency CDF of each network size: at each 5th percentile, the mean across its
/// seeds' runs.
pub(crate) fn latency_plot(reports: &[SimReport], points: &[SweepPoint]) -> String {
    let series: Vec<CdfSeries> = points
        .iter()
        .map(|p| {
            let runs: Vec<&SimReport> = reports.iter().filter(|r| r.nodes == p.nodes).collect();
            let len = runs
                .iter()
                .map(|r| r.latency_ms.cdf.len())
                .min()
                .unwrap_or(0);
            let cdf: Vec<f64> = (0..len)
                .map(|i| runs.iter().map(|r| r.latency_ms.cdf[i]).sum::<f64>() / runs.len() as f64)
                .collect();
            CdfSeries {
                name: format!("N = {}", p.nodes),
                cdf,
            }
        })
        .collect();
    latency_cdf_chart(&series, "latency (virtual ms)")
}

/// The files of a sweep, by name: `sweep.json` and `sweep.csv` (one entry per run, in run
/// order), `sweep_points.json` and `sweep_points.csv` (per network size, each figure's mean,
/// min and max across seeds), `hops.svg` and `latency_cdf.svg`.
pub const SWEEP_FILES: [&str; 6] = [
    "sweep.json",
    "sweep.csv",
    "sweep_points.json",
    "sweep_points.csv",
    "hops.svg",
    "latency_cdf.svg",
];

/// Writes the [`SWEEP_FILES`] of `reports` into `dir`. The same reports give the same files,
/// whether one process made them all or shards did and `merge` joined them.
pub fn write_sweep_outputs(dir: &Path, reports: &[SimReport]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let points = sweep_points(reports);
    let contents = [
        pretty(&reports)? + "\n",
        csv(reports),
        pretty(&points)? + "\n",
        points_csv(&points),
        hops_plot(&points),
        latency_plot(reports, &points),
    ];
    let mut written = Vec::new();
    for (name, content) in SWEEP_FILES.into_iter().zip(contents) {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}

/// Pretty JSON, as the sweep's files have it.
fn pretty<T: serde::Serialize>(value: &T) -> std::io::Result<String> {
    serde_json::to_string_pretty(value).map_err(std::io::Error::other)
}
