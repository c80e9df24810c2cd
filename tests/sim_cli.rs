//! `qis sim` as the binary will call it: argument parsing, a sweep's files.

use clap::Parser;
use qis::cli::sim::SimArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: SimArgs,
}

fn args(line: &str) -> SimArgs {
    Cli::try_parse_from(std::iter::once("qis-sim").chain(line.split_whitespace()))
        .expect("valid arguments")
        .sim
}

#[test]
fn a_sweep_writes_json_csv_and_plots() {
    let dir = std::env::temp_dir().join(format!("qis-sim-cli-{}", std::process::id()));
    let line = format!(
        "--nodes 100,200 --lookups 30 --seed 3 --no-progress --json --out {}",
        dir.display()
    );
    qis::cli::sim::run(args(&line)).expect("sweep runs");
    for name in ["sweep.json", "sweep.csv", "hops.svg", "latency_cdf.svg"] {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!text.is_empty(), "{name}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let runs = json.as_array().expect("a list");
    assert_eq!(runs.len(), 2);
    for key in [
        "nodes",
        "lookups",
        "success_rate",
        "hops",
        "rounds",
        "requests_per_lookup",
        "recall_k",
        "latency_ms",
        "wall_s",
        "events_per_s",
        "peak_rss_bytes",
        "prefixes",
    ] {
        assert!(runs[0].get(key).is_some(), "missing {key}");
    }
    assert!(runs[0]["hops"]["p99"].is_number() && runs[0]["latency_ms"]["p90"].is_number());
    assert_eq!(
        std::fs::read_to_string(dir.join("sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_explained() {
    let error = qis::cli::sim::run(args("--nodes 10 --loss 1.5")).unwrap_err();
    assert!(error.to_string().contains("--loss"), "{error}");
    let error = qis::cli::sim::run(args("--nodes 10 --clustered 1.5")).unwrap_err();
    assert!(error.to_string().contains("--clustered"), "{error}");
    let error = qis::cli::sim::run(args("--nodes 10 --cluster-size 0")).unwrap_err();
    assert!(error.to_string().contains("--cluster-size"), "{error}");
    let error = Cli::try_parse_from(["qis-sim", "--churn", "1y"])
        .err()
        .expect("refused");
    assert!(error.to_string().contains("unknown unit"), "{error}");
    // Crashes keep or lose the store only where there is churn.
    let error = Cli::try_parse_from(["qis-sim", "--crash-loses-store"])
        .err()
        .expect("refused");
    assert!(error.to_string().contains("--churn"), "{error}");
    assert!(Cli::try_parse_from(["qis-sim", "--churn", "1h", "--crash-loses-store"]).is_ok());
}

#[test]
fn bad_adversary_arguments_are_explained() {
    let error = qis::cli::sim::run(args("--nodes 10 --adversaries 1.0")).unwrap_err();
    assert!(error.to_string().contains("--adversaries"), "{error}");
    let error =
        qis::cli::sim::run(args("--nodes 10 --adversaries 0.2 --attack drop,eclipse")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("--attack") && text.contains("\"eclipse\""),
        "{text}"
    );
    assert!(
        text.contains("censor-store"),
        "names the known attacks: {text}"
    );
    let error = qis::cli::sim::run(args("--nodes 10 --paths 9")).unwrap_err();
    assert!(error.to_string().contains("--paths"), "{error}");
}
