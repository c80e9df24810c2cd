//! Hostile answers to requests a node actually has out. A node sends a request (a ping, a
//! FIND_NODE to a known contact, or a get); the test decodes it for its transaction id, builds
//! the peer's genuine answer (Pong, Nodes or Values) under that id, mutates it (bit flips,
//! inserted, deleted and overwritten bytes, truncation; byte 0 stays the protocol version so
//! the bytes reach the decoder proper), or replaces it with random bytes after a valid version
//! byte or a valid header, and delivers it from the peer's address at a time that only moves
//! forward, past deadlines too.
//!
//! Properties: nothing panics; every datagram is accounted for (counted in `datagrams_in`,
//! and either refused under exactly one `dropped_*` counter or used: it answered a request,
//! finished a command, moved a lookup on (new requests) or changed the table); afterwards the node still
//! answers a fresh ping, and its command finishes (completed or failed by timeout) within a
//! bounded number of timer steps. Public API only.

use proptest::prelude::*;
use qis_core::constants::PROTOCOL_VERSION;
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role, Token, TxId};
use qis_core::{
    Credentials, Duration, Event, Id, Identity, Node, NodeSecret, OpId, RecordKind, SignedRecord,
    SimAddr, Time,
};

/// The peer it asks.
const PEER: SimAddr = SimAddr(1);
/// A stranger that pings the node once the hostile answers are in.
const PINGER: SimAddr = SimAddr(2);

/// Timer steps a command may take to finish once its peers fall silent. A command whose
/// mutated answer named a handful of new contacts asks each up to three times, three at a
/// time; a few dozen steps suffice, 400 is a generous bound that still catches a livelock.
const MAX_TIMER_STEPS: usize = 400;

/// Which request the node has out.
#[derive(Debug, Clone, Copy)]
enum Request {
    Ping,
    FindNode,
    Get,
}

/// One change to the genuine answer's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, value: u8 },
    Insert { at: usize, value: u8 },
    Delete { at: usize },
    Truncate { keep: usize },
}

/// What arrives from the peer.
#[derive(Debug, Clone)]
enum Payload {
    /// The genuine answer, untouched.
    Genuine,
    /// The genuine answer, mutated.
    Mutated(Vec<Mutation>),
    /// The version byte, then random bytes.
    AfterVersion(Vec<u8>),
    /// The genuine answer's header (right version, network, txid and sender), then random bytes.
    AfterHeader(Vec<u8>),
}

/// How time moves before a delivery. Never backwards.
#[derive(Debug, Clone, Copy)]
enum Advance {
    /// By this many milliseconds.
    By(u64),
    /// To the node's next deadline plus this many milliseconds, firing its timers.
    PastDeadline(u64),
}

#[derive(Debug, Clone)]
struct Step {
    advance: Advance,
    payload: Payload,
}

fn identity(n: u8) -> Identity {
    Identity::from_secret_key([n; 32])
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Insert { at, value }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        1 => Just(Payload::Genuine),
        6 => proptest::collection::vec(mutation(), 1..5).prop_map(Payload::Mutated),
        1 => bytes().prop_map(Payload::AfterVersion),
        2 => bytes().prop_map(Payload::AfterHeader),
    ]
}

fn advance() -> impl Strategy<Value = Advance> {
    prop_oneof![
        3 => (0u64..1500).prop_map(Advance::By),
        1 => (0u64..3000).prop_map(Advance::PastDeadline),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (advance(), payload()).prop_map(|(advance, payload)| Step { advance, payload }),
        1..5,
    )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Ping),
        Just(Request::FindNode),
        Just(Request::Get)
    ]
}

/// Applies `mutations` and restores byte 0 to the protocol version.
fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
            Mutation::Set { at, value } if len > 0 => bytes[at % len] = value,
            Mutation::Insert { at, value } => bytes.insert(at % (len + 1), value),
            Mutation::Delete { at } if len > 0 => {
                bytes.remove(at % len);
            }
            Mutation::Truncate { keep } => bytes.truncate(keep % (len + 1)),
            _ => {}
        }
    }
    match bytes.first_mut() {
        Some(first) => *first = PROTOCOL_VERSION,
        None => bytes.push(PROTOCOL_VERSION),
    }
    bytes
}

