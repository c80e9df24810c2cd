//! Rendering runs: a text table and an SVG of regret by round.

use crate::run::Report;
use std::fmt::Write as _;

/// The table of one run, a row per round.
pub fn table(report: &Report) -> String {
    let c = &report.config;
    let mut out = format!(
        "{} publishers ({} honest, {} in a rare language), {:.0}% liars ({}), seed {}\n",
        c.publishers,
        report.honest,
        report.honest_rare,
        100.0 * c.liar_share,
        c.liar_mode.label(),
        c.seed
    );
    if c.squat.keys > 0 {
        let _ = writeln!(
            out,
            "{} squatter keys from {} prefixes fill the {} key",
            c.squat.keys,
            c.squat.prefixes,
            crate::world::TASKS[crate::squat::TARGET_TASK]
        );
    }
    let _ = writeln!(
        out,
        "{:>5} {:>10} {:>9} {:>8} {:>9} {:>9} {:>10} {:>9} {:>12}",
        "round",
        "no-network",
        "write-up",
        "qis",
        "qis rare",
        "qis/none",
        "liar wght",
        "evidence",
        "honest held"
    );
    for r in &report.rounds {
        let _ = writeln!(
            out,
            "{:>5} {:>10.4} {:>9.4} {:>8.4} {:>9.4} {:>9.2} {:>9.1}% {:>9.0} {:>12}",
            r.round,
            r.no_network,
            r.writeup,
            r.qis,
            r.qis_rare,
            r.qis / r.no_network.max(1e-12),
            100.0 * r.liar_weight,
            r.evidence,
            r.squatted_key_honest_held
                .map_or("-".to_string(), |h| format!("{:.2}%", 100.0 * h))
        );
    }
    out
}

/// An SVG of regret by round: no network, the write-up's router and qis for each run.
pub fn svg(reports: &[Report]) -> String {
    let (width, height, margin) = (720.0, 420.0, 50.0);
    let rounds = reports
        .iter()
        .map(|r| r.rounds.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let top = reports
        .iter()
        .flat_map(|r| r.rounds.iter())
        .map(|r| r.no_network.max(r.writeup).max(r.qis))
        .fold(1e-6, f64::max)
        * 1.1;
    let x = |i: usize| margin + (width - 2.0 * margin) * i as f64 / (rounds - 1) as f64;
    let y = |v: f64| height - margin - (height - 2.0 * margin) * v / top;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    let _ = writeln!(
        out,
        "<text x=\"{margin}\" y=\"20\">regret by round (best achievable gain − gain of the advice)</text>"
    );
    let _ = writeln!(
        out,
        "<line x1=\"{margin}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        height - margin,
        width - margin,
        height - margin
    );
    let _ = writeln!(
        out,
        "<line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{}\" stroke=\"black\"/>",
        height - margin
    );
    let _ = writeln!(
        out,
        "<text x=\"5\" y=\"{}\">{top:.3}</text><text x=\"5\" y=\"{}\">0</text>",
        margin,
        height - margin
    );
    let palette = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
    let mut legend = 0;
    let mut line = |out: &mut String, values: Vec<f64>, colour: &str, label: String, dash: &str| {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>",
            points.join(" ")
        );
        let ly = margin + 16.0 * legend as f64;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{ly}\" fill=\"{colour}\">{label}</text>",
            width - margin - 190.0
        );
        legend += 1;
    };
    if let Some(first) = reports.first() {
        line(
            &mut out,
            first.rounds.iter().map(|r| r.no_network).collect(),
            "#7f7f7f",
            "no network".into(),
            "6,4",
        );
    }
    for (i, report) in reports.iter().enumerate() {
        let colour = palette[i % palette.len()];
        let liars = 100.0 * report.config.liar_share;
        line(
            &mut out,
            report.rounds.iter().map(|r| r.writeup).collect(),
            colour,
            format!("write-up, {liars:.0}% liars"),
            "2,3",
        );
        line(
            &mut out,
            report.rounds.iter().map(|r| r.qis).collect(),
            colour,
            format!("qis, {liars:.0}% liars"),
            "",
        );
    }
    out.push_str("</svg>\n");
    out
}
