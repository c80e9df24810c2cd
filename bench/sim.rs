//! Simulator benchmark: the targets, measured in release mode, as PASS/MISS lines and
//! one JSON file (`target/bench-sim.json`).
//!
//! `cargo bench --bench sim` runs every target (about ten minutes on a 2-core machine);
//! `cargo bench --bench sim -- --quick` skips the 100,000-node protocol formation;
//! `cargo bench --bench sim -- --million` adds a 1,000,000-node pre-filled run (about 23 GB).
//!
//! The peer measured in the same run is the pre-filled formation of the same network: the
//! protocol formation's wall time is reported as a ratio against it.

use qis_core::Duration;
use qis_sim::{ChurnConfig, Formation, SimConfig, SimReport, simulate};

/// One target and whether the run met it.
#[derive(serde::Serialize)]
struct Verdict {
    target: String,
    measured: String,
    met: bool,
}

fn run(label: &str, config: SimConfig) -> SimReport {
    eprintln!("running {label} ...");
    let report = simulate(config);
    eprintln!("{report}");
    report
}

fn verdict(verdicts: &mut Vec<Verdict>, target: &str, measured: String, met: bool) {
    println!(
        "{:<4} {target:<58} {measured}",
        if met { "PASS" } else { "MISS" }
    );
    verdicts.push(Verdict {
        target: target.to_string(),
        measured,
        met,
    });
}

fn quiet_lookups(nodes: usize, lookups: usize, formation: Formation) -> SimConfig {
    let mut config = SimConfig::new(nodes, lookups, 1);
    config.formation = formation;
    config
}

fn routing_targets(verdicts: &mut Vec<Verdict>, r: &SimReport, hop_limit: f64) {
    let n = r.nodes;
    verdicts_push_basic(verdicts, r);
    verdict(
        verdicts,
        &format!("{n} nodes ({}): p50 hop depth <= {hop_limit}", r.formation),
        format!("p50 {} (mean {:.2})", r.hops.p50, r.hops.mean),
        r.hops.p50 <= hop_limit,
    );
}

fn verdicts_push_basic(verdicts: &mut Vec<Verdict>, r: &SimReport) {
    let n = r.nodes;
    verdict(
        verdicts,
        &format!("{n} nodes ({}): success 100%", r.formation),
        format!("{:.3}%", r.success_rate * 100.0),
        r.success_rate >= 1.0,
    );
    verdict(
        verdicts,
        &format!(
            "{n} nodes ({}): recall of the k closest >= 0.99",
            r.formation
        ),
        format!("{:.4}", r.recall_k),
        r.recall_k >= 0.99,
    );
    verdict(
        verdicts,
        &format!("{n} nodes ({}): requests per lookup <= 30", r.formation),
        format!("{:.1}", r.requests_per_lookup.mean),
        r.requests_per_lookup.mean <= 30.0,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let million = args.iter().any(|a| a == "--million");
    let mut verdicts = Vec::new();
    let mut reports = Vec::new();

    let r = run(
        "10k, protocol",
        quiet_lookups(10_000, 2_000, Formation::Protocol),
    );
    routing_targets(&mut verdicts, &r, 3.0);
    reports.push(r);

    let prefilled = run(
        "100k + 10k lookups, pre-filled",
        quiet_lookups(100_000, 10_000, Formation::Prefill),
    );
    routing_targets(&mut verdicts, &prefilled, 4.0);
    verdict(
        &mut verdicts,
        "100k pre-filled + 10k lookups within 120 s wall",
        format!("{:.1} s", prefilled.wall_s),
        prefilled.wall_s <= 120.0,
    );
    if !quick {
        let formed = run(
            "100k + 10k lookups, protocol formation",
            quiet_lookups(100_000, 10_000, Formation::Protocol),
        );
        routing_targets(&mut verdicts, &formed, 4.0);
        verdict(
            &mut verdicts,
            "100k joined through the protocol + 10k lookups within 120 s",
            format!(
                "{:.1} s ({:.1}x the pre-filled run)",
                formed.wall_s,
                formed.wall_s / prefilled.wall_s.max(1e-9)
            ),
            formed.wall_s <= 120.0,
        );
        reports.push(formed);
    }
    reports.push(prefilled);

    let mut faulty = SimConfig::new(2_000, 2_000, 1);
    faulty.network.loss = 0.05;
    faulty.churn = Some(ChurnConfig::with_median(Duration::from_secs(3600)));
    let r = run("2k, 5% loss, 1 h median sessions", faulty);
    verdict(
        &mut verdicts,
        "5% loss + churn (1 h median session): success >= 99%",
        format!("{:.2}%", r.success_rate * 100.0),
        r.success_rate >= 0.99,
    );
    reports.push(r);

    if million {
        let r = run(
            "1M, pre-filled",
            quiet_lookups(1_000_000, 10_000, Formation::Prefill),
        );
        verdict(
            &mut verdicts,
            "1,000,000 nodes fit in 24 GiB",
            format!(
                "peak RSS {:.1} GiB, {} bytes/node",
                r.peak_rss_bytes as f64 / (1u64 << 30) as f64,
                r.bytes_per_node
            ),
            r.peak_rss_bytes < 24 << 30,
        );
        reports.push(r);
    }

    let out = serde_json::json!({ "verdicts": verdicts, "runs": reports });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-sim.json");
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&out).expect("a serde_json::Value always serialises"),
    ) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
