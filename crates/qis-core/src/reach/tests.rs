use super::*;
use crate::addr::SimAddr;

fn t(secs: u64) -> Time {
    Time::ZERO + Duration::from_secs(secs)
}

/// Peers `n` apart by /24, so each is its own wide prefix.
fn peers(n: u32) -> Vec<(Id, SimAddr)> {
    (0..n)
        .map(|i| {
            (
                Id::hash(&i.to_le_bytes()),
                SimAddr(0x0a00_0000 + (i << 8) + 5),
            )
        })
        .collect()
}

fn nonces() -> impl FnMut() -> ProbeNonce {
    let mut next = 0u8;
    move || {
        next += 1;
        ProbeNonce([next; crate::constants::PROBE_NONCE_BYTES])
    }
}

#[test]
fn a_check_asks_one_peer_per_wide_prefix_up_to_the_limit() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let mut candidates = peers(5);
    // Same /24 as the first: skipped.
    candidates.insert(1, (Id::hash(b"same"), SimAddr(0x0a00_0009)));
    let asked = reach.start_check(t(0), candidates, nonces());
    assert_eq!(asked.len(), REACH_PROBERS);
    let prefixes: std::collections::BTreeSet<u128> =
        asked.iter().map(|(_, a, _)| a.prefixes().wide).collect();
    assert_eq!(prefixes.len(), REACH_PROBERS);
    assert!(reach.checking());
}

#[test]
fn probes_from_the_quorum_make_a_node_reachable_at_once() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let asked = reach.start_check(t(0), peers(3), nonces());
    assert!(reach.on_probe(&asked[0].2));
    assert!(!reach.on_probe(&asked[0].2), "the same peer counts once");
    assert_eq!(reach.decide(t(1)), Outcome::Unchanged);
    assert!(reach.on_probe(&asked[2].2));
    assert_eq!(reach.decide(t(1)), Outcome::Changed(Verdict::Reachable));
    assert_eq!(reach.verdict(), Verdict::Reachable);
    assert_eq!(reach.report().last_probes, 2);
    assert!(!reach.checking());
    // Rechecked later, not at once.
    assert!(!reach.check_due(t(2)));
    assert!(reach.check_due(t(1) + REACH_RECHECK));
}

#[test]
fn answers_without_probes_make_a_node_unreachable_at_the_deadline() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let asked = reach.start_check(t(0), peers(3), nonces());
    let seen = SimAddr(0x0b00_0001);
    for (id, _, _) in &asked {
        reach.on_observed(id, seen);
    }
    assert_eq!(reach.decide(t(1)), Outcome::Unchanged, "waits for probes");
    assert_eq!(
        reach.decide(t(0) + REACH_WAIT),
        Outcome::Changed(Verdict::Unreachable)
    );
    assert_eq!(reach.report().external, Some(seen));
}

#[test]
fn too_few_answers_or_a_lone_probe_decide_nothing() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let asked = reach.start_check(t(0), peers(3), nonces());
    reach.on_observed(&asked[0].0, SimAddr(1));
    assert_eq!(reach.decide(t(0) + REACH_WAIT), Outcome::Unchanged);
    assert_eq!(reach.verdict(), Verdict::Unknown);
    assert!(reach.check_due(t(0) + REACH_WAIT + REACH_RETRY));

    let now = t(0) + REACH_WAIT + REACH_RETRY;
    let asked = reach.start_check(now, peers(3), nonces());
    for (id, _, _) in &asked {
        reach.on_observed(id, SimAddr(1));
    }
    assert!(reach.on_probe(&asked[1].2));
    assert_eq!(reach.decide(now + REACH_WAIT), Outcome::Unchanged);
    assert_eq!(reach.verdict(), Verdict::Unknown);
}

#[test]
fn a_probe_with_a_nonce_nobody_was_given_counts_for_nothing() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    assert!(!reach.on_probe(&ProbeNonce([7; 8])), "no check running");
    reach.start_check(t(0), peers(3), nonces());
    assert!(!reach.on_probe(&ProbeNonce([0xee; 8])));
}

