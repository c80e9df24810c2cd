//! The simulator with the real identity scheme: ed25519 proofs and Argon2id id work checked at
//! every first contact, as on a UDP network. The protocol logic is the one the modelled runs
//! use; this checks that the model changes costs only, not outcomes.

use qis_core::Difficulty;
use qis_sim::{SimConfig, SimIdentities, simulate};

fn run(identities: SimIdentities) -> qis_sim::SimReport {
    let mut config = SimConfig::new(120, 60, 5);
    config.values = 5;
    config.gets = 30;
    config.identities = identities;
    simulate(config)
}

#[test]
fn real_proofs_form_a_network_that_finds_what_the_modelled_one_finds() {
    let real = run(SimIdentities::Real(Difficulty::new(2).unwrap()));
    assert_eq!(real.identities, "real");
    assert_eq!(real.joins.completed, 120, "{real}");
    assert!(real.success_rate >= 0.98, "{real}");
    assert_eq!(real.values.availability, 1.0, "{real}");
    let modelled = run(SimIdentities::Modelled);
    assert_eq!(modelled.identities, "modelled");
    // Same sizes on the wire: the proofs of both schemes are the same length, so the traffic
    // per lookup differs only by the network's shape (other ids), within a few percent.
    let ratio = real.bytes_per_lookup / modelled.bytes_per_lookup;
    assert!(
        (0.8..1.25).contains(&ratio),
        "{ratio}: {real} vs {modelled}"
    );
}