/// A node with one request out to [`PEER`], and what the test needs to answer it.
struct Harness {
    node: Node<SimAddr>,
    now: Time,
    op: OpId,
    /// The request as the node sent it.
    asked: Message<SimAddr>,
    /// The peer's genuine answer to it.
    answer: Vec<u8>,
    /// Set once the command's `Finished` event was seen.
    finished: bool,
}

impl Harness {
    fn new(request: Request, start_ms: u64) -> Harness {
        let me = identity(1);
        let peer = identity(2);
        let now = Time::from_millis(start_ms);
        let mut node = Node::new(
            qis_core::Config::default(),
            NodeSecret::from_bytes([1; 32]),
            Credentials::modelled(me.public_key()),
            now,
        );
        let op = match request {
            Request::Ping => node.ping(now, PEER),
            Request::FindNode => {
                assert!(node.add_contact(now, peer.id(), PEER));
                node.find_node(now, Id::hash(b"target"))
            }
            Request::Get => {
                assert!(node.add_contact(now, peer.id(), PEER));
                node.get(now, Id::hash(b"key"))
            }
        };
        let mut asked = None;
        while let Some(t) = node.poll_transmit() {
            assert_eq!(t.to, PEER, "the only request goes to the peer");
            let message: Message<SimAddr> =
                wire::decode(&t.payload, NetworkId::MAIN).expect("the node's own request decodes");
            assert!(message.body.is_request());
            asked = Some(message);
        }
        let asked = asked.expect("the command sent a request");
        let header = Header {
            version: PROTOCOL_VERSION,
            network: NetworkId::MAIN,
            txid: asked.header.txid,
            sender: peer.id(),
            role: Role::Node,
            auth: Credentials::modelled(peer.public_key()).answer_auth(&asked.header),
        };
        let token = Token([0x5a; 8]);
        let contacts = (10..14u32)
            .map(|n| Contact {
                id: identity(n as u8).id(),
                addr: SimAddr(n),
            })
            .collect::<Vec<_>>();
        let body = match (&asked.body, request) {
            (Body::Ping, Request::Ping) => Body::Pong { token },
            (Body::FindNode { .. }, Request::FindNode) => Body::Nodes {
                token,
                cut: false,
                nodes: contacts,
            },
            (Body::FindValue { .. }, Request::Get) => {
                let record = SignedRecord::sign(
                    identity(9).signing_key(),
                    RecordKind::Raw,
                    1,
                    b"a value".to_vec(),
                )
                .expect("a small record signs");
                Body::Values {
                    token,
                    total: 1,
                    next: None,
                    records: vec![record],
                }
            }
            (body, request) => panic!("{request:?} sent {}", body.kind()),
        };
        let answer = wire::encode(&Message { header, body }).expect("the answer encodes");
        Harness {
            node,
            now,
            op,
            asked,
            answer,
            finished: false,
        }
    }

    /// The genuine answer's header, encoded: the answer's bytes up to its body (a `Ping` body
    /// is the single byte of its variant index).
    fn header_bytes(&self) -> Vec<u8> {
        let peer = Credentials::modelled(identity(2).public_key());
        let header = Header {
            sender: peer.id(),
            auth: peer.answer_auth(&self.asked.header),
            ..self.asked.header.clone()
        };
        let mut bytes = wire::encode(&Message::<SimAddr> {
            header,
            body: Body::Ping,
        })
        .expect("a ping encodes");
        bytes.pop();
        assert_eq!(bytes[..], self.answer[..bytes.len()]);
        bytes
    }

    fn bytes_for(&self, payload: &Payload) -> Vec<u8> {
        match payload {
            Payload::Genuine => self.answer.clone(),
            Payload::Mutated(mutations) => mutate(self.answer.clone(), mutations),
            Payload::AfterVersion(rest) => {
                let mut bytes = vec![PROTOCOL_VERSION];
                bytes.extend_from_slice(rest);
                bytes
            }
            Payload::AfterHeader(rest) => {
                let mut bytes = self.header_bytes();
                bytes.extend_from_slice(rest);
                bytes
            }
        }
    }

