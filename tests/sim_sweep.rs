//! A small sweep through the real protocol core: every node joins through the protocol, then
//! random lookups are scored against the true k closest. Counts only, no wall time.

use qis_sim::{SimConfig, SimReport, simulate};

fn run(nodes: usize) -> SimReport {
    let mut config = SimConfig::new(nodes, 200, 11);
    config.settle = qis_core::Duration::from_secs(10);
    simulate(config)
}

#[test]
fn lookups_succeed_and_hop_depth_grows_no_faster_than_a_log_slope() {
    let reports: Vec<SimReport> = [250, 500, 1000, 2000].into_iter().map(run).collect();
    for r in &reports {
        assert_eq!(r.lookups, 200, "every lookup finished: {r}");
        assert!(r.success_rate >= 0.99, "success: {r}");
        // Against the plain k closest: a lookup returns at most `LOOKUP_MAX_PER_PREFIX` of one
        // /24, and the default address model packs 30% of nodes into shared /24s (at 250
        // nodes the biggest holds a tenth of the network), so recall is 0.95 to 0.98 here.
        assert!(r.recall_k >= 0.94, "recall: {r}");
        assert!(r.requests_per_lookup.mean <= 30.0, "requests: {r}");
        assert!(
            r.hops.mean < (r.nodes as f64).log2() / 2.0,
            "far below log2 N: {r}"
        );
        assert_eq!(r.joins.completed, r.nodes, "every node joined: {r}");
    }
    let first = &reports[0];
    let last = &reports[reports.len() - 1];
    let doublings = (last.nodes as f64 / first.nodes as f64).log2();
    let slope = (last.hops.mean - first.hops.mean) / doublings;
    // log2 N grows by 1 per doubling; Kademlia's hop depth should grow by well under that.
    assert!(
        slope <= 0.5,
        "mean hop depth grows {slope:.2} per doubling: {} -> {}",
        first.hops.mean,
        last.hops.mean
    );
}
