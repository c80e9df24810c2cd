use super::*;
use crate::addr::SimAddr;
use crate::constants::{ALPHA, K};

fn contact(n: u32) -> Contact<SimAddr> {
    Contact {
        id: Id::hash(&n.to_le_bytes()),
        addr: SimAddr(n),
    }
}

/// A tiny world: node n knows every node; answers return the k closest to the target.
fn closest_to(target: &Id, among: &[Contact<SimAddr>], k: usize) -> Vec<Contact<SimAddr>> {
    let mut all = among.to_vec();
    all.sort_by_key(|c| c.id.distance(target));
    all.truncate(k);
    all
}

#[test]
fn keeps_alpha_requests_in_flight_and_no_more() {
    let target = Id::hash(b"t");
    let start: Vec<_> = (1..=30).map(contact).collect();
    let mut lookup = Lookup::new(target, contact(0).id, start, K, ALPHA, Time::ZERO);
    let mut sent = Vec::new();
    while let Some(q) = lookup.next_request() {
        sent.push(q);
    }
    assert_eq!(sent.len(), ALPHA);
    assert_eq!(lookup.in_flight(), ALPHA);
    // Asks the closest first.
    let expected = closest_to(&target, &(1..=30).map(contact).collect::<Vec<_>>(), ALPHA);
    assert_eq!(
        sent.iter().map(|q| q.id).collect::<Vec<_>>(),
        expected.iter().map(|c| c.id).collect::<Vec<_>>()
    );
}

#[test]
fn ends_when_the_k_closest_have_answered() {
    let world: Vec<_> = (1..=200).map(contact).collect();
    let target = Id::hash(b"target");
    let mut lookup = Lookup::new(
        target,
        contact(0).id,
        world[..5].to_vec(),
        K,
        ALPHA,
        Time::ZERO,
    );
    let mut rounds = 0;
    while !lookup.is_finished() {
        rounds += 1;
        assert!(rounds < 1000, "bounded");
        let q = lookup
            .next_request()
            .expect("an unfinished lookup with nothing in flight has a query");
        lookup.on_answer(&q.id, &closest_to(&target, &world, K), None);
    }
    let report = lookup.report(Time::ZERO);
    let truth = closest_to(&target, &world, K);
    assert_eq!(
        report
            .closest
            .iter()
            .map(|h| h.contact.id)
            .collect::<Vec<_>>(),
        truth.iter().map(|c| c.id).collect::<Vec<_>>()
    );
    assert!(report.requests as usize >= K);
    assert_eq!(report.answered, report.requests);
    assert_eq!(
        report.hops, 2,
        "the closest node was learned from the first answer"
    );
}

#[test]
fn failures_are_replaced_by_the_next_closest() {
    let world: Vec<_> = (1..=60).map(contact).collect();
    let target = Id::hash(b"x");
    let truth = closest_to(&target, &world, K + 1);
    let dead = truth[0].id;
    let mut lookup = Lookup::new(target, contact(0).id, world.clone(), K, ALPHA, Time::ZERO);
    let mut steps = 0;
    while !lookup.is_finished() {
        steps += 1;
        assert!(steps < 1000);
        let q = lookup.next_request().unwrap();
        if q.id == dead {
            lookup.on_failure(&q.id);
        } else {
            lookup.on_answer(&q.id, &[], None);
        }
    }
    let report = lookup.report(Time::ZERO);
    assert_eq!(report.failed, 1);
    let ids: Vec<Id> = report.closest.iter().map(|h| h.contact.id).collect();
    assert!(!ids.contains(&dead));
    assert_eq!(ids, truth[1..].iter().map(|c| c.id).collect::<Vec<_>>());
}

#[test]
fn an_empty_lookup_is_finished_at_once() {
    let lookup: Lookup<SimAddr> = Lookup::new(
        Id::hash(b"x"),
        contact(0).id,
        Vec::new(),
        K,
        ALPHA,
        Time::ZERO,
    );
    assert!(lookup.is_finished());
    assert_eq!(lookup.report(Time::ZERO).hops, 0);
}

