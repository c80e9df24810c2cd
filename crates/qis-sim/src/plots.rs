//! The charts a sweep writes, as functions of plain figures, so that whatever measures a
//! network (the simulator's sweeps, `qis probe` on a live one) draws the same SVG from its own
//! numbers and the two can be set side by side.

use super::points::Across;
use super::svg::{Series, line_chart};

/// One network size's hop figures for [`hops_chart`]: each a mean with its spread (across
/// seeds for a sweep; a single measurement has `min == max == mean`, drawn without a bar).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopsPoint {
    /// Network size (measured, or estimated for a live network); drawn at log2 of it.
    pub nodes: f64,
    /// Mean hop depth.
    pub hops_mean: Across,
    /// Median hop depth.
    pub hops_p50: Across,
    /// 90th percentile of the hop depth.
    pub hops_p90: Across,
    /// Mean rounds.
    pub rounds_mean: Across,
}

impl HopsPoint {
    /// A point of single measurements (no spread).
    pub fn single(nodes: f64, hops_mean: f64, hops_p50: f64, hops_p90: f64, rounds: f64) -> Self {
        HopsPoint {
            nodes,
            hops_mean: Across::of(&[hops_mean]),
            hops_p50: Across::of(&[hops_p50]),
            hops_p90: Across::of(&[hops_p90]),
            rounds_mean: Across::of(&[rounds]),
        }
    }
}

/// Hop depth (mean, median, 90th percentile) and mean rounds against log2 N, each point with
/// a bar from its smallest to its largest value (`hops.svg`).
pub fn hops_chart(points: &[HopsPoint]) -> String {
    let x = |p: &HopsPoint| p.nodes.max(1.0).log2();
    let series = |name: &str, figure: fn(&HopsPoint) -> Across| Series {
        name: name.into(),
        points: points.iter().map(|p| (x(p), figure(p).mean)).collect(),
        bars: points
            .iter()
            .map(|p| (x(p), figure(p).min, figure(p).max))
            .collect(),
    };
    line_chart(
        "Lookup hop depth against network size",
        "log2 N (nodes)",
        "hops",
        &[
            series("hops mean", |p| p.hops_mean),
            series("hops p50", |p| p.hops_p50),
            series("hops p90", |p| p.hops_p90),
            series("rounds mean", |p| p.rounds_mean),
        ],
    )
}

/// One line of [`latency_cdf_chart`]: a latency distribution as its value (ms) at every 5th
/// percentile from 0 to 100 (the `cdf` of a report's latency figures).
#[derive(Debug, Clone, PartialEq)]
pub struct CdfSeries {
    /// Legend text.
    pub name: String,
    /// Milliseconds at percentile 0, 5, ..., 100.
    pub cdf: Vec<f64>,
}

/// Latency CDFs to the 95th percentile (`latency_cdf.svg`): the last point, the maximum, is
/// left out so that one straggler does not squash the plot. `x_label` names the clock
/// ("latency (virtual ms)" in the simulator, "latency (ms)" on a live network).
pub fn latency_cdf_chart(series: &[CdfSeries], x_label: &str) -> String {
    let lines: Vec<Series> = series
        .iter()
        .map(|s| {
            let n = s.cdf.len().saturating_sub(1).max(1) as f64;
            Series {
                name: s.name.clone(),
                points: s
                    .cdf
                    .iter()
                    .enumerate()
                    .take(s.cdf.len().saturating_sub(1))
                    .map(|(i, &ms)| (ms, i as f64 / n))
                    .collect(),
                bars: Vec::new(),
            }
        })
        .collect();
    line_chart(
        "Lookup latency CDF (to the 95th percentile)",
        x_label,
        "fraction of lookups",
        &lines,
    )
}

/// The distribution of small integer figures (hop depth, rounds): for each named series of
/// counts (`counts[v]` = how many lookups had value `v`), the fraction of lookups at each value.
pub fn distribution_chart(title: &str, x_label: &str, series: &[(&str, &[u64])]) -> String {
    let lines: Vec<Series> = series
        .iter()
        .map(|(name, counts)| {
            let total = counts.iter().sum::<u64>().max(1) as f64;
            Series {
                name: (*name).into(),
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(v, &c)| (v as f64, c as f64 / total))
                    .collect(),
                bars: Vec::new(),
            }
        })
        .collect();
    line_chart(title, x_label, "fraction of lookups", &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_one_line_per_series() {
        let point = HopsPoint::single(1000.0, 2.1, 2.0, 3.0, 3.4);
        let hops = hops_chart(&[point]);
        assert_eq!(hops.matches("<polyline").count(), 4);
        assert_eq!(hops.matches("<path").count(), 0, "no spread, no bars");
        let cdf = CdfSeries {
            name: "lookups".into(),
            cdf: (0..=20).map(f64::from).collect(),
        };
        let latency = latency_cdf_chart(&[cdf.clone(), cdf], "latency (ms)");
        assert_eq!(latency.matches("<polyline").count(), 2);
        assert!(latency.contains("latency (ms)"));
        let shape = distribution_chart("t", "hops", &[("hops", &[0, 3, 1]), ("rounds", &[])]);
        assert_eq!(shape.matches("<polyline").count(), 2);
    }
}
