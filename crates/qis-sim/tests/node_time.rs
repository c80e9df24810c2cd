//! Node-level behaviour that needs time to pass, on the test network: a stalled request, a
//! late answer after a retry, token rotation across the 5-minute boundary, RTT adaptation,
//! and lookups through a node that answers garbage.

use qis_core::constants::{PROTOCOL_VERSION, TOKEN_ROTATION};
use qis_core::wire::{
    self, Auth, Body, Header, Message, NetworkId, Role, StoreRefusal, StoreStatus, TxId,
};
use qis_core::{Config, Duration, Id, OpResult, RecordKind, SignedRecord, SimAddr, Time};
use qis_sim::TestNet;

fn decode(payload: &[u8]) -> Option<Message<SimAddr>> {
    wire::decode(payload, NetworkId::MAIN).ok()
}

/// Arrival times of the PING requests `from` sent to `to`.
fn pings_delivered(net: &TestNet, from: SimAddr, to: SimAddr, since: Time) -> Vec<Time> {
    net.delivered()
        .iter()
        .filter(|d| d.from == from && d.to == to && d.at >= since)
        .filter(|d| decode(&d.payload).is_some_and(|m| m.body == Body::Ping))
        .map(|d| d.at)
        .collect()
}

fn ping(net: &mut TestNet, from: SimAddr, to: SimAddr) -> Option<OpResult<SimAddr>> {
    let op = net.command(from, |node, now| node.ping(now, to));
    net.run_until_finished(from, op, Duration::from_secs(30))
}

#[test]
fn a_lost_request_is_retried_after_the_timeout_and_answered() {
    let mut net = TestNet::new(1);
    let (a, b) = (
        net.add_node(Config::default()),
        net.add_node(Config::default()),
    );
    net.drop_next(a, b, 1);
    let start = net.now();
    let Some(OpResult::Ping(Some(reply))) = ping(&mut net, a, b) else {
        panic!("the retry is answered");
    };
    assert_eq!(net.node(a).metrics().retries, 1);
    assert_eq!(net.counts().dropped, 1);
    // No sample yet, so the first timeout is the initial 1 s; the reply then takes 20 ms.
    let retry = pings_delivered(&net, a, b, start)[0];
    assert_eq!(retry.saturating_since(start), Duration::from_millis(1010));
    assert!(reply.rtt >= Duration::from_secs(1), "{:?}", reply.rtt);
}

#[test]
fn a_late_answer_to_an_earlier_attempt_still_counts() {
    let mut net = TestNet::new(2);
    let (a, b) = (
        net.add_node(Config::default()),
        net.add_node(Config::default()),
    );
    // A 3 s round trip: longer than the first two timeouts (1 s each), shorter than all three.
    net.set_latency(a, b, Duration::from_millis(1500));
    let Some(OpResult::Ping(Some(reply))) = ping(&mut net, a, b) else {
        panic!("the answer to the first attempt arrives during the last one");
    };
    assert_eq!(reply.rtt, Duration::from_secs(3));
    assert_eq!(net.node(a).metrics().retries, 2);
    assert_eq!(net.node(a).metrics().requests_failed, 0);
    // The answers to the two retries come later and match nothing any more.
    net.advance(Duration::from_secs(5));
    assert_eq!(net.node(a).metrics().dropped_unknown_txid, 2);
}

#[test]
fn a_stalled_lookup_request_frees_its_slot_for_the_next_candidate() {
    let mut net = TestNet::new(3);
    let a = net.add_node(Config::default());
    let others: Vec<SimAddr> = (0..4).map(|_| net.add_node(Config::default())).collect();
    let target = net.node(others[0]).id();
    // The candidate farthest from the target answers; the three closer ones (which fill the
    // α = 3 slots of the first round) never do.
    let mut by_distance = others.clone();
    by_distance.sort_by_key(|&n| net.node(n).id().distance(&target));
    let (silent, answering) = (&by_distance[..3], by_distance[3]);
    for &n in &others {
        let id = net.node(n).id();
        net.command(a, |node, now| node.add_contact(now, id, n));
    }
    for &n in silent {
        net.drop_next(a, n, 100);
    }
    let start = net.now();
    let op = net.command(a, |node, now| node.find_node(now, target));
    let Some(OpResult::FindNode(report)) = net.run_until_finished(a, op, Duration::from_secs(30))
    else {
        panic!("the lookup finishes");
    };
    assert_eq!(report.failed, 3, "{report:?}");
    let asked: Vec<Time> = net
        .delivered()
        .iter()
        .filter(|d| d.from == a && d.to == answering)
        .filter(|d| decode(&d.payload).is_some_and(|m| matches!(m.body, Body::FindNode { .. })))
        .map(|d| d.at)
        .collect();
    // Asked once the first attempts stalled (1 s), not once they failed (1 + 1 + 2 = 4 s).
    let first = asked.first().expect("the fourth candidate was asked");
    let waited = first.saturating_since(start);
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1100),
        "{waited:?}"
    );
}

