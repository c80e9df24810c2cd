//! `cargo bench --bench sim_vs_real`: the simulator against real `qis node` processes on a
//! network that follows the simulator's own per-pair latency model (see `svr.rs`), at 0% and
//! 5% loss, side by side, with the targets: hop-depth mean within 0.2, lookup latency
//! p50 within 15%, requests per lookup within 10%.
//!
//! Settings by environment: `QIS_SVR_NODES` (default 300), `QIS_SVR_LOOKUPS` (300),
//! `QIS_SVR_LOSS` (`0,0.05`), `QIS_SVR_RTT_MS` (100), `QIS_SVR_SEED` (1), `QIS_SVR_JSON`
//! (write the comparisons there as JSON). Needs root (network namespaces, a TUN device);
//! without it the bench says why and exits 0.

#[path = "netlab.rs"]
mod netlab;
#[allow(dead_code)]
#[path = "process.rs"]
mod process;
#[path = "svr.rs"]
mod svr;

use svr::{Comparison, Setup};

use netlab::setting;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(why) = netlab::unavailable() {
        println!("sim_vs_real: skipped: {why}");
        return;
    }
    let losses: Vec<f64> = setting::<String>("QIS_SVR_LOSS", "0,0.05".into())
        .split(',')
        .map(|l| {
            l.trim().parse().unwrap_or_else(|_| {
                eprintln!("sim_vs_real: QIS_SVR_LOSS: {l:?} is not a fraction");
                std::process::exit(2)
            })
        })
        .collect();
    let work = std::env::temp_dir().join(format!("qis-svr-{}", std::process::id()));
    let qis = std::path::Path::new(env!("CARGO_BIN_EXE_qis"));
    let mut done: Vec<Comparison> = Vec::new();
    for loss in losses {
        let setup = Setup {
            nodes: setting("QIS_SVR_NODES", 300),
            lookups: setting("QIS_SVR_LOOKUPS", 300),
            loss,
            rtt_ms: setting("QIS_SVR_RTT_MS", 100.0),
            seed: setting("QIS_SVR_SEED", 1),
        };
        let dir = work.join(format!("loss-{loss}"));
        match svr::compare(setup, qis, "qsvr", &dir) {
            Ok(comparison) => {
                print(&comparison);
                done.push(comparison);
            }
            Err(e) => {
                eprintln!("sim_vs_real: loss {loss}: {e}");
                let _ = std::fs::remove_dir_all(&work);
                std::process::exit(1);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if let Ok(path) = std::env::var("QIS_SVR_JSON") {
        let text = serde_json::to_string_pretty(&done).expect("plain data");
        if let Err(e) = std::fs::write(&path, text + "\n") {
            eprintln!("sim_vs_real: {path}: {e}");
        }
    }
}

fn print(c: &Comparison) {
    let s = &c.setup;
    println!(
        "{} nodes, {} lookups, loss {:.0}%, model median RTT {} ms, seed {} (real side {:.0} s, {} of {} nodes alive, router {} forwarded / {} dropped)",
        s.nodes,
        s.lookups,
        s.loss * 100.0,
        s.rtt_ms,
        s.seed,
        c.real_wall_s,
        c.nodes_alive,
        s.nodes,
        c.router_forwarded,
        c.router_dropped
    );
    let (hops, latency, requests) = c.differences();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("  figure                 simulated      real   difference  target");
    println!(
        "  success                 {:>8.3}  {:>8.3}",
        c.simulated.success_rate, c.real.success_rate
    );
    println!(
        "  hop depth, mean         {:>8.2}  {:>8.2}   {:>+9.2}   ≤ 0.2 {}",
        c.simulated.hops_mean,
        c.real.hops_mean,
        c.real.hops_mean - c.simulated.hops_mean,
        verdict(hops <= 0.2)
    );
    println!(
        "  lookup latency p50 ms   {:>8.1}  {:>8.1}   {:>+8.1}%   ≤ 15% {}",
        c.simulated.latency_p50_ms,
        c.real.latency_p50_ms,
        latency * 100.0,
        verdict(latency.abs() <= 0.15)
    );
    println!(
        "  lookup latency p90 ms   {:>8.1}  {:>8.1}",
        c.simulated.latency_p90_ms, c.real.latency_p90_ms
    );
    println!(
        "  requests per lookup     {:>8.2}  {:>8.2}   {:>+8.1}%   ≤ 10% {}",
        c.simulated.requests_mean,
        c.real.requests_mean,
        requests * 100.0,
        verdict(requests.abs() <= 0.10)
    );
}
