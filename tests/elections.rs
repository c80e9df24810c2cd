//! The elections simulator: same seed, same report; qis's advice beats no network with honest
//! publishers, and 20% liars neither push it above no network nor hold its weight.

use qis_elections::{Config, LiarMode, Report, Squat, run};

fn simulate(publishers: u64, rounds: u64, liar_share: f64) -> Report {
    run(
        &Config {
            publishers,
            rounds,
            liar_share,
            seed: 7,
            squat: Squat::default(),
            liar_mode: LiarMode::Inflate,
            reproduce_share: qis_elections::REPRODUCE_SHARE,
        },
        |_| {},
    )
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let a = simulate(150, 3, 0.2);
    let b = simulate(150, 3, 0.2);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert_eq!(a.rounds.len(), 3);
    // Round 1 has no evidence: every strategy gives the default recipe.
    let first = &a.rounds[0];
    assert_eq!(first.qis, first.no_network);
    assert_eq!(first.writeup, first.no_network);
}

#[test]
fn honest_advice_improves_on_no_network() {
    let report = simulate(400, 6, 0.0);
    let last = report.rounds.last().unwrap();
    assert!(
        last.qis < 0.9 * last.no_network,
        "qis {} vs no network {}",
        last.qis,
        last.no_network
    );
    assert!(last.qis < last.writeup, "{last:?}");
    assert_eq!(last.liar_weight, 0.0);
    // A fifth of the publishers reproduce a packet each round from round 2 (round 1 finds
    // nothing to reproduce): about 80 reports a round among 400 publishers.
    assert_eq!(report.rounds[0].reproductions, 0);
    let per_round = last.reproductions as f64 / 5.0;
    assert!((50.0..=110.0).contains(&per_round), "{per_round}");
}

#[test]
fn reproductions_give_more_clients_standing_to_follow() {
    let with = simulate(400, 5, 0.0);
    let without = run(
        &Config {
            publishers: 400,
            rounds: 5,
            liar_share: 0.0,
            seed: 7,
            squat: Squat::default(),
            liar_mode: LiarMode::Inflate,
            reproduce_share: 0.0,
        },
        |_| {},
    );
    assert_eq!(without.rounds.last().unwrap().reproductions, 0);
    // Each reproducer's re-run roots standing in the packet it checked, so more of the
    // evidence weight has standing from round 3 on.
    for (a, b) in with.rounds.iter().zip(&without.rounds).skip(2) {
        assert!(a.established > b.established, "{a:?} vs {b:?}");
        assert!(a.qis <= a.no_network, "{a:?}");
    }
}

#[test]
fn liars_neither_push_advice_above_no_network_nor_keep_their_weight() {
    let honest = simulate(400, 6, 0.0);
    let lied = simulate(400, 6, 0.2);
    for round in &lied.rounds {
        // A hair of slack: the two worlds have different honest populations.
        assert!(
            round.qis <= round.no_network * 1.02,
            "round {}: qis {} above no network {}",
            round.round,
            round.qis,
            round.no_network
        );
    }
    let r5 = &lied.rounds[4];
    assert!(
        r5.liar_weight <= 0.05,
        "liars hold {} by round 5",
        r5.liar_weight
    );
    assert!(
        r5.qis <= 1.25 * honest.rounds[4].qis,
        "round 5: {} with liars vs {} honest",
        r5.qis,
        honest.rounds[4].qis
    );
}

#[test]
fn squatters_filling_a_key_push_out_only_their_own_packets() {
    // 600 keys × 8 values each would overfill the 4,096-value key; every honest packet filed
    // under it stays, because a full key evicts from the publisher holding the most there.
    let report = run(
        &Config {
            publishers: 300,
            rounds: 3,
            liar_share: 0.0,
            seed: 7,
            squat: Squat {
                keys: 600,
                prefixes: 10,
            },
            liar_mode: LiarMode::Inflate,
            reproduce_share: qis_elections::REPRODUCE_SHARE,
        },
        |_| {},
    );
    let last = report.rounds.last().unwrap();
    assert_eq!(last.squatted_key_honest_held, Some(1.0), "{last:?}");
    assert_eq!(
        last.squatted_key_values,
        qis_core::constants::DEFAULT_MAX_VALUES_PER_KEY
    );
}
