//! The targeted attacks with ground ids: `eclipse-key` (the ids closest to chosen keys that a
//! grinding budget buys) and `sybil-table` (ids filling one victim's buckets). They measure,
//! they do not defend: the figures must follow the model of the budget, and the routing
//! table's prefix limits must hold a one-prefix attacker to 10 entries.

use qis_core::Duration;
use qis_sim::{AddressPlan, Attack, SimConfig, SimReport, TargetedConfig, simulate};

fn eclipse(nodes: usize, keys: usize, cpu_hours: f64, addresses: usize, seed: u64) -> SimReport {
    let mut config = SimConfig::new(nodes, 50, seed);
    config.values = keys;
    config.gets = 0;
    config.duration = Some(Duration::from_secs(600));
    config.targeted = Some(TargetedConfig {
        grind_cpu_hours: cpu_hours,
        addresses,
        eclipse_keys: keys,
        eclipse_gets: 20,
        ..TargetedConfig::new(Attack::EclipseKey)
    });
    simulate(config)
}

fn sybil(plan: AddressPlan, seed: u64) -> SimReport {
    let mut config = SimConfig::new(1000, 50, seed);
    config.duration = Some(Duration::from_secs(600));
    // Every honest node at its own /24, so the victim's prefix refusals are the attacker's.
    config.addresses.clustered = 0.0;
    config.targeted = Some(TargetedConfig {
        plan,
        victim_lookups: 20,
        ..TargetedConfig::new(Attack::SybilTable)
    });
    simulate(config)
}

#[test]
fn a_small_budget_takes_the_share_of_the_closest_places_the_model_predicts() {
    // 0.2 CPU-hours: 576 ids against 1,000 honest nodes; each of the 20 closest places of a
    // key is the attacker's with probability 576/1576 (7.3 of 20), summed over 4 keys: 29.
    let r = eclipse(1000, 4, 0.2, 80, 11);
    let e = r
        .adversaries
        .as_ref()
        .unwrap()
        .eclipse
        .as_ref()
        .expect("eclipse reported");
    assert_eq!(
        (e.valid_ids, e.attacker_nodes, e.keys.len()),
        (576, 80, 4),
        "{r}"
    );
    assert_eq!(e.attacker_nodes_joined, 80, "{r}");
    let expected: f64 = e.keys.iter().map(|k| k.expected_attackers_in_closest).sum();
    assert!((expected - 29.2).abs() < 0.5, "{expected}");
    let measured: u64 = e
        .keys
        .iter()
        .map(|k| k.attackers_in_closest_at_publication.expect("published"))
        .sum();
    assert!(
        (15..=45).contains(&measured),
        "{measured} of 80, model {expected}: {r}"
    );
    for key in &e.keys {
        assert!(key.gets >= 20, "every dedicated get counted: {r}");
    }
    // The rest of the network is not what the eclipse is after.
    assert!(r.success_rate >= 0.95, "{r}");
}

#[test]
fn a_big_budget_takes_every_closest_place() {
    // 1,000 CPU-hours: 2.9 million ids; the 20 closest to the key are all the attacker's.
    let r = eclipse(1000, 1, 1000.0, 40, 12);
    let e = r.adversaries.as_ref().unwrap().eclipse.as_ref().unwrap();
    let key = &e.keys[0];
    assert_eq!(key.attackers_in_closest_at_publication, Some(20), "{r}");
    assert_eq!(key.attackers_in_closest_at_end, 20, "{r}");
    assert!(key.retrieval < 0.5, "an eclipsed key is mostly lost: {r}");
    let json = serde_json::to_value(&r).unwrap();
    let eclipse = &json["adversaries"]["eclipse"];
    for field in [
        "cpu_hours",
        "valid_ids",
        "attacker_nodes",
        "address_plan",
        "keys",
    ] {
        assert!(!eclipse[field].is_null(), "{field} in {eclipse}");
    }
    for field in [
        "attackers_in_closest_at_publication",
        "attackers_in_closest_at_end",
        "gets",
        "found",
        "retrieval",
    ] {
        assert!(!eclipse["keys"][0][field].is_null(), "{field} in {eclipse}");
    }
    assert!(json["adversaries"].get("sybil_table").is_none());
}

#[test]
fn the_prefix_limits_hold_a_one_prefix_sybil_to_ten_entries() {
    let one = sybil(AddressPlan::OnePrefix, 13);
    let s = one
        .adversaries
        .as_ref()
        .unwrap()
        .sybil_table
        .as_ref()
        .expect("sybil reported");
    assert_eq!(s.attacker_slash_24s, 1, "{one}");
    assert!(s.attacker_nodes > 100, "{one}");
    assert!((1..=10).contains(&s.attacker_entries), "{one}");
    assert!(s.attacker_entries_max_per_slash_24 <= 10, "{one}");
    assert!(s.victim_refused_prefix > 0, "{one}");
    assert_eq!(s.victim_lookups, 20, "{one}");
    let spread = sybil(AddressPlan::Spread, 13);
    let t = spread
        .adversaries
        .as_ref()
        .unwrap()
        .sybil_table
        .as_ref()
        .unwrap();
    assert!(
        t.attacker_entries > 10,
        "spread addresses pass the limits: {spread}"
    );
    assert_eq!(t.attacker_entries_max_per_slash_24, 1, "{spread}");
}

#[test]
fn the_same_seed_gives_the_same_targeted_report() {
    let a = eclipse(500, 1, 0.5, 30, 14).without_speed();
    let b = eclipse(500, 1, 0.5, 30, 14).without_speed();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
