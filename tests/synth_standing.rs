//! Standing: feedback rooted in the client's own outcomes decides whose stated gains count;
//! fresh keys, Sybil reports and a liar's new key buy nothing.

use qis_core::{PublicKey, RecordId};
use qis_outcomes::standing::{self, TRUST_FLOOR, standings, tolerance};
use qis_outcomes::*;
use qis_outcomes::{packet_example as template, parse_packet_file};

const NOW: u64 = 1_800_000_000;

fn evidence(id: u8, publisher: u8, method: &str, gain: f64, built_on: &[u8]) -> Evidence {
    let mut draft = parse_packet_file(&template()).unwrap();
    draft.method = Method::parse(method);
    draft.baseline = Some(0.4);
    draft.outcome = Some(0.4 + gain);
    draft.delta = None;
    draft.eval_samples = Some(1000);
    draft.confidence = Some(0.9);
    draft.built_on = built_on.iter().map(|b| RecordId([*b; 32])).collect();
    let body = draft.build().unwrap();
    let mut e = Evidence::new(RecordId([id; 32]), PublicKey([publisher; 32]), body, 1.0);
    e.created = NOW;
    e
}

/// A claim of +`gain` by publisher `id` (packet `id`), observed with the same recipe.
fn claim(id: u8, gain: f64) -> Claim {
    Claim {
        id: RecordId([id; 32]),
        publisher: PublicKey([id; 32]),
        gain,
        eval_samples: 1000,
        weight: 1.0,
        level: None,
    }
}

fn own(claimant: u8, claimed: f64, realised: f64) -> OwnOutcome {
    OwnOutcome {
        checked: vec![claim(claimant, claimed)],
        realised,
        eval_samples: 1000,
        created: NOW,
    }
}

fn of(map: &Standings, publisher: u8) -> f64 {
    map.publisher(&PublicKey([publisher; 32]))
}

#[test]
fn own_outcomes_raise_a_claim_that_held_and_sink_one_that_did_not() {
    let evidence = [
        evidence(1, 1, "lora", 0.05, &[]),
        evidence(2, 2, "lora", 0.20, &[]),
    ];
    let ledger = Ledger {
        // Built on both; realised +4 points: within tolerance of publisher 1's +5, far below
        // publisher 2's +20.
        outcomes: vec![own(1, 0.05, 0.04), own(2, 0.20, 0.04)],
        trusted: vec![],
    };
    assert!(0.20 - 0.04 > tolerance(1000, 1000));
    let map = standings(&evidence, &[], &ledger, NOW);
    // One agreeing observation against the prior weight of 1: standing 1/2.
    assert!((of(&map, 1) - 0.5).abs() < 1e-9, "{}", of(&map, 1));
    assert_eq!(of(&map, 2), 0.0);
    let mut weighed = evidence.to_vec();
    standing::apply(&mut weighed, &map);
    // The caught claim weighs what a fresh key weighs: the floor.
    assert!((weighed[1].trust - TRUST_FLOOR).abs() < 1e-12);
    assert!(weighed[0].weight() > 5.0 * weighed[1].weight());
}

#[test]
fn reports_count_by_the_reporters_standing_so_sybils_buy_nothing() {
    // Publisher 3 vouches for publisher 1 (its packet 30 built on packet 1 and realised as
    // much); Sybils 40..=49 vouch for the liar 2 in the same way.
    let mut found = vec![
        evidence(1, 1, "lora", 0.05, &[]),
        evidence(2, 2, "lora", 0.20, &[]),
        evidence(30, 3, "lora", 0.05, &[1]),
    ];
    for sybil in 40..50 {
        found.push(evidence(sybil, sybil, "lora", 0.20, &[2]));
    }
    // Nobody has standing: no report counts, for anyone.
    let map = standings(&found, &[], &Ledger::default(), NOW);
    assert!(map.publishers.values().all(|s| *s == 0.0), "{map:?}");
    // The client's own outcome vouches for publisher 3: its report on 1 counts, the Sybils'
    // on 2 still count for nothing.
    let ledger = Ledger {
        outcomes: vec![OwnOutcome {
            checked: vec![Claim {
                publisher: PublicKey([3; 32]),
                ..claim(30, 0.05)
            }],
            realised: 0.05,
            eval_samples: 1000,
            created: NOW,
        }],
        trusted: vec![],
    };
    let map = standings(&found, &[], &ledger, NOW);
    assert!(of(&map, 3) > 0.3);
    assert!(of(&map, 1) > 0.0, "{map:?}");
    assert_eq!(of(&map, 2), 0.0);
    // A self-report (publisher 2 building on its own packet) is ignored.
    found.push(evidence(60, 2, "lora", 0.2, &[2]));
    let map = standings(&found, &[], &ledger, NOW);
    assert_eq!(of(&map, 2), 0.0);
}

#[test]
fn trusted_keys_have_full_standing_and_a_fresh_key_none() {
    let found = [
        evidence(1, 1, "lora", 0.05, &[]),
        evidence(2, 2, "lora", 0.05, &[]),
    ];
    let ledger = Ledger {
        outcomes: vec![],
        trusted: vec![PublicKey([1; 32])],
    };
    let map = standings(&found, &[], &ledger, NOW);
    assert_eq!(of(&map, 1), 1.0);
    // A liar caught (standing 0) who returns with a fresh key starts at the same 0.
    assert_eq!(of(&map, 2), 0.0);
}

#[test]
fn without_standing_a_claim_does_not_choose_the_method() {
    // Three fresh lora runs at +3 points; two fresh keys claim +20 for full fine-tunes.
    let mut found = vec![
        evidence(1, 1, "lora", 0.03, &[]),
        evidence(2, 2, "lora", 0.03, &[]),
        evidence(3, 3, "lora", 0.03, &[]),
        evidence(4, 4, "full", 0.20, &[]),
        evidence(5, 5, "full", 0.20, &[]),
    ];
    let map = standings(&found, &[], &Ledger::default(), NOW);
    standing::apply(&mut found, &map);
    let rec = recommend(&found).unwrap();
    assert_eq!(rec.method.to_string(), "lora");
    assert_eq!(rec.established_share, 0.0);
    // Trusting the full fine-tuners' keys gives their claim weight again.
    let ledger = Ledger {
        outcomes: vec![],
        trusted: vec![PublicKey([4; 32]), PublicKey([5; 32])],
    };
    let map = standings(&found, &[], &ledger, NOW);
    standing::apply(&mut found, &map);
    let rec = recommend(&found).unwrap();
    assert_eq!(rec.method.to_string(), "full");
}
