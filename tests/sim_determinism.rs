//! The same seed gives the same report, byte for byte, apart from the simulator's own speed
//! and memory figures; another seed gives another.

use qis_core::Duration;
use qis_sim::{ChurnConfig, SimConfig, simulate, simulate_with_stats};

fn config(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(300, 100, seed);
    config.network.loss = 0.02;
    config.churn = Some(ChurnConfig::with_median(Duration::from_secs(1800)));
    config.duration = Some(Duration::from_secs(600));
    config.values = 5;
    config.gets = 20;
    config
}

#[test]
fn same_seed_same_report() {
    let a = simulate(config(5)).without_speed();
    let b = simulate(config(5)).without_speed();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert!(a.events > 0 && a.lookups > 0);
    let c = simulate(config(6)).without_speed();
    assert_ne!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&c).unwrap()
    );
}

/// The parallel engine gives the report of one thread, byte for byte, at 2 and 3 threads: a
/// run busy enough for windows to be shared out (fast joins), with bursty loss (decided on
/// arrival), churn, puts and gets.
#[test]
fn the_report_is_the_same_at_1_2_and_3_threads() {
    let config = |threads: usize| {
        let mut config = SimConfig::new(800, 200, 3);
        config.join_rate = 400.0;
        config.network.loss = 0.02;
        config.network.burst = Some(3.0);
        config.churn = Some(ChurnConfig::with_median(Duration::from_secs(1800)));
        config.duration = Some(Duration::from_secs(120));
        config.values = 5;
        config.gets = 20;
        config.threads = threads;
        config
    };
    let (one, stats) = simulate_with_stats(config(1));
    assert_eq!((stats.threads, stats.parallel_windows), (1, 0));
    assert!(one.lookups > 0 && one.churn.crashes + one.churn.leaves > 0);
    let one = serde_json::to_string(&one.without_speed()).unwrap();
    for threads in [2, 3] {
        let (report, stats) = simulate_with_stats(config(threads));
        assert_eq!(stats.threads, threads);
        assert!(
            stats.parallel_windows > 100,
            "{threads} threads shared out only {} windows",
            stats.parallel_windows
        );
        let report = serde_json::to_string(&report.without_speed()).unwrap();
        assert_eq!(report, one, "{threads} threads");
    }
}

/// A sweep's files with the speed and memory figures blanked: `sweep.json`'s lines of them and
/// `sweep.csv`'s columns of them. Everything else must match byte for byte.
fn without_speed(name: &str, text: &str) -> String {
    const SPEED: [&str; 4] = ["wall_s", "events_per_s", "peak_rss_bytes", "bytes_per_node"];
    match name {
        "sweep.json" => text
            .lines()
            .map(|line| {
                let key = line.trim_start().split(':').next().unwrap_or("");
                if SPEED.iter().any(|s| key == format!("\"{s}\"")) {
                    "<speed>"
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        "sweep.csv" => {
            let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
            text.lines()
                .map(|line| {
                    line.split(',')
                        .zip(&header)
                        .map(|(cell, column)| {
                            if SPEED.contains(column) {
                                "<speed>"
                            } else {
                                cell
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => text.to_string(),
    }
}

fn sim(line: &str) -> Result<(), String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: qis::cli::sim::SimArgs,
    }
    let cli = Cli::try_parse_from(std::iter::once("qis-sim").chain(line.split_whitespace()))
        .map_err(|e| e.to_string())?;
    qis::cli::sim::run(cli.sim).map_err(|e| e.to_string())
}

#[test]
fn a_sweep_run_as_four_shards_and_merged_equals_the_sweep_run_at_once() {
    let root = std::env::temp_dir().join(format!("qis-sim-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // Pre-filled tables keep the 13 runs of this test quick in a debug build.
    let sweep = "--nodes 100,200 --seeds 1-3 --lookups 20 --loss 0.02 --prefill --no-progress";
    let whole = root.join("whole");
    sim(&format!("{sweep} --out {}", whole.display())).expect("the sweep runs");
    let shard_dirs: Vec<_> = (1..=4).map(|i| root.join(format!("shard{i}"))).collect();
    for (i, dir) in shard_dirs.iter().enumerate() {
        sim(&format!(
            "{sweep} --shard {}/4 --out {}",
            i + 1,
            dir.display()
        ))
        .expect("a shard runs");
    }
    let dirs = |dirs: &[&std::path::PathBuf]| {
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let merged = root.join("merged");
    // In another order than the shards': the merge puts runs in the sweep's order.
    let all = [
        &shard_dirs[2],
        &shard_dirs[0],
        &shard_dirs[3],
        &shard_dirs[1],
    ];
    sim(&format!("merge --out {} {}", merged.display(), dirs(&all))).expect("merges");
    for name in qis_sim::SWEEP_FILES {
        let read = |dir: &std::path::Path| {
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (a, b) = (read(&whole), read(&merged));
        assert_eq!(without_speed(name, &a), without_speed(name, &b), "{name}");
    }
    let points: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("sweep_points.json")).unwrap())
            .unwrap();
    assert_eq!(
        points.as_array().map(Vec::len),
        Some(2),
        "one point per size"
    );
    assert_eq!(points[0]["seeds"], serde_json::json!([1, 2, 3]));
    let runs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(6), "2 sizes x 3 seeds");

    // Shares missing, given twice, or of another sweep are refused, and named.
    // Without shard 2/4, which holds runs 1 and 5.
    let error = sim(&format!(
        "merge --out {} {}",
        merged.display(),
        dirs(&all[..3])
    ))
    .unwrap_err();
    assert!(
        error.contains("2 of 6 runs missing: run 1 (nodes 100, seed 2) of shard 2/4"),
        "{error}"
    );
    let twice = [
        &shard_dirs[0],
        &shard_dirs[1],
        &shard_dirs[2],
        &shard_dirs[3],
        &shard_dirs[1],
    ];
    let error = sim(&format!(
        "merge --out {} {}",
        merged.display(),
        dirs(&twice)
    ))
    .unwrap_err();
    assert!(
        error.contains("is in both") && error.contains("shard 2/4"),
        "{error}"
    );
    let other = root.join("other");
    let other_sweep = sweep.replace("--loss 0.02", "--loss 0.03");
    sim(&format!(
        "{other_sweep} --shard 4/4 --out {}",
        other.display()
    ))
    .expect("a shard runs");
    let mixed = [&shard_dirs[0], &shard_dirs[1], &shard_dirs[2], &other];
    let error = sim(&format!(
        "merge --out {} {}",
        merged.display(),
        dirs(&mixed)
    ))
    .unwrap_err();
    assert!(
        error.contains("another sweep") && error.contains("--loss 0.02 against 0.03"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
