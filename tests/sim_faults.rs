//! Loss and churn: lookups still succeed, and stored values stay available through
//! replication and republishing while nodes crash, leave and join.

use qis_core::Duration;
use qis_sim::{ChurnConfig, SimConfig, simulate};

#[test]
fn five_percent_loss_and_one_hour_sessions() {
    let mut config = SimConfig::new(400, 300, 21);
    config.network.loss = 0.05;
    config.churn = Some(ChurnConfig::with_median(Duration::from_secs(3600)));
    config.duration = Some(Duration::from_secs(1800));
    config.values = 10;
    config.gets = 60;
    let r = simulate(config);
    assert!(r.churn.crashes + r.churn.leaves > 20, "churn happened: {r}");
    assert!(r.loss_observed > 0.03, "loss happened: {r}");
    assert!(r.lookups >= 250, "{r}");
    // 300 lookups: one miss is 0.33 points. At 2,000 nodes, 5% loss and the same churn, 99.2%
    // (README, Simulator); this small run's sample sits at 99.0% ± 1 miss.
    assert!(r.success_rate >= 0.98, "success under loss and churn: {r}");
    assert!(
        r.values.availability >= 0.95,
        "values stayed available: {r}"
    );
}

#[test]
fn bursty_loss_is_survived() {
    let mut config = SimConfig::new(300, 200, 22);
    config.network.loss = 0.05;
    config.network.burst = Some(4.0);
    let r = simulate(config);
    // A receiver in a bad state loses every datagram for a while, all three attempts of a
    // request included, so bursts cost more than independent loss at the same average: over
    // six seeds of 1,500 nodes and 1,000 lookups, 97.8% of lookups find the true closest node
    // (99.8% with independent 5% loss); since a node that never answered us gets two of the
    // three attempts (`STRANGER_ATTEMPTS`), seeds 1 and 2 give 97.6% and 97.3% (98.2%, 99.5%
    // before). 200 lookups vary by a couple of points around that. Recall is against the plain
    // k closest, which a lookup no longer returns where a /24 is crowded (at most
    // `LOOKUP_MAX_PER_PREFIX` of it): here the biggest /24 holds 33 of 300 nodes, and recall
    // is 0.94 without loss.
    assert!(r.success_rate >= 0.95, "{r}");
    assert!(r.recall_k >= 0.90, "{r}");
}

#[test]
fn crashed_nodes_come_back_with_what_they_held_unless_told_otherwise() {
    let run = |keeps: bool| {
        let mut config = SimConfig::new(300, 50, 23);
        config.churn = Some(ChurnConfig {
            crash_fraction: 1.0,
            crash_keeps_store: keeps,
            ..ChurnConfig::with_median(Duration::from_secs(1200))
        });
        config.duration = Some(Duration::from_secs(3600));
        config.values = 20;
        config.gets = 100;
        simulate(config)
    };
    let kept = run(true);
    let lost = run(false);
    assert!(kept.churn.crashes > 50, "{kept}");
    assert_eq!(kept.churn.leaves, 0, "every departure is a crash");
    // Each crashed holder of a value comes back with it (20 values, 20 holders each, 300
    // nodes: most nodes hold one or more).
    assert!(
        kept.churn.records_kept >= kept.churn.crashes / 2,
        "records kept: {kept}"
    );
    assert_eq!(lost.churn.records_kept, 0, "{lost}");
    assert!(kept.values.availability >= 0.99, "{kept}");
}
