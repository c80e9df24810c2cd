//! The same seed gives the same report, byte for byte, apart from the simulator's own speed
//! and memory figures; another seed gives another.

use qis_core::Duration;
use qis_sim::{ChurnConfig, SimConfig, simulate};

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
