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
    for name in qis_sim::SWEEP_FILES {
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

/// The error a command line gets, from clap's parsing or from our own checks.
fn refusal(line: &str) -> String {
    let argv = std::iter::once("qis-sim").chain(line.split_whitespace());
    match Cli::try_parse_from(argv) {
        Err(error) => error.to_string(),
        Ok(cli) => qis::cli::sim::run(cli.sim)
            .expect_err("refused")
            .to_string(),
    }
}

#[test]
fn every_numeric_flag_is_checked_negative_values_included() {
    // (command line, what the one-line error must say)
    let cases = [
        ("--nodes 10 --loss -0.1", "--loss: -0.1 is outside [0, 1)"),
        ("--nodes 10 --loss NaN", "--loss: NaN is outside [0, 1)"),
        ("--nodes 10 --loss 1", "--loss: 1 is outside [0, 1)"),
        (
            "--nodes 10 --burst 4",
            "--burst: bursts of loss need a loss rate",
        ),
        ("--nodes 10 --loss 0.1 --burst 0.5", "--burst: 0.5"),
        ("--nodes 10 --loss 0.1 --burst -2", "--burst: -2"),
        (
            "--nodes 10 --lookups 0",
            "--lookups: 0 lookups and no --values leave nothing to measure",
        ),
        ("--nodes 10 --lookups -5", "-5 is negative"),
        ("--nodes -10", "-10 is negative"),
        ("--nodes 0", "--nodes: 0 is not a usable network size"),
        ("--nodes 10 --seed -1", "-1 is negative"),
        ("--nodes 10 --values -3", "-3 is negative"),
        ("--nodes 10 --gets 5", "--gets: there are no values to get"),
        ("--nodes 10 --churn -1h", "`-1h` is negative"),
        ("--nodes 10 --churn 0s", "--churn: must be longer than zero"),
        (
            "--nodes 10 --duration 0",
            "--duration: must be longer than zero",
        ),
        ("--nodes 10 --refresh -5m", "`-5m` is negative"),
        (
            "--nodes 10 --churn 1h --churn-shape -0.5",
            "--churn-shape: -0.5 is not a positive number",
        ),
        (
            "--nodes 10 --churn 1h --churn-shape NaN",
            "--churn-shape: NaN is not a positive number",
        ),
        (
            "--nodes 10 --churn 1h --crash-fraction 1.5",
            "--crash-fraction: 1.5 is outside [0, 1]",
        ),
        ("--nodes 10 --crash-fraction 0.2", "--churn"),
        ("--nodes 10 --churn-shape 0.7", "--churn"),
        (
            "--nodes 10 --rtt-ms -100",
            "--rtt-ms: -100 is not a positive number",
        ),
        (
            "--nodes 10 --rtt-ms inf",
            "--rtt-ms: inf is not a positive number",
        ),
        (
            "--nodes 10 --join-rate 0",
            "--join-rate: 0 is not a positive number",
        ),
        (
            "--nodes 10 --clustered -0.1",
            "--clustered: -0.1 is outside [0, 1]",
        ),
        (
            "--nodes 10 --cluster-size 300",
            "--cluster-size: 300 is outside 1 to 254",
        ),
        (
            "--nodes 10 --adversaries -0.2",
            "--adversaries: -0.2 is outside [0, 1)",
        ),
        ("--nodes 10 --paths 0", "--paths: 0 is outside 1 to 8"),
        ("--nodes 10 --get-paths -1", "-1 is negative"),
        ("--nodes 10 --alpha 17", "--alpha: 17 is outside 1 to 16"),
        ("--nodes 10 --max-per-prefix-in-table -2", "-2 is negative"),
        ("--nodes 10 --eclipse-gets -1", "-1 is negative"),
        ("--nodes 10,20,10", "--nodes: 10 is given twice"),
        ("--nodes 10 --seeds 8-1", "a range goes up"),
        ("--nodes 10 --seeds 1-3,2", "seed 2 is given twice"),
        ("--nodes 10 --seeds 1-100000", "more than 10000 seeds"),
        ("--nodes 10 --seeds -1", "-1 is negative"),
        ("--nodes 10 --seed 2 --seeds 1-2", "--seed"),
        ("--nodes 10 --shard 0/4", "shards count from 1 to N"),
        ("--nodes 10 --shard 5/4", "shards count from 1 to N"),
        ("--nodes 10 --shard 2", "is not I/N"),
        ("merge", "<DIR>"),
        (
            "merge /nonexistent-qis-shard",
            "/nonexistent-qis-shard/shard.json",
        ),
        ("--nodes 10 merge somewhere", "merge"),
    ];
    for (line, expected) in cases {
        let error = refusal(line);
        assert!(error.contains(expected), "{line}: {error}");
        // Clap's errors end in a hint about --help; ours are one line.
        if !error.contains("For more information") {
            assert_eq!(error.lines().count(), 1, "{line}: {error}");
        }
    }
}

#[test]
fn a_run_without_lookups_says_none_were_measured() {
    let config = args("--lookups 0 --values 2 --gets 4 --duration 2m")
        .config(60)
        .expect("values are something to measure");
    let report = qis_sim::simulate(config);
    let text = report.to_string();
    assert!(text.contains("lookups     none measured"), "{text}");
    assert!(!text.contains("success"), "{text}");
    assert_eq!(report.values.published, 2, "{text}");
}
