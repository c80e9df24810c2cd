//! `qis probe` against a live network: 30 real nodes over UDP on loopback (in this process,
//! each on its own 127.0.0.x address), probed by the `qis` binary as a separate process.
//! Everything asserted is a count or a bound on one, never a wall time.

mod support;

use qis_core::Identity;
use qis_core::wire::NetworkId;
use qis_core::{Config, Id};
use qis_core::{Credentials, Difficulty, IdWork, WorkHasher};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions, spawn};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const NODES: usize = 30;
const NETWORK: &str = "probe-test";
/// Real id work, cheap enough for 30 nodes.
const DIFFICULTY: u8 = 4;

fn credentials(identity: &Identity) -> Credentials {
    let difficulty = Difficulty::new(DIFFICULTY).expect("within bounds");
    let (work, _) = WorkHasher::new()
        .solve(&identity.public_key(), difficulty, IdWork(0), 10_000)
        .expect("a solution within 10,000 tries at 4 bits");
    Credentials::real(identity, work, difficulty).expect("solved work")
}

async fn start_node(index: usize) -> NodeHandle {
    let ip = Ipv4Addr::new(127, 0, 3, (index + 1) as u8);
    let identity =
        Identity::from_secret_key(*Id::hash(&(index as u64 + 7000).to_le_bytes()).as_bytes());
    let options = NodeOptions {
        listen: SocketAddr::from((ip, 0)),
        config: Config {
            network: NetworkId::from_name(NETWORK).expect("a valid name"),
            ..Config::default()
        },
        socket: SocketOptions::default(),
    };
    spawn(&credentials(&identity), options)
        .await
        .expect("bind on loopback")
}

/// Starts the network: every node joins through the first.
async fn start_network() -> Vec<NodeHandle> {
    let mut nodes = vec![start_node(0).await];
    let seed = nodes[0].local_addr();
    for i in 1..NODES {
        let node = start_node(i).await;
        let report = node.bootstrap(vec![seed]).await.expect("node running");
        assert_eq!(report.bootstrap_answered, 1);
        nodes.push(node);
    }
    nodes
}

/// `qis probe` with `args` against `bootstrap`, its output once it exits.
fn probe(home: &std::path::Path, bootstrap: &str, args: &[&str]) -> Command {
    let mut command = support::qis(home);
    command
        .args(["probe", "--bootstrap", bootstrap, "--network", NETWORK])
        .args(["--id-difficulty", &DIFFICULTY.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run qis probe"))
        .await
        .expect("the probe's task")
}

fn json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn number(report: &Value, path: &[&str]) -> f64 {
    let mut v = report;
    for key in path {
        v = v
            .get(key)
            .unwrap_or_else(|| panic!("no field {path:?} in {report}"));
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_measures_a_thirty_node_network() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let nodes = start_network().await;
        let home = support::scratch("probe", "measure");
        let out = home.join("out");
        let bootstrap = nodes[0].local_addr().to_string();
        let output = run(probe(
            &home,
            &bootstrap,
            &[
                "--lookups",
                "60",
                "--seed",
                "3",
                "--timeout-s",
                "120",
                "--json",
                "--out",
                out.to_str().unwrap(),
            ],
        ))
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = json(&output);
        println!("probe-30: {report}");
        assert_eq!(number(&report, &["lookups"]), 60.0);
        assert_eq!(number(&report, &["lookups_asked"]), 60.0);
        assert_eq!(number(&report, &["success_rate"]), 1.0);
        assert!(report["stopped"].is_null());
        for figure in ["hops", "rounds", "requests_per_lookup"] {
            for field in ["mean", "p50", "p90", "p99", "max"] {
                number(&report, &[figure, field]);
            }
        }
        for figure in ["latency_ms", "rtt_ms"] {
            for field in ["mean", "p50", "p90", "p99", "max"] {
                assert!(number(&report, &[figure, field]) > 0.0, "{figure}.{field}");
            }
            assert_eq!(report[figure]["cdf"].as_array().map(Vec::len), Some(21));
        }
        let hops = number(&report, &["hops", "mean"]);
        assert!(
            (1.0..=3.0).contains(&hops),
            "hop depth mean {hops} at 30 nodes"
        );
        assert!(number(&report, &["hops", "max"]) <= 4.0);
        let by_depth: u64 = report["hops_histogram"]
            .as_array()
            .expect("hops_histogram")
            .iter()
            .map(|c| c.as_u64().expect("a count"))
            .sum();
        assert_eq!(by_depth, 60, "every lookup has a hop depth");
        assert_eq!(
            report["hops_histogram"][0].as_u64(),
            Some(0),
            "every lookup got an answer"
        );
        let requests = number(&report, &["requests"]);
        let answered = number(&report, &["answered"]);
        assert!(
            requests >= 60.0 && answered >= 60.0,
            "{requests} requests, {answered} answered"
        );
        let samples = number(&report, &["rtt_samples"]);
        assert!(
            samples > 0.0 && samples <= answered,
            "{samples} rtt samples of {answered}"
        );
        let size = number(&report, &["size_estimate", "nodes"]);
        let truth = NODES as f64;
        assert!(
            size >= truth / 2.0 && size <= truth * 2.0,
            "estimated {size} nodes, truth {truth}"
        );
        assert!(number(&report, &["size_estimate", "low"]) <= size);
        assert!(number(&report, &["size_estimate", "high"]) >= size);
        assert_eq!(number(&report, &["size_estimate", "lookups_used"]), 60.0);
        for name in qis::probe::PROBE_FILES {
            let text = std::fs::read_to_string(out.join(name)).expect(name);
            if name.ends_with(".svg") {
                assert!(
                    text.starts_with("<svg") && text.contains("<polyline"),
                    "{name}"
                );
            }
        }
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("probe.json")).unwrap())
                .unwrap();
        assert_eq!(
            written, report,
            "probe.json holds the report --json printed"
        );

        // The text report says the same.
        let output = run(probe(&home, &bootstrap, &["--lookups", "5"])).await;
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("lookups     5 in"), "{text}");
        assert!(text.contains("success 100.00%"), "{text}");

        // Ctrl-C reports what was measured so far, and exits 130.
        let child = probe(&home, &bootstrap, &["--lookups", "1000000", "--json"])
            .spawn()
            .expect("start qis probe");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let pid = child.id().to_string();
        let killed = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = json(&output);
        assert_eq!(report["stopped"], "interrupted");
        let done = number(&report, &["lookups"]);
        assert!(
            (1.0..1_000_000.0).contains(&done),
            "{done} lookups before Ctrl-C"
        );
        assert_eq!(number(&report, &["success_rate"]), 1.0);

        // The time limit ends a probe the same way, with success.
        let output = run(probe(
            &home,
            &bootstrap,
            &["--lookups", "1000000", "--timeout-s", "3", "--json"],
        ))
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = json(&output);
        assert_eq!(report["stopped"], "time_limit");
        assert!(number(&report, &["lookups"]) >= 1.0);
        for node in &nodes {
            node.shutdown().await;
        }
    })
    .await
    .expect("bounded in time");
}

