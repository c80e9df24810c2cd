//! Unit tests of the node core, driven by hand with a tiny in-test network.

use super::*;
use crate::addr::SimAddr;
use crate::constants::MAX_VALUES_PER_PUBLISHER_PER_KEY;
use crate::identity::Identity;
use crate::proof::Credentials;
use crate::record::RecordKind;
use crate::secret::NodeSecret;
use crate::time::Duration;
use crate::wire::{Auth, Body, Header, Message, NetworkId, Role, TxId};

fn node(n: u32) -> Node<SimAddr> {
    let identity = Identity::from_secret_key([n as u8; 32]);
    Node::new(
        Config::default(),
        NodeSecret::from_bytes([n as u8; 32]),
        Credentials::modelled(identity.public_key()),
        Time::ZERO,
    )
}

/// Delivers every queued datagram among `nodes` (address = index) until quiet; returns the
/// number delivered. Bounded.
/// Node `i`'s audit socket is at `i + AUDIT_OFFSET`.
const AUDIT_OFFSET: u32 = 0x0080_0000;

fn settle(nodes: &mut [Node<SimAddr>], now: Time) -> usize {
    let mut delivered = 0;
    for _ in 0..10_000 {
        let mut moved = false;
        for i in 0..nodes.len() {
            while let Some(t) = nodes[i].poll_transmit() {
                let from = match t.via {
                    Endpoint::Main => SimAddr(i as u32),
                    Endpoint::Audit => SimAddr(i as u32 + AUDIT_OFFSET),
                };
                match t.to.0.checked_sub(AUDIT_OFFSET) {
                    Some(to) => nodes[to as usize].handle_audit_datagram(now, from, &t.payload),
                    None => nodes[t.to.0 as usize].handle_datagram(now, from, &t.payload),
                }
                delivered += 1;
                moved = true;
            }
        }
        if !moved {
            return delivered;
        }
    }
    panic!("network did not settle");
}

fn finished(node: &mut Node<SimAddr>, op: OpId) -> Option<OpResult<SimAddr>> {
    let mut found = None;
    while let Some(event) = node.poll_event() {
        if let Event::Finished { op: id, result } = event
            && id == op
        {
            found = Some(result);
        }
    }
    found
}

