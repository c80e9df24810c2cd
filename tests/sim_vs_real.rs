//! The short version of `cargo bench --bench sim_vs_real`: 20 real `qis node` processes, one
//! per network namespace, behind a router that applies the simulator's own per-pair delays,
//! probed by `qis probe`, beside the simulator at the same size and seed. Asserts counts (hop
//! depth, requests per lookup, success), never a wall time. Needs root; skips with a message
//! without it.

mod support;

#[path = "../bench/netlab.rs"]
mod netlab;
#[allow(dead_code)]
#[path = "../bench/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "../bench/svr.rs"]
mod svr;

#[test]
fn twenty_real_nodes_walk_like_the_simulated_ones() {
    if let Some(why) = netlab::unavailable() {
        eprintln!("sim_vs_real: SKIPPED: {why}");
        return;
    }
    let setup = svr::Setup {
        nodes: 20,
        lookups: 20,
        loss: 0.0,
        rtt_ms: 100.0,
        seed: 3,
    };
    let work = support::scratch("sim_vs_real", "lab");
    let qis = std::path::Path::new(env!("CARGO_BIN_EXE_qis"));
    let prefix = format!("qsvt{}-", std::process::id() % 10_000);
    let c = svr::compare(setup, qis, &prefix, &work).expect("both sides ran");
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("{c:#?}");
    assert_eq!(c.nodes_alive, 20, "every real node ran to the end");
    assert_eq!(c.real.success_rate, 1.0);
    assert_eq!(c.simulated.success_rate, 1.0);
    assert!(c.router_forwarded > 1000, "the lab carried the traffic");
    assert_eq!(c.router_dropped, 0, "no loss was asked for");
    let (hops, _, requests) = c.differences();
    assert!(hops <= 0.2, "hop depth {c:?}");
    assert!(requests.abs() <= 0.10, "requests per lookup {c:?}");
}
