//! What `qis probe --out DIR` writes: the report as JSON and the simulator's charts, drawn by
//! the same functions (`qis_sim::plots`) from the probe's figures.

use super::ProbeReport;
use qis_sim::plots::{CdfSeries, HopsPoint, distribution_chart, hops_chart, latency_cdf_chart};
use std::path::{Path, PathBuf};

/// The files of a probe, by name: `probe.json` (the report, as `--json` prints it),
/// `hops.svg` (hop depth and rounds at log2 of the estimated size, as a sweep draws them),
/// `latency_cdf.svg` (lookup latency and request round-trip CDFs) and
/// `hops_distribution.svg` (the share of lookups at each hop depth and round count).
pub const PROBE_FILES: [&str; 4] = [
    "probe.json",
    "hops.svg",
    "latency_cdf.svg",
    "hops_distribution.svg",
];

/// Writes the [`PROBE_FILES`] of `report` into `dir` (created if missing).
pub fn write_probe_outputs(dir: &Path, report: &ProbeReport) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)? + "\n";
    let point = HopsPoint::single(
        report.size_estimate.nodes,
        report.hops.mean,
        report.hops.p50,
        report.hops.p90,
        report.rounds.mean,
    );
    let cdfs = [
        CdfSeries {
            name: "lookups".into(),
            cdf: report.latency_ms.cdf.clone(),
        },
        CdfSeries {
            name: "requests (rtt)".into(),
            cdf: report.rtt_ms.cdf.clone(),
        },
    ];
    let contents = [
        json,
        hops_chart(&[point]),
        latency_cdf_chart(&cdfs, "latency (ms)"),
        distribution_chart(
            "Hop depth and rounds of the probe's lookups",
            "hops / rounds",
            &[
                ("hop depth", &report.hops_histogram),
                ("rounds", &report.rounds_histogram),
            ],
        ),
    ];
    let mut written = Vec::new();
    for (name, content) in PROBE_FILES.into_iter().zip(contents) {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}