#[test]
fn ignores_itself_duplicates_and_unsolicited_answers() {
    let me = contact(0);
    let mut lookup = Lookup::new(
        Id::hash(b"x"),
        me.id,
        vec![me, contact(1), contact(1)],
        K,
        ALPHA,
        Time::ZERO,
    );
    lookup.on_answer(&contact(1).id, &[contact(2)], None); // not asked yet: ignored
    assert_eq!(lookup.report(Time::ZERO).answered, 0);
    let q = lookup.next_request().unwrap();
    assert_eq!(q.id, contact(1).id);
    assert!(lookup.next_request().is_none(), "only one candidate");
    lookup.on_answer(&q.id, &[contact(2), me], None);
    let q2 = lookup.next_request().unwrap();
    assert_eq!(q2.id, contact(2).id);
    lookup.on_answer(&q2.id, &[], None);
    assert!(lookup.is_finished());
    let report = lookup.report(Time::ZERO);
    assert_eq!(report.closest.len(), 2);
    assert_eq!(report.rounds, 2);
}

#[test]
fn a_stalled_request_frees_its_slot_and_its_late_answer_still_counts() {
    let target = Id::hash(b"slow");
    let start: Vec<_> = (1..=30).map(contact).collect();
    let mut lookup = Lookup::new(target, contact(0).id, start, K, ALPHA, Time::ZERO);
    let first: Vec<_> = std::iter::from_fn(|| lookup.next_request()).collect();
    assert_eq!(first.len(), ALPHA);
    lookup.on_stall(&first[0].id);
    assert_eq!(lookup.in_flight(), ALPHA - 1);
    let replacement = lookup.next_request().expect("the stalled slot is reused");
    assert_ne!(replacement.id, first[0].id);
    assert!(lookup.next_request().is_none(), "still at most α in flight");
    // The slow node answers after all: counted as an answer, no slot freed twice.
    lookup.on_answer(&first[0].id, &[], None);
    assert_eq!(lookup.in_flight(), ALPHA);
    assert_eq!(lookup.report(Time::ZERO).answered, 1);
    // A stalled node that finally fails is counted once.
    lookup.on_stall(&first[1].id);
    lookup.on_failure(&first[1].id);
    assert_eq!(lookup.in_flight(), ALPHA - 1);
    assert_eq!(lookup.report(Time::ZERO).failed, 1);
}

/// Disjoint paths: no node is asked twice, each path keeps α in flight of its own, and when
/// the nodes of one path lie (they name only each other, the liars closest to the target) the
/// other path still reaches the true closest node.
#[test]
fn a_lying_path_cannot_steer_the_other() {
    let world: Vec<_> = (1..=400).map(contact).collect();
    let target = Id::hash(b"disjoint");
    let honest_truth = closest_to(&target, &world[..300], 1)[0];
    let liars: Vec<_> = world[300..].to_vec();
    let is_liar = |id: &Id| liars.iter().any(|c| c.id == *id);
    // Start from two contacts: the closest liar and a far honest node, one per path.
    let start = vec![closest_to(&target, &liars, 1)[0], world[0]];
    let mut lookup = Lookup::disjoint(target, contact(0).id, start, K, ALPHA, 2, Time::ZERO);
    let mut asked = std::collections::BTreeSet::new();
    let mut steps = 0;
    while !lookup.is_finished() {
        steps += 1;
        assert!(steps < 5000, "bounded");
        let Some(q) = lookup.next_request() else {
            panic!("an unfinished lookup with nothing in flight has a query")
        };
        assert!(asked.insert(q.id), "asked twice: {:?}", q.id);
        let answer = if is_liar(&q.id) {
            closest_to(&target, &liars, K)
        } else {
            closest_to(&target, &world[..300], K)
        };
        lookup.on_answer(&q.id, &answer, None);
    }
    assert_eq!(lookup.paths(), 2);
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert!(found.contains(&honest_truth.id), "the honest path found it");
}
