//! `qis sim --unreachable F` at scale: a share of nodes behind port-restricted NATs, every
//! other node in the automatic role. The checks must judge every node right, no table may
//! hold a node behind a NAT, and lookups succeed as in a network without NATs. Also through
//! the CLI: the flag's bad values are refused, and the report carries the counts.

use qis_sim::{SimConfig, simulate};

#[test]
fn checks_judge_every_node_right_and_no_table_holds_a_natted_node() {
    let config = SimConfig {
        unreachable: 0.3,
        ..SimConfig::new(400, 200, 3)
    };
    let report = simulate(config);
    let r = report.reachability.clone().expect("a reachability report");
    assert!(r.behind_nat >= 80 && r.behind_nat <= 160, "{r:?}");
    assert_eq!(
        r.natted.reachable, 0,
        "no natted node judged reachable: {r:?}"
    );
    assert_eq!(r.natted.unknown, 0, "{r:?}");
    assert_eq!(r.natted.unreachable, r.behind_nat);
    assert_eq!(r.open.unreachable + r.open.unknown, 0, "{r:?}");
    assert_eq!(r.open.reachable + r.behind_nat + 1, 400, "node 0 is fixed");
    assert_eq!(r.table_entries_to_natted, 0);
    assert_eq!(r.tables_holding_natted, 0);
    assert!(r.datagrams_filtered > 0, "the NATs dropped the probes");
    // At least one probe each (the first nodes, with one peer to ask, need one).
    assert!(r.probes_received >= r.open.reachable, "{r:?}");
    assert_eq!(report.success_rate, 1.0);
    assert!(report.recall_k >= 0.95, "{}", report.recall_k);
    // Deterministic like every run.
    let again = simulate(SimConfig {
        unreachable: 0.3,
        ..SimConfig::new(400, 200, 3)
    });
    assert_eq!(report.without_speed(), again.without_speed());
}

#[test]
fn a_run_without_nats_has_no_reachability_report() {
    let report = simulate(SimConfig::new(100, 20, 1));
    assert!(report.reachability.is_none());
}

#[test]
fn the_cli_refuses_bad_fractions_and_prefill() {
    let qis = env!("CARGO_BIN_EXE_qis");
    for (args, says) in [
        (vec!["--unreachable", "1.5"], "outside [0, 1)"),
        (vec!["--unreachable", "-0.1"], "outside [0, 1)"),
        (
            vec!["--unreachable", "0.2", "--prefill"],
            "protocol formation",
        ),
    ] {
        let out = std::process::Command::new(qis)
            .args(["sim", "--nodes", "50", "--lookups", "5"])
            .args(&args)
            .output()
            .expect("run qis sim");
        assert!(!out.status.success(), "{args:?} refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let out = std::process::Command::new(qis)
        .args([
            "sim",
            "--nodes",
            "120",
            "--lookups",
            "20",
            "--unreachable",
            "0.25",
            "--json",
        ])
        .output()
        .expect("run qis sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["reachability"]["natted"]["reachable"], 0);
    assert_eq!(report["reachability"]["table_entries_to_natted"], 0);
}
