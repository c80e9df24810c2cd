//! Storage under attack, at node level: a store flood of valid signed records from hundreds of
//! fresh publisher keys over many source prefixes must not push out honest publishers'
//! records, a peer of the routing table re-replicating is not charged to its prefix, and a
//! record created too far in the future is refused once the node knows the wall clock.

use qis_core::constants::MAX_CLOCK_SKEW;
use qis_core::wire::{self, Body, Header, Message, NetworkId, Role, StoreRefusal, StoreStatus};
use qis_core::{
    Config, Credentials, Id, Identity, Node, NodeSecret, RecordKind, SignedRecord, StoreLimits,
    Time,
};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

/// One node under test and the tokens its answers gave each source address.
struct Harness {
    node: Node<SocketAddr>,
    tokens: BTreeMap<SocketAddr, wire::Token>,
    txid: u32,
}

impl Harness {
    fn new(max_records: usize) -> Harness {
        let me = Identity::from_secret_key([1; 32]);
        let config = Config {
            store: StoreLimits::with_capacity(max_records),
            // The request and signature-check budgets are tested on their own (part 1); this
            // test measures what the store keeps of the stores it checks.
            rate_limit: None,
            ..Config::default()
        };
        Harness {
            node: Node::new(
                config,
                NodeSecret::from_bytes([1; 32]),
                Credentials::modelled(me.public_key()),
                Time::ZERO,
            ),
            tokens: BTreeMap::new(),
            txid: 0,
        }
    }

    /// Sends `body` from `from` (a client with key `sender`) and returns the node's answer.
    fn ask(
        &mut self,
        now: Time,
        from: SocketAddr,
        sender: &Identity,
        role: Role,
        body: Body<SocketAddr>,
    ) -> Body<SocketAddr> {
        self.txid += 1;
        let message = Message {
            header: Header {
                version: qis_core::constants::PROTOCOL_VERSION,
                network: NetworkId::MAIN,
                txid: wire::TxId(self.txid),
                sender: sender.id(),
                role,
                auth: wire::Auth::None,
            },
            body,
        };
        self.node
            .handle_datagram(now, from, &wire::encode(&message).unwrap());
        let mut answer = None;
        while let Some(t) = self.node.poll_transmit() {
            let decoded: Message<SocketAddr> = wire::decode(&t.payload, NetworkId::MAIN).unwrap();
            if t.to == from && decoded.header.txid == wire::TxId(self.txid) {
                answer = Some(decoded.body);
            }
        }
        answer.expect("the node answers")
    }

    /// Stores `record` under `key` from `from`, pinging first for a token if needed.
    fn store(
        &mut self,
        now: Time,
        from: SocketAddr,
        sender: &Identity,
        role: Role,
        key: Id,
        record: SignedRecord,
    ) -> StoreStatus {
        if !self.tokens.contains_key(&from) {
            let Body::Pong { token } = self.ask(now, from, sender, role, Body::Ping) else {
                panic!("a ping is answered with a pong")
            };
            self.tokens.insert(from, token);
        }
        let token = self.tokens[&from];
        match self.ask(now, from, sender, role, Body::Store { key, token, record }) {
            Body::StoreAck { status } => status,
            other => panic!("a store is answered with an ack, not {other:?}"),
        }
    }

    fn holds(&self, key: &Id, record: &SignedRecord) -> bool {
        self.node.store().records(key).contains(record)
    }
}

fn address(prefix: u32, host: u8) -> SocketAddr {
    let [_, a, b, c] = prefix.to_be_bytes();
    SocketAddr::from((Ipv4Addr::new(a.max(1), b, c, host), 4000))
}

fn publisher(tag: u8, n: u32) -> Identity {
    let mut secret = [tag; 32];
    secret[..4].copy_from_slice(&n.to_le_bytes());
    Identity::from_secret_key(secret)
}

fn record(by: &Identity, created: u64, n: u32) -> SignedRecord {
    SignedRecord::sign(
        by.signing_key(),
        RecordKind::Raw,
        created,
        format!("value {n}").into_bytes(),
    )
    .unwrap()
}

const FLOOD_PUBLISHERS: u32 = 300;
const FLOOD_PREFIXES: u32 = 200;
const HONEST: u32 = 200;