    /// Drains events; returns how many there were, noting the command's `Finished`.
    fn drain_events(&mut self) -> usize {
        let mut count = 0;
        while let Some(event) = self.node.poll_event() {
            count += 1;
            if let Event::Finished { op, .. } = event
                && op == self.op
            {
                assert!(!self.finished, "a command finishes once");
                self.finished = true;
            }
        }
        count
    }

    /// Throws away queued datagrams (the network loses them); returns how many.
    fn drain_transmits(&mut self) -> usize {
        std::iter::from_fn(|| self.node.poll_transmit()).count()
    }

    fn advance(&mut self, advance: Advance) {
        match advance {
            Advance::By(ms) => self.now = self.now + Duration::from_millis(ms),
            Advance::PastDeadline(ms) => {
                if let Some(deadline) = self.node.poll_timeout() {
                    self.now = self.now.max(deadline) + Duration::from_millis(ms);
                }
                self.node.handle_timeout(self.now);
            }
        }
        self.drain_events();
        self.drain_transmits();
    }

    /// Delivers `bytes` from the peer and checks that it is accounted for.
    fn deliver(&mut self, bytes: &[u8]) -> Result<(), TestCaseError> {
        let before = *self.node.metrics();
        let table_before = self.node.table().len();
        self.node.handle_datagram(self.now, PEER, bytes);
        let after = *self.node.metrics();
        let events = self.drain_events();
        self.drain_transmits();
        prop_assert_eq!(after.datagrams_in, before.datagrams_in + 1);
        prop_assert_eq!(after.bytes_in, before.bytes_in + bytes.len() as u64);
        let dropped = after.dropped() - before.dropped();
        prop_assert!(dropped <= 1, "one datagram, {} drops: {:?}", dropped, after);
        let used = after.requests_answered > before.requests_answered
            || after.datagrams_out > before.datagrams_out
            || events > 0
            || self.node.table().len() != table_before;
        prop_assert!(
            dropped == 1 || used,
            "datagram neither refused nor used: {:?}",
            after
        );
        Ok(())
    }

    /// A stranger's ping gets its pong.
    fn answers_a_fresh_ping(&mut self) -> Result<(), TestCaseError> {
        let txid = TxId(0xfeed);
        let ping = wire::encode(&Message::<SimAddr> {
            header: Header {
                version: PROTOCOL_VERSION,
                network: NetworkId::MAIN,
                txid,
                sender: identity(3).id(),
                role: Role::Client,
                auth: wire::Auth::None,
            },
            body: Body::Ping,
        })
        .expect("a ping encodes");
        self.node.handle_datagram(self.now, PINGER, &ping);
        let mut ponged = false;
        while let Some(t) = self.node.poll_transmit() {
            if t.to != PINGER {
                continue;
            }
            let reply: Message<SimAddr> = wire::decode(&t.payload, NetworkId::MAIN)
                .map_err(|e| TestCaseError::fail(format!("the node's reply: {e}")))?;
            prop_assert_eq!(reply.header.txid, txid);
            let pong = matches!(reply.body, Body::Pong { .. });
            prop_assert!(pong, "a ping answered with {}", reply.body.kind());
            ponged = true;
        }
        prop_assert!(ponged, "no pong to a fresh ping");
        self.drain_events();
        Ok(())
    }