#[test]
fn the_timeout_adapts_to_the_measured_round_trip() {
    let mut net = TestNet::new(4);
    let (a, b) = (
        net.add_node(Config::default()),
        net.add_node(Config::default()),
    );
    let retry_delay = |net: &mut TestNet| {
        net.drop_next(a, b, 1);
        let start = net.now();
        assert!(matches!(ping(net, a, b), Some(OpResult::Ping(Some(_)))));
        pings_delivered(net, a, b, start)[0].saturating_since(start) - Duration::from_millis(10)
    };
    assert_eq!(
        retry_delay(&mut net),
        Duration::from_secs(1),
        "no sample yet: 1 s"
    );
    for _ in 0..30 {
        assert!(matches!(
            ping(&mut net, a, b),
            Some(OpResult::Ping(Some(_)))
        ));
    }
    // Thirty 20 ms samples: srtt + 4 rttvar falls to the 100 ms floor.
    let adapted = retry_delay(&mut net);
    assert!(adapted <= Duration::from_millis(150), "{adapted:?}");
    assert!(adapted >= Duration::from_millis(100), "{adapted:?}");
}

/// A node's address token survives one rotation of its secret (the previous secret is still
/// accepted) but not two.
#[test]
fn a_token_is_accepted_across_one_rotation_but_not_two() {
    let mut net = TestNet::new(5);
    let (a, b) = (
        net.add_node(Config::default()),
        net.add_node(Config::default()),
    );
    let token_from_b = |net: &mut TestNet| {
        let since = net.now();
        assert!(matches!(ping(net, a, b), Some(OpResult::Ping(Some(_)))));
        net.delivered()
            .iter()
            .filter(|d| d.from == b && d.to == a && d.at >= since)
            .find_map(|d| match decode(&d.payload)?.body {
                Body::Pong { token } => Some(token),
                _ => None,
            })
            .expect("a pong with a token")
    };
    let publisher = net.identity(a).clone();
    let mut txid = 1000;
    let mut store_with = |net: &mut TestNet, token| {
        txid += 1;
        let record = SignedRecord::sign(
            publisher.signing_key(),
            RecordKind::Raw,
            txid.into(),
            vec![1],
        )
        .unwrap();
        let store = Message::<SimAddr> {
            header: Header {
                version: PROTOCOL_VERSION,
                network: NetworkId::MAIN,
                txid: TxId(txid),
                sender: publisher.id(),
                role: Role::Node,
                auth: Auth::None,
            },
            body: Body::Store {
                key: Id::hash(b"key"),
                token,
                record,
            },
        };
        let since = net.now();
        net.inject(a, b, wire::encode(&store).unwrap());
        net.advance(Duration::from_millis(100));
        net.delivered()
            .iter()
            .filter(|d| d.from == b && d.to == a && d.at >= since)
            .find_map(|d| match decode(&d.payload)? {
                Message {
                    header,
                    body: Body::StoreAck { status },
                } if header.txid == TxId(txid) => Some(status),
                _ => None,
            })
            .expect("a store ack")
    };
    let token = token_from_b(&mut net);
    net.advance(TOKEN_ROTATION - Duration::from_secs(61));
    assert_eq!(
        store_with(&mut net, token),
        StoreStatus::Stored,
        "before any rotation"
    );
    net.advance(Duration::from_secs(2 * 60));
    assert_ne!(token_from_b(&mut net), token, "the secret rotated");
    assert_eq!(
        store_with(&mut net, token),
        StoreStatus::Stored,
        "previous secret"
    );
    net.advance(TOKEN_ROTATION + Duration::from_secs(61));
    assert_eq!(
        store_with(&mut net, token),
        StoreStatus::Refused(StoreRefusal::BadToken),
        "two rotations later"
    );
    assert_eq!(net.node(b).metrics().store_refused_token, 1);
}

#[test]
fn lookups_route_around_a_node_that_answers_garbage() {
    let mut net = TestNet::new(6);
    let nodes = net.add_joined_nodes(40, &Config::default());
    let liar = nodes[7];
    net.garble_from(liar);
    let honest: Vec<Id> = nodes
        .iter()
        .filter(|&&n| n != liar)
        .map(|&n| net.node(n).id())
        .collect();
    let mut found = 0;
    for i in 0..20u32 {
        let origin = nodes[(i as usize * 3 + 1) % nodes.len()];
        if origin == liar {
            continue;
        }
        let target = Id::hash(&i.to_le_bytes());
        let op = net.command(origin, |node, now| node.find_node(now, target));
        let Some(OpResult::FindNode(report)) =
            net.run_until_finished(origin, op, Duration::from_secs(60))
        else {
            panic!("lookup {i} finishes");
        };
        let truth = honest
            .iter()
            .filter(|id| **id != net.node(origin).id())
            .min_by_key(|id| id.distance(&target))
            .copied();
        if report.closest.first().map(|h| h.contact.id) == truth {
            found += 1;
        }
        let ids: Vec<Id> = report.closest.iter().map(|h| h.contact.id).collect();
        assert!(
            !ids.contains(&net.node(liar).id()),
            "the liar never counts as answered"
        );
    }
    assert!(
        found >= 19,
        "{found} of 20 lookups found the closest honest node"
    );
    let malformed: u64 = nodes
        .iter()
        .map(|&n| net.node(n).metrics().dropped_malformed)
        .sum();
    assert!(
        malformed > 0,
        "the garbage reached the decoders and was counted"
    );
    assert!(net.counts().garbled > 0);
}