#[test]
fn honest_records_survive_a_store_flood_from_300_publisher_keys_over_200_prefixes() {
    let mut h = Harness::new(2_000);
    let client = Identity::from_secret_key([9; 32]);
    let flooders: Vec<Identity> = (0..FLOOD_PUBLISHERS).map(|p| publisher(2, p)).collect();
    let mut honest = Vec::new();
    let (mut flood_stored, mut flood_refused) = (0u32, 0u32);
    let mut honest_stored = 0u32;
    let mut tick = 0u64;
    // 30,000 flood stores, each under its own key; an honest publish every 200 of them during
    // the flood (150) and 50 after it. Each honest publisher puts one record from its own
    // prefix, apart from the flood's.
    for i in 0..30_000u32 {
        tick += 1;
        let now = Time::from_millis(tick);
        let p = i % FLOOD_PUBLISHERS;
        let from = address(0x0a_0000 + p % FLOOD_PREFIXES, (i % 250) as u8 + 1);
        let key = Id::hash(format!("flood {i}").as_bytes());
        match h.store(
            now,
            from,
            &client,
            Role::Client,
            key,
            record(&flooders[p as usize], 1, i),
        ) {
            StoreStatus::Stored => flood_stored += 1,
            StoreStatus::Refused(StoreRefusal::Full) => flood_refused += 1,
            other => panic!("flood store: {other:?}"),
        }
        if i % 200 == 199 {
            honest.push(honest.len() as u32);
        }
        while let Some(&n) = honest.get(honest_stored as usize) {
            let by = publisher(3, n);
            let key = Id::hash(format!("honest {n}").as_bytes());
            let from = address(0x0b_0000 + n, 7);
            let status = h.store(now, from, &client, Role::Client, key, record(&by, 1, n));
            assert_eq!(status, StoreStatus::Stored, "honest {n}");
            honest_stored += 1;
        }
    }
    for n in honest.len() as u32..HONEST {
        tick += 1;
        let by = publisher(3, n);
        let key = Id::hash(format!("honest {n}").as_bytes());
        let from = address(0x0b_0000 + n, 7);
        let status = h.store(
            Time::from_millis(tick),
            from,
            &client,
            Role::Client,
            key,
            record(&by, 1, n),
        );
        if status == StoreStatus::Stored {
            honest_stored += 1;
        }
    }
    let held = (0..HONEST)
        .filter(|&n| {
            let key = Id::hash(format!("honest {n}").as_bytes());
            h.holds(&key, &record(&publisher(3, n), 1, n))
        })
        .count();
    let m = *h.node.metrics();
    println!(
        "honest stored {honest_stored}/{HONEST}, held at the end {held}/{HONEST}; flood stored {flood_stored}, refused {flood_refused}; store {} records; evicted {}, refused full {}, publisher quota {}, prefix quota {}",
        h.node.store().len(),
        m.records_evicted,
        m.store_refused_full,
        m.store_refused_publisher_quota,
        m.store_refused_prefix_quota
    );
    assert_eq!(honest_stored, HONEST);
    assert!(held * 100 >= HONEST as usize * 99, "held {held}/{HONEST}");
    assert_eq!(held, HONEST as usize);
    assert_eq!(h.node.store().len(), 2_000, "the flood filled the store");
    assert_eq!(
        m.records_stored,
        u64::from(flood_stored + honest_stored),
        "every store counted"
    );
    assert_eq!(
        u64::from(flood_refused),
        m.store_refused_full + m.store_refused_publisher_quota + m.store_refused_prefix_quota
    );
    assert!(m.records_evicted > 0);
    // Nobody holds more than the publisher quota (1% of 2,000).
    assert!(
        flooders
            .iter()
            .all(|f| h.node.store().held_from(&f.public_key()) <= 20)
    );
}

#[test]
fn a_table_peer_re_replicating_is_not_charged_to_its_prefix() {
    let mut h = Harness::new(2_000); // prefix quota: 5% = 100
    let peer = Identity::from_secret_key([5; 32]);
    let peer_addr = address(0x0c_0000, 1);
    h.node.add_contact(Time::ZERO, peer.id(), peer_addr);
    for n in 0..300u32 {
        let key = Id::hash(format!("replicated {n}").as_bytes());
        let by = publisher(4, n);
        let status = h.store(
            Time::ZERO,
            peer_addr,
            &peer,
            Role::Node,
            key,
            record(&by, 1, n),
        );
        assert_eq!(status, StoreStatus::Stored, "replicated {n}");
    }
    // A stranger next to it in the same /24 is charged: 100 and no more.
    let stranger = Identity::from_secret_key([6; 32]);
    let mut stored = 0;
    for n in 0..150u32 {
        let key = Id::hash(format!("stranger {n}").as_bytes());
        let by = publisher(5, n);
        let from = address(0x0c_0000, 2);
        if h.store(
            Time::ZERO,
            from,
            &stranger,
            Role::Client,
            key,
            record(&by, 1, n),
        ) == StoreStatus::Stored
        {
            stored += 1;
        }
    }
    assert_eq!(stored, 100);
    assert_eq!(h.node.metrics().store_refused_prefix_quota, 50);
    assert_eq!(h.node.store().len(), 400);
}

#[test]
fn records_created_too_far_ahead_of_the_wall_clock_are_refused() {
    let mut h = Harness::new(2_000);
    let client = Identity::from_secret_key([9; 32]);
    let by = publisher(6, 0);
    let from = address(0x0d_0000, 1);
    let wall = 1_767_225_600; // 2026-01-01
    let skew = MAX_CLOCK_SKEW.as_secs();
    // No wall clock yet: nothing to compare with, so nothing is refused for its time.
    let far = record(&by, wall + 10 * skew, 0);
    let key = Id::hash(b"k");
    assert_eq!(
        h.store(Time::ZERO, from, &client, Role::Client, key, far.clone()),
        StoreStatus::Stored
    );
    h.node.set_unix_time(Time::ZERO, wall);
    // An hour later by the node's own clock, the wall clock has moved on with it.
    let later = Time::from_millis(3_600_000);
    assert_eq!(h.node.unix_time(later), Some(wall + 3600));
    let ahead = |n: u32, secs: u64| record(&by, wall + 3600 + secs, n);
    assert_eq!(
        h.store(later, from, &client, Role::Client, key, ahead(1, skew)),
        StoreStatus::Stored
    );
    assert_eq!(
        h.store(later, from, &client, Role::Client, key, ahead(2, skew + 1)),
        StoreStatus::Refused(StoreRefusal::Invalid)
    );
    let m = *h.node.metrics();
    assert_eq!((m.store_refused_future, m.store_refused_invalid), (1, 0));
    assert_eq!(m.records_stored, 2);
    assert!(!h.holds(&key, &ahead(2, skew + 1)));
}