    /// Runs timers with every peer silent until the command finishes; fails past the bound.
    fn command_finishes(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..MAX_TIMER_STEPS {
            self.drain_events();
            if self.finished {
                return Ok(());
            }
            let Some(deadline) = self.node.poll_timeout() else {
                break;
            };
            self.now = self.now.max(deadline);
            self.node.handle_timeout(self.now);
            self.drain_transmits();
        }
        self.drain_events();
        prop_assert!(
            self.finished,
            "the command did not finish within {} timer steps",
            MAX_TIMER_STEPS
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Mutated, truncated and random answers to a pending request, delivered from the right
    /// address as time moves on: never a panic, every datagram accounted for, the node still
    /// serving, and its command finishing.
    #[test]
    fn hostile_answers_to_pending_requests(
        request in request(),
        start_ms in 0u64..10_000_000,
        steps in steps(),
    ) {
        let mut h = Harness::new(request, start_ms);
        let mut last = h.now;
        for step in &steps {
            h.advance(step.advance);
            prop_assert!(h.now >= last, "time only moves forward");
            last = h.now;
            let bytes = h.bytes_for(&step.payload);
            prop_assert_eq!(bytes[0], PROTOCOL_VERSION);
            h.deliver(&bytes)?;
        }
        h.answers_a_fresh_ping()?;
        h.command_finishes()?;
    }
}

/// The genuine answer, delivered at once, completes each command: the harness really reaches
/// the answer path (a mutated answer that is accepted takes the same path).
#[test]
fn genuine_answers_are_used() {
    for request in [Request::Ping, Request::FindNode, Request::Get] {
        let mut h = Harness::new(request, 0);
        let answer = h.answer.clone();
        let before = *h.node.metrics();
        h.node.handle_datagram(h.now, PEER, &answer);
        assert_eq!(h.node.metrics().dropped(), before.dropped(), "{request:?}");
        h.drain_transmits();
        h.drain_events();
        h.command_finishes()
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
        // A replay of the same answer now matches nothing.
        h.node.handle_datagram(h.now, PEER, &answer);
        assert_eq!(
            h.node.metrics().dropped_unknown_txid,
            before.dropped_unknown_txid + 1,
            "{request:?}"
        );
    }
}

/// Answers that arrive after their request gave up are counted as unknown, not used.
#[test]
fn an_answer_after_the_deadline_is_dropped() {
    for request in [Request::Ping, Request::FindNode, Request::Get] {
        let mut h = Harness::new(request, 0);
        h.command_finishes()
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
        let answer = h.answer.clone();
        let before = *h.node.metrics();
        h.node.handle_datagram(h.now, PEER, &answer);
        assert_eq!(
            h.node.metrics().dropped_unknown_txid,
            before.dropped_unknown_txid + 1,
            "{request:?}"
        );
        assert!(h.node.metrics().requests_failed >= 1, "{request:?}");
    }
}

/// The mutations reach past the decoder: over a fixed sample of mutated answers, some are
/// refused as malformed, some decode and are refused by the answer path (unknown transaction
/// id, wrong sender), and some are accepted and used, for every kind of request.
#[test]
fn mutated_answers_reach_the_answer_path() {
    use proptest::strategy::ValueTree;
    use std::collections::BTreeMap;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let sample = (request(), proptest::collection::vec(mutation(), 1..4));
    let mut tally: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for _ in 0..3000 {
        let (request, mutations) = sample.new_tree(&mut runner).expect("a sample").current();
        let mut h = Harness::new(request, 0);
        let bytes = mutate(h.answer.clone(), &mutations);
        let b = *h.node.metrics();
        h.node.handle_datagram(h.now, PEER, &bytes);
        let a = *h.node.metrics();
        let outcome = if a.dropped() == b.dropped() {
            "used"
        } else if a.dropped_malformed > b.dropped_malformed {
            "malformed"
        } else if a.dropped_unknown_txid + a.dropped_wrong_sender + a.dropped_unexpected
            > b.dropped_unknown_txid + b.dropped_wrong_sender + b.dropped_unexpected
        {
            "refused by the answer path"
        } else {
            "other drop"
        };
        *tally.entry((format!("{request:?}"), outcome)).or_default() += 1;
    }
    for request in ["Ping", "FindNode", "Get"] {
        for outcome in ["used", "malformed", "refused by the answer path"] {
            let n = tally.get(&(request.to_string(), outcome)).copied();
            assert!(n.unwrap_or(0) > 0, "{request}: never {outcome}: {tally:?}");
        }
    }
}
