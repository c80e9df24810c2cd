//! A minimal benchmark harness: runs a closure in timed batches and reports the median and
//! p90 time per operation. Shared by the benches in this folder (`#[path]`-included).

use std::hint::black_box;
use std::time::Instant;

/// One benchmark's result.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Measured {
    /// What was measured.
    pub name: String,
    /// Median nanoseconds per operation.
    pub median_ns: f64,
    /// 90th percentile nanoseconds per operation.
    pub p90_ns: f64,
}

/// Times `op` in `samples` batches of `batch` calls each.
pub(crate) fn measure<T>(
    name: &str,
    samples: usize,
    batch: usize,
    mut op: impl FnMut() -> T,
) -> Measured {
    // Warm up caches and branch predictors.
    for _ in 0..batch.min(1000) {
        black_box(op());
    }
    let mut per_op: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                black_box(op());
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    let result = Measured {
        name: name.to_string(),
        median_ns: per_op[per_op.len() / 2],
        p90_ns: per_op[(per_op.len() * 9) / 10],
    };
    println!(
        "{:<44} median {:>12} p90 {:>12}",
        result.name,
        human(result.median_ns),
        human(result.p90_ns)
    );
    result
}

/// Nanoseconds in a readable unit.
pub(crate) fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Prints how `ours` compares with `peer`, a reference measured in the same run (time ratio:
/// below 1 means ours is faster).
pub(crate) fn versus(ours: &Measured, peer: &Measured) -> f64 {
    let ratio = ours.median_ns / peer.median_ns.max(f64::MIN_POSITIVE);
    let peer_name = peer.name.trim_start().trim_start_matches("peer: ");
    println!("  -> {ratio:.2}x the time of the peer ({peer_name})");
    ratio
}