#[test]
fn a_network_of_two_decides_on_its_one_peer() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let asked = reach.start_check(t(0), peers(1), nonces());
    assert!(reach.on_probe(&asked[0].2));
    assert_eq!(reach.decide(t(0)), Outcome::Changed(Verdict::Reachable));
}

#[test]
fn with_nobody_to_ask_a_check_is_tried_again_later() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    reach.due_now(t(0));
    assert!(reach.check_due(t(0)));
    assert!(reach.start_check(t(0), Vec::new(), nonces()).is_empty());
    assert!(!reach.checking());
    assert!(reach.check_due(t(0) + REACH_RETRY));
}

#[test]
fn the_watch_notices_a_new_external_address_and_asks_for_a_check() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    reach.due_now(t(0));
    let asked = reach.start_check(t(0), peers(2), nonces());
    // A symmetric NAT: each peer sees its own port.
    reach.on_observed(&asked[0].0, SimAddr(1));
    reach.on_observed(&asked[1].0, SimAddr(3));
    reach.on_probe(&asked[0].2);
    reach.on_probe(&asked[1].2);
    assert_eq!(reach.decide(t(1)), Outcome::Changed(Verdict::Reachable));
    assert!(!reach.take_watch(t(30)));
    assert!(!reach.take_watch(t(60)), "one interval after the decision");
    assert!(reach.take_watch(t(61)));
    let first = reach.watch_pick().unwrap();
    let second = reach.watch_pick().unwrap();
    assert_ne!(first, second, "the watch asks the peers in turn");
    assert!(
        !reach.on_watch(t(60), &asked[0].0, SimAddr(1)),
        "same address"
    );
    assert!(
        !reach.on_watch(t(60), &asked[1].0, SimAddr(3)),
        "same, per peer"
    );
    assert!(
        !reach.on_watch(t(60), &Id::hash(b"stranger"), SimAddr(9)),
        "only the peers of the last check compare"
    );
    assert!(reach.take_watch(t(121)));
    assert!(reach.on_watch(t(120), &asked[0].0, SimAddr(2)), "rebound");
    assert!(reach.check_due(t(120)));
    assert_eq!(reach.report().address_changes, 1);
    assert_eq!(reach.report().external, Some(SimAddr(2)));
}

#[test]
fn while_a_check_runs_only_its_deadline_is_due() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(5));
    reach.due_now(t(0));
    reach.start_check(t(0), peers(3), nonces());
    // The watch would be due at 5 s, inside the check's wait.
    assert_eq!(reach.next_deadline(), Some(t(0) + REACH_WAIT));
    assert!(!reach.take_watch(t(6)));
}

#[test]
fn a_check_asked_for_during_a_check_replaces_it_at_once() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let first = reach.start_check(t(0), peers(3), nonces());
    // A port mapping is made while the probes are on their way (and filtered).
    reach.due_now(t(1));
    assert!(reach.check_due(t(1)), "a fresh check at once");
    assert!(
        !reach.on_probe(&first[0].2),
        "the old check's probes count no more"
    );
    let second = reach.start_check(t(1), peers(3), nonces());
    reach.on_probe(&second[0].2);
    reach.on_probe(&second[1].2);
    assert_eq!(reach.decide(t(2)), Outcome::Changed(Verdict::Reachable));
    assert_eq!(reach.report().checks, 2);
}

#[test]
fn an_answer_after_the_probes_decided_still_tells_the_external_address() {
    let mut reach = Reach::<SimAddr>::new(Duration::from_secs(60));
    let asked = reach.start_check(t(0), peers(3), nonces());
    reach.on_probe(&asked[0].2);
    reach.on_probe(&asked[1].2);
    assert_eq!(reach.decide(t(0)), Outcome::Changed(Verdict::Reachable));
    assert_eq!(reach.report().external, None);
    reach.on_observed(&asked[1].0, SimAddr(42));
    assert_eq!(reach.report().external, Some(SimAddr(42)));
    // And the watch now asks that peer.
    assert_eq!(reach.watch_pick(), Some(asked[1].0));
}
