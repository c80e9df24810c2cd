//! A sweep's points: the runs of one network size (one per seed) summed up as the mean,
//! smallest and largest of each figure across seeds. With one seed a point is its run.
//! Speed and memory figures are left out: they vary between runs of the same seed.

use crate::SimReport;
use serde::Serialize;
use std::fmt::Write;

/// How to read one figure from a run's report.
type Reader = fn(&SimReport) -> f64;

/// The figures a point sums up across seeds: name (as in the CSV header) and how to read it.
pub(crate) const METRICS: &[(&str, Reader)] = &[
    ("success_rate", |r| r.success_rate),
    ("recall_k", |r| r.recall_k),
    ("hops_mean", |r| r.hops.mean),
    ("hops_p50", |r| r.hops.p50),
    ("hops_p90", |r| r.hops.p90),
    ("hops_p99", |r| r.hops.p99),
    ("rounds_mean", |r| r.rounds.mean),
    ("requests_mean", |r| r.requests_per_lookup.mean),
    ("latency_p50_ms", |r| r.latency_ms.p50),
    ("latency_p90_ms", |r| r.latency_ms.p90),
    ("latency_p99_ms", |r| r.latency_ms.p99),
    ("datagrams_per_lookup", |r| r.datagrams_per_lookup),
    ("bytes_per_lookup", |r| r.bytes_per_lookup),
    ("bytes_per_node_hour", |r| r.bytes_per_node_hour),
    ("availability", |r| r.values.availability),
];

/// One figure across seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Across {
    /// Mean over the seeds (rounded to 6 decimals).
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Across {
    /// The mean, smallest and largest of `values` (not empty), summed in the order given so
    /// every process that sums the same runs gets the same bits.
    pub fn of(values: &[f64]) -> Across {
        let sum: f64 = values.iter().sum();
        let mean = sum / values.len().max(1) as f64;
        Across {
            mean: (mean * 1e6).round() / 1e6,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// A figure of a point, by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// As in `METRICS` (`success_rate`, `recall_k`, `hops_mean`, ...) and the CSV header.
    pub name: &'static str,
    /// Its spread across seeds.
    #[serde(flatten)]
    pub across: Across,
}

/// One network size of a sweep, across its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Network size.
    pub nodes: u64,
    /// The seeds of its runs, in run order.
    pub seeds: Vec<u64>,
    /// Lookups measured, summed over the seeds.
    pub lookups: u64,
    /// Each figure of `METRICS` (`success_rate`, `recall_k`, `hops_mean`, ...), in that order.
    pub metrics: Vec<Metric>,
}

impl SweepPoint {
    /// The figure named `name` (one of `METRICS` (`success_rate`, `recall_k`, `hops_mean`, ...)).
    pub fn metric(&self, name: &str) -> Option<Across> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.across)
    }
}

/// The points of a sweep's reports: one per network size, in order of first appearance.
pub fn sweep_points(reports: &[SimReport]) -> Vec<SweepPoint> {
    let mut sizes: Vec<u64> = Vec::new();
    for r in reports {
        if !sizes.contains(&r.nodes) {
            sizes.push(r.nodes);
        }
    }
    sizes
        .into_iter()
        .map(|nodes| {
            let runs: Vec<&SimReport> = reports.iter().filter(|r| r.nodes == nodes).collect();
            let metrics = METRICS
                .iter()
                .map(|&(name, read)| {
                    let values: Vec<f64> = runs.iter().map(|r| read(r)).collect();
                    Metric {
                        name,
                        across: Across::of(&values),
                    }
                })
                .collect();
            SweepPoint {
                nodes,
                seeds: runs.iter().map(|r| r.seed).collect(),
                lookups: runs.iter().map(|r| r.lookups).sum(),
                metrics,
            }
        })
        .collect()
}

/// The CSV of a sweep's points: per size, the seeds, then mean, min and max of each figure.
pub(crate) fn points_csv(points: &[SweepPoint]) -> String {
    let mut out = String::from("nodes,log2_nodes,seeds,lookups");
    for (name, _) in METRICS {
        let _ = write!(out, ",{name}_mean,{name}_min,{name}_max");
    }
    out.push('\n');
    for p in points {
        let seeds: Vec<String> = p.seeds.iter().map(u64::to_string).collect();
        let _ = write!(
            out,
            "{},{:.3},{},{}",
            p.nodes,
            (p.nodes.max(1) as f64).log2(),
            seeds.join(" "),
            p.lookups
        );
        for m in &p.metrics {
            let _ = write!(out, ",{},{},{}", m.across.mean, m.across.min, m.across.max);
        }
        out.push('\n');
    }
    out
}

/// The human table of a sweep's points (printed when it has more than one seed).
pub fn points_table(points: &[SweepPoint]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8} {:>5}  {:<24} {:<24} {:<24}",
        "nodes",
        "seeds",
        "success % mean [min, max]",
        "hops mean [min, max]",
        "lat p50 ms [min, max]"
    );
    for p in points {
        let cell = |name: &str, scale: f64, decimals: usize| {
            p.metric(name).map_or(String::new(), |a| {
                format!(
                    "{:.d$} [{:.d$}, {:.d$}]",
                    a.mean * scale,
                    a.min * scale,
                    a.max * scale,
                    d = decimals
                )
            })
        };
        let _ = writeln!(
            out,
            "{:>8} {:>5}  {:<24} {:<24} {:<24}",
            p.nodes,
            p.seeds.len(),
            cell("success_rate", 100.0, 2),
            cell("hops_mean", 1.0, 2),
            cell("latency_p50_ms", 1.0, 0)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn across_seeds_is_mean_min_max() {
        let a = Across::of(&[2.0, 3.0, 7.0]);
        assert_eq!((a.mean, a.min, a.max), (4.0, 2.0, 7.0));
        let one = Across::of(&[2.5]);
        assert_eq!((one.mean, one.min, one.max), (2.5, 2.5, 2.5));
    }
}