/// The error line of a probe that refused its flags (exit 2), or of one that failed (exit 1).
fn refused(args: &[&str], code: i32) -> String {
    let home = support::scratch("probe", "flags");
    let output = support::qis(&home)
        .arg("probe")
        .args(args)
        .output()
        .expect("run qis probe");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    stderr
}

#[test]
fn bad_flags_get_one_line_errors_before_any_network() {
    let b = ["--bootstrap", "127.0.0.1:9"];
    let ours = [
        (&["--lookups", "0"][..], "--lookups 0: nothing to measure"),
        (
            &["--lookups", "2000000"][..],
            "--lookups 2000000: at most 1000000",
        ),
        (
            &["--timeout-s", "0"][..],
            "--timeout-s 0: expected seconds above 0",
        ),
        (
            &["--timeout-s", "-1"][..],
            "--timeout-s -1: expected seconds above 0",
        ),
        (&["--timeout-s", "NaN"][..], "--timeout-s NaN"),
        (&["--network", "bad name!"][..], "--network \"bad name!\""),
        (
            &["--out", "Cargo.toml"][..],
            "--out Cargo.toml: exists and is not a directory",
        ),
    ];
    for (args, expected) in ours {
        let all: Vec<&str> = b.iter().chain(args).copied().collect();
        let error = refused(&all, 2);
        assert!(error.contains(expected), "{args:?}: {error}");
        assert_eq!(error.lines().count(), 1, "{args:?}: {error}");
    }
    // Clap's own refusals name the flag on their first line (then a hint about --help).
    for (args, expected) in [
        (&["--lookups", "-5"][..], "-5 is negative"),
        (&["--lookups", "many"][..], "`many` is not a whole number"),
        (&["--seed", "-1"][..], "-1 is negative"),
        (&["--frobnicate"][..], "--frobnicate"),
    ] {
        let all: Vec<&str> = b.iter().chain(args).copied().collect();
        let error = refused(&all, 2);
        assert!(
            error.lines().next().is_some_and(|l| l.contains(expected)),
            "{args:?}: {error}"
        );
    }
    assert!(refused(&["--lookups", "3"], 2).contains("--bootstrap"));
}

#[test]
fn a_silent_bootstrap_is_a_one_line_failure() {
    // Nobody listens on the discard port of loopback: the join times out.
    let error = refused(
        &[
            "--bootstrap",
            "127.0.0.1:9",
            "--timeout-s",
            "2",
            "--id-difficulty",
            "0",
        ],
        1,
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains("no bootstrap node answered") || error.contains("timed out"),
        "{error}"
    );
}
