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

/// A world of 200 nodes at addresses outside the local range, each in a /24 of its own, except
/// that the `crowd` nodes closest to `target` all sit in one /24 (`10.0.1.0/24`), or on
/// `local` (exempt) addresses when `local`.
fn crowded_world(target: &Id, crowd: usize, local: bool) -> (Vec<Contact<SimAddr>>, Vec<Id>) {
    let mut world: Vec<_> = (1..=200u32)
        .map(|n| Contact {
            id: Id::hash(&n.to_le_bytes()),
            // 11.n.0.1: one /24 per node.
            addr: SimAddr(0x0b00_0001 | (n << 8)),
        })
        .collect();
    world.sort_by_key(|c| c.id.distance(target));
    for (i, c) in world.iter_mut().take(crowd).enumerate() {
        let low = i as u32 + 1;
        c.addr = if local {
            SimAddr(0x00_0100 | low)
        } else {
            SimAddr(0x0a00_0100 | low)
        };
    }
    let crowded = world[..crowd].iter().map(|c| c.id).collect();
    (world, crowded)
}

/// Runs a lookup in which every node answers with the 2k closest of `world` (more than the
/// crowd, as answerers whose own tables hold at most 2 of a /24 per bucket would), from the 5
/// farthest; returns the lookup and every id asked.
fn run_in(target: Id, world: &[Contact<SimAddr>]) -> (Lookup<SimAddr>, Vec<Id>) {
    let start = world[world.len() - 5..].to_vec();
    let mut lookup = Lookup::new(target, contact(0).id, start, K, ALPHA, Time::ZERO);
    let mut asked = Vec::new();
    while !lookup.is_finished() {
        assert!(asked.len() < 1000, "bounded");
        let q = lookup
            .next_request()
            .expect("an unfinished lookup with nothing in flight has a query");
        asked.push(q.id);
        lookup.on_answer(&q.id, &closest_to(&target, world, 2 * K), None);
    }
    (lookup, asked)
}

/// Ten nodes of one /24 are the ten closest to the target: the lookup asks and returns only
/// the two closest of them (`LOOKUP_MAX_PER_PREFIX`), and fills the other 18 places of the k
/// with the closest nodes of other /24s.
#[test]
fn one_slash_24_holds_at_most_its_share_of_the_k_closest() {
    use crate::constants::LOOKUP_MAX_PER_PREFIX;
    let target = Id::hash(b"crowded key");
    let (world, crowd) = crowded_world(&target, 10, false);
    let (lookup, asked) = run_in(target, &world);
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert_eq!(found.len(), K);
    let of_crowd: Vec<Id> = found
        .iter()
        .copied()
        .filter(|id| crowd.contains(id))
        .collect();
    assert_eq!(of_crowd, crowd[..LOOKUP_MAX_PER_PREFIX].to_vec());
    let others: Vec<Id> = world[10..10 + K - LOOKUP_MAX_PER_PREFIX]
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(found[LOOKUP_MAX_PER_PREFIX..], others[..]);
    for skipped in &crowd[LOOKUP_MAX_PER_PREFIX..] {
        assert!(
            !asked.contains(skipped),
            "a node over its block's share was asked"
        );
    }
    let report = lookup.report(Time::ZERO);
    assert_eq!(report.closest.len(), K);
    assert_eq!(report.failed, 0);
}

/// When the crowd's places fail, the next nodes of its /24 may take them: a failed
/// candidate holds no place.
#[test]
fn a_failed_node_gives_its_place_to_the_next_of_its_block() {
    let target = Id::hash(b"crowded key");
    let (world, crowd) = crowded_world(&target, 10, false);
    let start = world[world.len() - 5..].to_vec();
    let mut lookup = Lookup::new(target, contact(0).id, start, K, ALPHA, Time::ZERO);
    let mut asked = Vec::new();
    while !lookup.is_finished() {
        assert!(asked.len() < 1000, "bounded");
        let q = lookup.next_request().expect("a query");
        asked.push(q.id);
        if q.id == crowd[0] {
            lookup.on_failure(&q.id);
        } else {
            lookup.on_answer(&q.id, &closest_to(&target, &world, 2 * K), None);
        }
    }
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert_eq!(found[..2], crowd[1..3]);
    assert!(!asked.contains(&crowd[3]));
}

/// Two ids on one host: only the closer is asked and returned (`LOOKUP_MAX_PER_HOST`).
#[test]
fn one_host_holds_one_place() {
    let target = Id::hash(b"one host");
    let (mut world, _) = crowded_world(&target, 0, false);
    let shared = world[0].addr;
    world[1].addr = shared;
    let (lookup, asked) = run_in(target, &world);
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert_eq!(found[0], world[0].id);
    assert!(!found.contains(&world[1].id) && !asked.contains(&world[1].id));
    assert_eq!(
        found[1..],
        world[2..K + 1].iter().map(|c| c.id).collect::<Vec<_>>()[..]
    );
}

/// Local addresses (loopback, the simulator's 0.0.0.0/8) are exempt: ten of them closest to
/// the key are all asked and returned, as the routing table exempts them too.
#[test]
fn local_addresses_are_exempt_from_the_spread() {
    let target = Id::hash(b"crowded key");
    let (world, crowd) = crowded_world(&target, 10, true);
    let (lookup, _) = run_in(target, &world);
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert_eq!(found, world[..K].iter().map(|c| c.id).collect::<Vec<_>>());
    assert_eq!(found[..10], crowd[..]);
}

/// The same with loopback socket addresses: many nodes on 127.0.0.1 (one port each) are all
/// returned.
#[test]
fn loopback_socket_addresses_are_exempt() {
    use std::net::SocketAddr;
    let target = Id::hash(b"loopback");
    let world: Vec<Contact<SocketAddr>> = (1..=40u16)
        .map(|n| Contact {
            id: Id::hash(&n.to_le_bytes()),
            addr: SocketAddr::from(([127, 0, 0, 1], 4000 + n)),
        })
        .collect();
    let mut sorted = world.clone();
    sorted.sort_by_key(|c| c.id.distance(&target));
    let me = Id::hash(b"me");
    let mut lookup = Lookup::new(target, me, world.clone(), K, ALPHA, Time::ZERO);
    while !lookup.is_finished() {
        let q = lookup.next_request().expect("a query");
        lookup.on_answer(&q.id, &[], None);
    }
    let found: Vec<Id> = lookup.answered().map(|c| c.id).collect();
    assert_eq!(found, sorted[..K].iter().map(|c| c.id).collect::<Vec<_>>());
}