#[test]
fn ping_learns_the_id_and_admits_the_node() {
    let mut nodes = vec![node(0), node(1)];
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    match finished(&mut nodes[0], op) {
        Some(OpResult::Ping(Some(reply))) => assert_eq!(reply.id, nodes[1].id()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        nodes[0].table().len(),
        1,
        "the pinged node answered: admitted"
    );
    assert_eq!(
        nodes[1].table().len(),
        0,
        "a ping proves nothing of our address: it does not verify us yet"
    );
    // Our next request presents its token: now it verifies us with its own ping.
    let op = nodes[0].find_node(Time::ZERO, Id::hash(b"anything"));
    settle(&mut nodes, Time::ZERO);
    finished(&mut nodes[0], op);
    assert_eq!(nodes[1].table().len(), 1, "it verified us");
}

#[test]
fn a_ping_to_nobody_fails_after_retries() {
    let mut a = node(0);
    let op = a.ping(Time::ZERO, SimAddr(9));
    let mut sent = 0;
    for _ in 0..10 {
        while a.poll_transmit().is_some() {
            sent += 1;
        }
        let Some(deadline) = a.poll_timeout() else {
            break;
        };
        if let Some(OpResult::Ping(None)) = finished(&mut a, op) {
            break;
        }
        a.handle_timeout(deadline);
    }
    assert_eq!(sent, crate::constants::MAX_REQUEST_ATTEMPTS as usize);
    assert_eq!(a.metrics().requests_failed, 1);
}

#[test]
fn bootstrap_then_put_and_get_across_a_small_network() {
    let count = 30;
    let mut nodes: Vec<_> = (0..count).map(node).collect();
    let mut now = Time::ZERO;
    for i in 1..count as usize {
        now = now + Duration::from_millis(10);
        let op = nodes[i].bootstrap(now, &[SimAddr(0)]);
        settle(&mut nodes, now);
        assert!(matches!(
            finished(&mut nodes[i], op),
            Some(OpResult::Bootstrap(_))
        ));
    }
    let key = Id::hash(b"key");
    let publisher = Identity::from_secret_key([200; 32]);
    let record = SignedRecord::sign(
        publisher.signing_key(),
        RecordKind::Raw,
        1,
        b"value".to_vec(),
    )
    .unwrap();
    let op = nodes[5].put(now, key, record.clone());
    settle(&mut nodes, now);
    let Some(OpResult::Put(put)) = finished(&mut nodes[5], op) else {
        panic!("put did not finish")
    };
    assert_eq!(put.acks as usize, crate::constants::K, "{put:?}");
    assert_eq!(
        put.verified, put.acks,
        "every honest holder serves the audit"
    );
    for i in [0, 17, 29] {
        let op = nodes[i].get(now, key);
        settle(&mut nodes, now);
        let Some(OpResult::Get(get)) = finished(&mut nodes[i], op) else {
            panic!("get did not finish")
        };
        assert_eq!(get.records, vec![record.clone()], "from node {i}");
        assert!(get.complete);
    }
}

#[test]
fn garbage_and_hostile_datagrams_are_counted_and_harmless() {
    let mut nodes = vec![node(0), node(1)];
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    finished(&mut nodes[0], op);
    let target = &mut nodes[1];
    target.handle_datagram(Time::ZERO, SimAddr(7), &[]);
    target.handle_datagram(
        Time::ZERO,
        SimAddr(7),
        &[crate::constants::PROTOCOL_VERSION, 2, 3],
    );
    target.handle_datagram(Time::ZERO, SimAddr(7), &[9; 40]);
    target.handle_datagram(Time::ZERO, SimAddr(7), &[1; 2000]);
    let header = |network| Header {
        version: crate::constants::PROTOCOL_VERSION,
        network,
        txid: TxId(5),
        sender: Identity::from_secret_key([9; 32]).id(),
        role: Role::Node,
        auth: Auth::None,
    };
    let foreign = wire::encode(&Message::<SimAddr> {
        header: header(NetworkId(1)),
        body: Body::Ping,
    })
    .unwrap();
    target.handle_datagram(Time::ZERO, SimAddr(7), &foreign);
    // A ping of another network is answered with a notice of ours, so the requester learns why.
    let notice = target.poll_transmit().expect("a network notice");
    assert_eq!(notice.to, SimAddr(7));
    assert!(matches!(
        wire::decode::<SimAddr>(&notice.payload, NetworkId(1)),
        Err(wire::WireError::WrongNetwork(_))
    ));
    assert_eq!(target.metrics().network_notices_sent, 1);
    // An answer nobody asked for (replayed or forged transaction id).
    let pong = wire::encode(&Message::<SimAddr> {
        header: header(NetworkId::MAIN),
        body: Body::Pong {
            token: crate::wire::Token([0; 8]),
        },
    })
    .unwrap();
    target.handle_datagram(Time::ZERO, SimAddr(7), &pong);
    let m = *target.metrics();
    assert_eq!(m.dropped_malformed, 2);
    assert_eq!(m.dropped_version, 1);
    assert_eq!(m.dropped_oversize, 1);
    assert_eq!(m.dropped_wrong_network, 1);
    assert_eq!(m.dropped_unknown_txid, 1);
    assert_eq!(m.dropped(), 6);
    // Still serving.
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    assert!(matches!(
        finished(&mut nodes[0], op),
        Some(OpResult::Ping(Some(_)))
    ));
}

#[test]
fn a_reply_from_another_address_is_dropped_and_the_request_stays_pending() {
    let mut nodes = [node(0), node(1)];
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    let request = nodes[0].poll_transmit().unwrap();
    nodes[1].handle_datagram(Time::ZERO, SimAddr(0), &request.payload);
    let reply = nodes[1].poll_transmit().unwrap();
    // The genuine reply arrives, but claiming to come from elsewhere: spoofed.
    nodes[0].handle_datagram(Time::ZERO, SimAddr(5), &reply.payload);
    assert_eq!(nodes[0].metrics().dropped_spoofed, 1);
    assert!(finished(&mut nodes[0], op).is_none());
    // Then from the right address: accepted; replaying it afterwards is dropped.
    nodes[0].handle_datagram(Time::ZERO, SimAddr(1), &reply.payload);
    assert!(matches!(
        finished(&mut nodes[0], op),
        Some(OpResult::Ping(Some(_)))
    ));
    nodes[0].handle_datagram(Time::ZERO, SimAddr(1), &reply.payload);
    assert_eq!(nodes[0].metrics().dropped_unknown_txid, 1);
}

#[test]
fn an_unverified_requester_gets_an_answer_at_most_three_times_its_request() {
    let mut nodes: Vec<_> = (0..40).map(node).collect();
    for i in 1..40 {
        let op = nodes[i].bootstrap(Time::ZERO, &[SimAddr(0)]);
        settle(&mut nodes, Time::ZERO);
        finished(&mut nodes[i], op);
    }
    let header = Header {
        version: crate::constants::PROTOCOL_VERSION,
        network: NetworkId::MAIN,
        txid: TxId(1),
        sender: Identity::from_secret_key([99; 32]).id(),
        role: Role::Client,
        auth: Auth::None,
    };
    let small = wire::encode(&Message::<SimAddr> {
        header,
        body: Body::FindNode {
            target: Id::hash(b"t"),
            token: None,
            pad: Default::default(),
        },
    })
    .unwrap();
    nodes[0].handle_datagram(Time::ZERO, SimAddr(1000), &small);
    let answer = nodes[0].poll_transmit().unwrap();
    assert!(
        answer.payload.len() <= 3 * small.len(),
        "{} vs {}",
        answer.payload.len(),
        small.len()
    );
    let decoded: Message<SimAddr> = wire::decode(&answer.payload, NetworkId::MAIN).unwrap();
    assert!(matches!(decoded.body, Body::Nodes { cut: true, .. }));
    assert_eq!(nodes[0].metrics().answers_cut, 1);
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    /// Valid datagrams of every kind, as a peer might send them.
    fn samples() -> Vec<Vec<u8>> {
        let sender = Identity::from_secret_key([3; 32]).id();
        let header = Header {
            version: crate::constants::PROTOCOL_VERSION,
            network: NetworkId::MAIN,
            txid: TxId(77),
            sender,
            role: Role::Node,
            auth: Auth::None,
        };
        let record = SignedRecord::sign(
            Identity::from_secret_key([4; 32]).signing_key(),
            RecordKind::Raw,
            1,
            b"v".to_vec(),
        )
        .unwrap();
        let token = crate::wire::Token([1; 8]);
        let bodies: Vec<Body<SimAddr>> = vec![
            Body::Ping,
            Body::Pong { token },
            Body::FindNode {
                target: Id::hash(b"t"),
                token: None,
                pad: Default::default(),
            },
            Body::Nodes {
                token,
                cut: false,
                nodes: vec![crate::wire::Contact {
                    id: Id::hash(b"n"),
                    addr: SimAddr(3),
                }],
            },
            Body::FindValue {
                key: Id::hash(b"k"),
                start: RecordId([0; 32]),
                token: Some(token),
                pad: Default::default(),
            },
            Body::Values {
                token,
                total: 1,
                next: None,
                records: vec![record.clone()],
            },
            Body::Store {
                key: Id::hash(b"k"),
                token,
                record,
            },
            Body::StoreAck {
                status: crate::wire::StoreStatus::Stored,
            },
        ];
        bodies
            .into_iter()
            .map(|body| {
                wire::encode(&Message {
                    header: header.clone(),
                    body,
                })
                .unwrap()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// Mutated and truncated datagrams never panic a node, and each one is served, matched
        /// or counted as a drop.
        #[test]
        fn mutated_datagrams_are_served_or_counted(
            which in 0usize..8,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            keep in any::<usize>(),
        ) {
            let mut nodes = vec![node(0), node(1)];
            let op = nodes[0].ping(Time::ZERO, SimAddr(1));
            settle(&mut nodes, Time::ZERO);
            finished(&mut nodes[0], op);
            // A lookup presents node 1's token, so node 1 verifies node 0 and admits it.
            let op = nodes[0].find_node(Time::ZERO, Id::hash(b"t"));
            settle(&mut nodes, Time::ZERO);
            finished(&mut nodes[0], op);
            let mut bytes = samples()[which].clone();
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            bytes.truncate(keep % (bytes.len() + 1));
            let target = &mut nodes[1];
            let before = *target.metrics();
            target.handle_datagram(Time::ZERO, SimAddr(9), &bytes);
            let after = *target.metrics();
            let handled = after.dropped() > before.dropped()
                || after.requests_answered > before.requests_answered
                || after.store_refused_token + after.store_refused_invalid > before.store_refused_token + before.store_refused_invalid
                || after.datagrams_out > before.datagrams_out;
            prop_assert!(handled, "datagram neither served nor counted: {:?}", after);
            prop_assert_eq!(target.table().len(), 1, "nothing lost from the table");
        }
    }
}

#[test]
fn a_key_holding_a_thousand_values_is_fully_retrievable() {
    let count = 25;
    let mut nodes: Vec<_> = (0..count).map(node).collect();
    for i in 1..count as usize {
        let op = nodes[i].bootstrap(Time::ZERO, &[SimAddr(0)]);
        settle(&mut nodes, Time::ZERO);
        finished(&mut nodes[i], op);
    }
    let key = Id::hash(b"popular context");
    let mut expected = Vec::new();
    for n in 0..1000u32 {
        // A publisher holds at most MAX_VALUES_PER_PUBLISHER_PER_KEY values under one key.
        let publisher = Identity::from_secret_key(
            [(n / MAX_VALUES_PER_PUBLISHER_PER_KEY as u32) as u8, 77]
                .repeat(16)
                .try_into()
                .unwrap(),
        );
        // Realistic sizes: about 250 bytes each, so a page holds four.
        let mut payload = n.to_le_bytes().to_vec();
        payload.resize(150, b'x');
        let record =
            SignedRecord::sign(publisher.signing_key(), RecordKind::Raw, 1, payload).unwrap();
        expected.push(record.clone());
        let op = nodes[(n % 24 + 1) as usize].put(Time::ZERO, key, record);
        settle(&mut nodes, Time::ZERO);
        let Some(OpResult::Put(put)) = finished(&mut nodes[(n % 24 + 1) as usize], op) else {
            panic!("put {n}")
        };
        assert!(put.acks >= 19, "put {n}: {put:?}");
    }
    expected.sort_by_key(SignedRecord::id);
    let reader = 0;
    let op = nodes[reader].get(Time::ZERO, key);
    settle(&mut nodes, Time::ZERO);
    let mut streamed = 0;
    let mut report = None;
    while let Some(event) = nodes[reader].poll_event() {
        match event {
            Event::Records { op: id, records } if id == op => streamed += records.len(),
            Event::Finished {
                op: id,
                result: OpResult::Get(get),
            } if id == op => report = Some(get),
            _ => {}
        }
    }
    let get = report.expect("get finished");
    assert!(get.complete);
    assert_eq!(get.announced, 1000);
    assert_eq!(get.records.len(), 1000);
    assert_eq!(get.records, expected);
    // The reader holds some values itself (it is one of 25 nodes), so it streams the rest.
    assert!(streamed + nodes[reader].store().count(&key) >= 1000);
    assert!(get.pages >= 1000 / 5, "paged: {} pages", get.pages);
}

/// A full bucket whose least recently seen entry answered within `GOOD_NODE_WINDOW` parks a
/// newcomer without a ping; once that entry is older, the newcomer triggers ping-before-evict.
#[test]
fn a_full_bucket_of_good_nodes_parks_newcomers_without_pinging() {
    let identity = Identity::from_secret_key([0; 32]);
    let mut config = Config::default();
    config.table.bucket_size = 1;
    let secret = NodeSecret::from_bytes([0; 32]);
    let first: Node<SimAddr> = Node::new(
        config,
        secret,
        Credentials::modelled(identity.public_key()),
        Time::ZERO,
    );
    // Three nodes that fall into the same bucket of node 0.
    let bucket_of = |n: u32| first.table.bucket_index(&node(n).id());
    let same: Vec<u32> = (1..200u32)
        .filter(|&n| bucket_of(n) == bucket_of(1))
        .take(3)
        .collect();
    assert_eq!(same.len(), 3, "three nodes share a bucket");
    let mut nodes = vec![first];
    nodes.extend(same.iter().map(|&n| node(n)));
    let ping_and_count = |nodes: &mut Vec<Node<SimAddr>>, to: u32, now: Time| {
        nodes[0].ping(now, SimAddr(to));
        settle(nodes, now)
    };
    // Node 1 fills the bucket. A ping exchange (and the pinged node verifying node 0 in turn)
    // is the baseline traffic of each step.
    let baseline = ping_and_count(&mut nodes, 1, Time::ZERO);
    assert_eq!(nodes[0].table.len(), 1);
    // A minute later node 2 answers: node 1 is good, so nobody else is pinged.
    let minute = Time::ZERO + Duration::from_secs(60);
    assert_eq!(ping_and_count(&mut nodes, 2, minute), baseline);
    // Twenty minutes on, node 1 is no longer known good: node 3's answer makes node 0 check
    // it, one more ping and its pong. Node 1 answers, so it stays.
    let later = Time::ZERO + Duration::from_secs(20 * 60);
    assert_eq!(ping_and_count(&mut nodes, 3, later), baseline + 2);
    assert_eq!(nodes[0].table.len(), 1);
    assert!(nodes[0].table.get(&nodes[1].id()).is_some());
}

/// A holder answers a get with one genuine record and one whose payload was altered after
/// signing: only the genuine one reaches the application; the forgery is dropped and counted.
#[test]
fn a_forged_record_in_a_holders_page_is_dropped_and_counted() {
    let mut nodes = vec![node(0), node(1)];
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    finished(&mut nodes[0], op);
    let publisher = Identity::from_secret_key([50; 32]);
    let sign = |payload: &[u8]| {
        SignedRecord::sign(
            publisher.signing_key(),
            RecordKind::Raw,
            1,
            payload.to_vec(),
        )
        .unwrap()
    };
    let genuine = sign(b"genuine");
    let mut forged = sign(b"forged!");
    forged.payload = b"altered".to_vec();
    let key = Id::hash(b"key");
    let op = nodes[0].get(Time::ZERO, key);
    let request = nodes[0]
        .poll_transmit()
        .expect("a FIND_VALUE to the holder");
    let asked: Message<SimAddr> = wire::decode(&request.payload, NetworkId::MAIN).unwrap();
    let answer = wire::encode(&Message::<SimAddr> {
        header: Header {
            txid: asked.header.txid,
            sender: nodes[1].id(),
            ..asked.header
        },
        body: Body::Values {
            token: crate::wire::Token([0; 8]),
            total: 2,
            next: None,
            records: vec![genuine.clone(), forged],
        },
    })
    .unwrap();
    nodes[0].handle_datagram(Time::ZERO, SimAddr(1), &answer);
    settle(&mut nodes, Time::ZERO);
    let mut streamed = Vec::new();
    let mut report = None;
    while let Some(event) = nodes[0].poll_event() {
        match event {
            Event::Records { records, .. } => streamed.extend(records),
            Event::Finished {
                result: OpResult::Get(get),
                op: id,
            } if id == op => report = Some(get),
            _ => {}
        }
    }
    let report = report.expect("the get finished");
    assert_eq!(streamed, vec![genuine.clone()]);
    assert_eq!(report.records, vec![genuine]);
    assert_eq!(nodes[0].metrics().dropped_forged_records, 1);
}

/// 256 hosts of one /24 flood a node with pings for one second; a peer in its routing table
/// and a requester holding a valid token are answered every time, the flood gets at most the
/// unproven budget, and every shed request is counted.
#[test]
fn a_flooding_prefix_cannot_crowd_out_table_peers_or_proven_sources() {
    let limit = crate::ratelimit::RateLimit {
        unproven_per_second: 1_000.0,
        ..Default::default()
    };
    let identity = Identity::from_secret_key([0; 32]);
    let config = Config {
        rate_limit: Some(limit),
        ..Config::default()
    };
    let secret = NodeSecret::from_bytes([0; 32]);
    let target: Node<SimAddr> = Node::new(
        config,
        secret,
        Credentials::modelled(identity.public_key()),
        Time::ZERO,
    );
    let mut nodes = vec![target, node(1)];
    // Node 1 becomes a routing-table peer of node 0 (it answers node 0's ping).
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    finished(&mut nodes[0], op);
    assert!(nodes[0].table().get(&nodes[1].id()).is_some());
    let request = |txid: u32, body: Body<SimAddr>| {
        wire::encode(&Message::<SimAddr> {
            header: Header {
                version: crate::constants::PROTOCOL_VERSION,
                network: NetworkId::MAIN,
                txid: TxId(txid),
                sender: Identity::from_secret_key([txid as u8; 32]).id(),
                role: Role::Client,
                auth: Auth::None,
            },
            body,
        })
        .unwrap()
    };
    // A client at 0x2001 learns its token from one pong, then presents it.
    let prover = SimAddr(0x2001);
    nodes[0].handle_datagram(Time::ZERO, prover, &request(7, Body::Ping));
    let pong: Message<SimAddr> =
        wire::decode(&nodes[0].poll_transmit().unwrap().payload, NetworkId::MAIN).unwrap();
    let Body::Pong { token } = pong.body else {
        panic!("a pong")
    };
    let peer_ping = wire::encode(&Message::<SimAddr> {
        header: Header {
            version: crate::constants::PROTOCOL_VERSION,
            network: NetworkId::MAIN,
            txid: TxId(9),
            sender: nodes[1].id(),
            role: Role::Node,
            auth: Auth::None,
        },
        body: Body::Ping,
    })
    .unwrap();
    let proven = request(
        8,
        Body::FindNode {
            target: Id::hash(b"t"),
            token: Some(token),
            pad: Default::default(),
        },
    );
    let flood = request(10, Body::Ping);
    let (mut flood_answered, mut peer_answered, mut proven_answered) = (0, 0, 0);
    let answered = |node: &mut Node<SimAddr>| {
        let mut n = 0;
        while node.poll_transmit().is_some() {
            n += 1;
        }
        n
    };
    for ms in 0..1000u64 {
        let now = Time::from_millis(ms);
        for i in 0..40u32 {
            let from = SimAddr(0x1000 | ((ms as u32 * 40 + i) % 256));
            nodes[0].handle_datagram(now, from, &flood);
            flood_answered += answered(&mut nodes[0]);
        }
        if ms % 20 == 0 {
            nodes[0].handle_datagram(now, SimAddr(1), &peer_ping);
            peer_answered += answered(&mut nodes[0]);
            nodes[0].handle_datagram(now, prover, &proven);
            proven_answered += answered(&mut nodes[0]);
        }
    }
    assert_eq!(peer_answered, 50, "the table peer is always answered");
    assert_eq!(proven_answered, 50, "the token holder is always answered");
    // 40,000 flood pings in one second against a 1,000/s budget (plus its first allowance).
    assert!(flood_answered <= 2_100, "{flood_answered}");
    let m = *nodes[0].metrics();
    assert_eq!(
        m.dropped_over_budget,
        40_000 - flood_answered as u64 - m.dropped_rate_limited
    );
}

/// A request with a forged source address (the victim's) claiming to come from a full node:
/// everything the node sends toward that address because of it, retries of any verification
/// ping included, stays within three times what the "victim" sent. A node that presents our
/// token (its address proven) is verified and admitted.
#[test]
fn a_spoofed_node_gets_at_most_three_times_its_bytes_back_retries_included() {
    let mut target = node(0);
    let victim = SimAddr(500);
    let mut sent_by_victim = 0usize;
    let mut received_by_victim = 0usize;
    let drain = |target: &mut Node<SimAddr>| {
        let mut to_victim = 0;
        while let Some(t) = target.poll_transmit() {
            if t.to == victim {
                to_victim += t.payload.len();
            }
        }
        to_victim
    };
    for txid in 0..20u32 {
        let ping = wire::encode(&Message::<SimAddr> {
            header: Header {
                version: crate::constants::PROTOCOL_VERSION,
                network: NetworkId::MAIN,
                txid: TxId(txid),
                sender: Identity::from_secret_key([txid as u8 + 40; 32]).id(),
                role: Role::Node,
                auth: Auth::None,
            },
            body: Body::Ping,
        })
        .unwrap();
        sent_by_victim += ping.len();
        target.handle_datagram(Time::ZERO, victim, &ping);
        received_by_victim += drain(&mut target);
    }
    // Let every timer run out (verification retries would go now).
    let mut now = Time::ZERO;
    for _ in 0..100 {
        let Some(deadline) = target.poll_timeout() else {
            break;
        };
        if deadline > Time::from_millis(60_000) {
            break;
        }
        now = deadline;
        target.handle_timeout(now);
        received_by_victim += drain(&mut target);
    }
    assert!(
        received_by_victim <= 3 * sent_by_victim,
        "{received_by_victim} bytes toward the victim for {sent_by_victim}"
    );
    assert_eq!(target.table().len(), 0, "nobody was admitted");
    // A real node that proves its address with our token is verified and admitted.
    let mut nodes = vec![target, node(1)];
    let op = nodes[1].ping(now, SimAddr(0));
    settle(&mut nodes, now);
    finished(&mut nodes[1], op);
    let op = nodes[1].find_node(now, Id::hash(b"anything"));
    settle(&mut nodes, now);
    finished(&mut nodes[1], op);
    assert!(nodes[0].table().get(&nodes[1].id()).is_some());
}

#[test]
fn publishing_the_same_content_again_replaces_it_and_unpublish_stops_it() {
    let mut n = node(1);
    let key = Id::hash(b"k");
    let signer = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let at =
        |created| SignedRecord::sign(&signer, RecordKind::Raw, created, b"same".to_vec()).unwrap();
    n.publish(Time::ZERO, key, at(1));
    n.publish(Time::ZERO, key, at(2));
    let published: Vec<_> = n.published_records().map(|(_, r)| r.created).collect();
    assert_eq!(published, vec![2], "one record per content, the newest");
    assert!(n.unpublish(key, at(1).content_id()));
    assert_eq!(n.published_records().count(), 0);
    assert!(
        !n.unpublish(key, at(1).content_id()),
        "nothing left to stop"
    );
}

/// A get's FIND_VALUE asks for the holder's best values first: the first page brings the
/// best-ranked records (here, with no reports, the most recently signed), says to page on from
/// the lowest record id, and the get still collects every value exactly once.
#[test]
fn the_first_page_of_a_get_holds_the_best_values_and_paging_still_collects_all() {
    let mut nodes = vec![node(0), node(1)];
    let op = nodes[0].ping(Time::ZERO, SimAddr(1));
    settle(&mut nodes, Time::ZERO);
    finished(&mut nodes[0], op);
    let key = Id::hash(b"key");
    let records: Vec<SignedRecord> = (1..=40u64)
        .map(|created| {
            let publisher = Identity::from_secret_key([created as u8; 32]);
            let payload = vec![created as u8; 150];
            SignedRecord::sign(publisher.signing_key(), RecordKind::Raw, created, payload).unwrap()
        })
        .collect();
    for record in &records {
        nodes[1]
            .store
            .put(key, record.clone(), Time::ZERO, None)
            .unwrap();
    }
    let op = nodes[0].get(Time::ZERO, key);
    let request = nodes[0]
        .poll_transmit()
        .expect("a FIND_VALUE to the holder");
    let asked: Message<SimAddr> = wire::decode(&request.payload, NetworkId::MAIN).unwrap();
    assert!(matches!(asked.body, Body::FindValue { start, .. } if start == RecordId::BEST_FIRST));
    nodes[1].handle_datagram(Time::ZERO, SimAddr(0), &request.payload);
    let answer = nodes[1].poll_transmit().expect("the holder answers");
    let Message {
        body: Body::Values {
            next,
            records: page,
            ..
        },
        ..
    } = wire::decode::<SimAddr>(&answer.payload, NetworkId::MAIN).unwrap()
    else {
        panic!("a page of values")
    };
    assert_eq!(next, Some(RecordId::LOWEST));
    let newest_first: Vec<u64> = page.iter().map(|r| r.created).collect();
    assert!(!page.is_empty() && page.len() < 40, "{newest_first:?}");
    assert_eq!(
        newest_first,
        (41 - page.len() as u64..=40).rev().collect::<Vec<_>>()
    );
    nodes[0].handle_datagram(Time::ZERO, SimAddr(1), &answer.payload);
    settle(&mut nodes, Time::ZERO);
    let Some(OpResult::Get(get)) = finished(&mut nodes[0], op) else {
        panic!("the get finished")
    };
    let mut expected = records.clone();
    expected.sort_by_key(SignedRecord::id);
    assert!(get.complete);
    assert_eq!(
        get.records, expected,
        "every value once, in record-id order"
    );
}

/// Like [`settle`], but each wave of datagrams arrives `step` after the wave that sent it, so
/// every request's round trip takes two steps. Returns the time when the network is quiet.
fn settle_in_waves(nodes: &mut [Node<SimAddr>], mut now: Time, step: Duration) -> Time {
    for _ in 0..10_000 {
        let mut wave = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            while let Some(t) = node.poll_transmit() {
                assert_eq!(t.via, Endpoint::Main, "no audits in this test");
                wave.push((SimAddr(i as u32), t));
            }
        }
        if wave.is_empty() {
            return now;
        }
        now = now + step;
        for (from, t) in wave {
            nodes[t.to.0 as usize].handle_datagram(now, from, &t.payload);
        }
    }
    panic!("network did not settle");
}

#[test]
fn a_lookup_reports_the_round_trip_of_every_answer_it_counted() {
    let count = 12;
    let step = Duration::from_millis(3);
    let mut nodes: Vec<_> = (0..count).map(node).collect();
    let mut now = Time::ZERO;
    for i in 1..count as usize {
        let op = nodes[i].bootstrap(now, &[SimAddr(0)]);
        now = settle_in_waves(&mut nodes, now, step);
        assert!(finished(&mut nodes[i], op).is_some());
    }
    let op = nodes[4].find_node(now, Id::hash(b"a target"));
    settle_in_waves(&mut nodes, now, step);
    let Some(OpResult::FindNode(report)) = finished(&mut nodes[4], op) else {
        panic!("the lookup did not finish")
    };
    assert!(report.answered > 1, "{report:?}");
    assert_eq!(
        report.rtts.len(),
        report.answered as usize,
        "no loss: every counted answer came on the first send"
    );
    assert!(
        report.rtts.iter().all(|&rtt| rtt == step * 2),
        "{:?}",
        report.rtts
    );
}

/// A node under `--max-upload` answering far more requests than its budget holds: no 10 s
/// window of what it sends exceeds the budget by more than 10%, and the budget is used.
#[test]
fn the_upload_budget_holds_in_every_ten_second_window() {
    let budget = 3_000u64;
    let identity = Identity::from_secret_key([7; 32]);
    let mut node = Node::<SimAddr>::new(
        Config {
            max_upload: Some(budget),
            ..Config::default()
        },
        NodeSecret::from_bytes([7; 32]),
        Credentials::modelled(identity.public_key()),
        Time::ZERO,
    );
    let header = Header {
        version: crate::constants::PROTOCOL_VERSION,
        network: NetworkId::MAIN,
        txid: TxId(1),
        sender: Identity::from_secret_key([99; 32]).id(),
        role: Role::Client,
        auth: Auth::None,
    };
    let ping = wire::encode(&Message::<SimAddr> {
        header,
        body: Body::Ping,
    })
    .unwrap();
    // 200 pings a second from distinct hosts for 40 s: about 3.6x the budget in answers.
    let step_us = 5_000;
    let mut sent = Vec::new(); // bytes sent per 5 ms step
    for step in 0..8_000u64 {
        let now = Time::from_micros(step * step_us);
        node.handle_datagram(now, SimAddr(0x0100_0000 + step as u32), &ping);
        let mut bytes = 0;
        while let Some(t) = node.poll_transmit() {
            bytes += t.payload.len() as u64;
        }
        sent.push(bytes);
    }
    let window = (10_000_000 / step_us) as usize;
    for start in 0..=sent.len() - window {
        let bytes: u64 = sent[start..start + window].iter().sum();
        assert!(
            bytes * 10 <= budget * 10 * 11,
            "window at step {start}: {bytes} bytes"
        );
    }
    let total: u64 = sent.iter().sum();
    assert!(total >= budget * 38, "{total} bytes in 40 s");
    assert!(node.metrics().upload_shed > 0);
}
