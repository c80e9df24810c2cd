//! Hostile answers to a request the node really has out.
//!
//! The node sends a request to its peer (input byte 0 picks a ping, a FIND_NODE to a known
//! contact, or a get); the target decodes it for its transaction id and builds the peer's
//! genuine answer (Pong, Nodes or Values) under that id. The rest of the input is a program of
//! up to [`MAX_STEPS`] steps, each:
//!
//! * one byte of time: below 0x80, advance that many times 20 ms; from 0x80, jump past the
//!   node's next deadline by `(b - 0x80) * 25` ms and run its timers (time never goes back);
//! * one byte of kind, and what the kind needs:
//!   `0` the genuine answer; `1` the genuine answer mutated (a count byte, then per mutation an
//!   op byte, a 16-bit position and a value byte); `2` the version byte then `len` bytes of
//!   input (a length byte first); `3` the genuine answer's header then `len` bytes of input.
//!
//! Mutated answers keep byte 0 at the protocol version so they reach the decoder proper. Every
//! datagram comes from the peer's address.
//!
//! Checks: no panic; every datagram is counted, and refused under exactly one `dropped_*`
//! counter or used (it answered a request, finished a command, moved a lookup on or changed
//! the table); the node then answers a fresh ping; its command finishes, completed or failed
//! by timeout, within [`MAX_TIMER_STEPS`] timer steps.

use crate::reader::Reader;
use qis_core::constants::PROTOCOL_VERSION;
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role, Token, TxId};
use qis_core::{
    Config, Credentials, Difficulty, Duration, Event, Id, IdWork, Identity, Node, NodeSecret, OpId,
    RecordKind, SignedRecord, SimAddr, Time,
};

/// The peer the node asks.
const PEER: SimAddr = SimAddr(1);
/// A stranger that pings the node at the end.
const PINGER: SimAddr = SimAddr(2);
/// Deliveries per input at most.
pub const MAX_STEPS: usize = 16;
/// Timer steps the command may take to finish once every peer is silent.
pub const MAX_TIMER_STEPS: usize = 400;

/// The fuzz target.
pub fn run(data: &[u8]) {
    let mut input = Reader::new(data);
    let mut h = Harness::new(input.u8() % 3);
    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        let before = h.now;
        h.advance(input.u8());
        assert!(h.now >= before, "time only moves forward");
        let bytes = h.payload(&mut input);
        assert_eq!(bytes.first(), Some(&PROTOCOL_VERSION));
        h.deliver(&bytes);
    }
    h.answers_a_fresh_ping();
    h.command_finishes();
}

/// Starting points: the genuine answer to each request, a mutated one, random tails.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for request in 0..3u8 {
        seeds.push(vec![request, 0, 0]);
        seeds.push(vec![request, 10, 1, 2, 0, 9, 0, 0x55, 1, 60, 0, 7]);
        seeds.push(vec![request, 0x85, 2, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        seeds.push(vec![request, 3, 3, 4, 0, 0, 0, 0, 0x90, 0]);
    }
    seeds
}

fn identity(n: u8) -> Identity {
    Identity::from_secret_key([n; 32])
}

struct Harness {
    node: Node<SimAddr>,
    now: Time,
    op: OpId,
    answer: Vec<u8>,
    header: Vec<u8>,
    finished: bool,
}

impl Harness {
    fn new(request: u8) -> Harness {
        let peer = identity(2);
        let now = Time::from_millis(1_000);
        let mut node = Node::new(
            Config::default(),
            NodeSecret::from_bytes([1; 32]),
            real(&identity(1)),
            now,
        );
        let op = match request {
            0 => node.ping(now, PEER),
            1 => {
                assert!(node.add_contact(now, peer.id(), PEER));
                node.find_node(now, Id::hash(b"target"))
            }
            _ => {
                assert!(node.add_contact(now, peer.id(), PEER));
                node.get(now, Id::hash(b"key"))
            }
        };
        let mut asked = None;
        while let Some(t) = node.poll_transmit() {
            assert_eq!(t.to, PEER);
            let message: Message<SimAddr> =
                wire::decode(&t.payload, NetworkId::MAIN).expect("the node's own request decodes");
            asked = Some(message);
        }
        let asked = asked.expect("the command sent a request");
        let header = Header {
            version: PROTOCOL_VERSION,
            network: NetworkId::MAIN,
            txid: asked.header.txid,
            sender: peer.id(),
            role: Role::Node,
            // A real proof when challenged, so mutations reach the key, work and signature
            // checks.
            auth: real(&peer).answer_auth(&asked.header),
        };
        let token = Token([0x5a; 8]);
        let body = match asked.body {
            Body::Ping => Body::Pong { token },
            Body::FindNode { .. } => Body::Nodes {
                token,
                cut: false,
                nodes: (10..14u8)
                    .map(|n| Contact {
                        id: identity(n).id(),
                        addr: SimAddr(u32::from(n)),
                    })
                    .collect(),
            },
            Body::FindValue { .. } => Body::Values {
                token,
                total: 1,
                next: None,
                records: vec![
                    SignedRecord::sign(
                        identity(9).signing_key(),
                        RecordKind::Raw,
                        1,
                        b"a value".to_vec(),
                    )
                    .expect("a small record signs"),
                ],
            },
            other => panic!("a command sent {}", other.kind()),
        };
        let mut header_bytes = wire::encode(&Message::<SimAddr> {
            header: header.clone(),
            body: Body::Ping,
        })
        .expect("a ping encodes");
        header_bytes.pop(); // the Ping body's variant byte
        let answer = wire::encode(&Message { header, body }).expect("the answer encodes");
        assert!(answer.starts_with(&header_bytes));
        Harness {
            node,
            now,
            op,
            answer,
            header: header_bytes,
            finished: false,
        }
    }

    fn payload(&self, input: &mut Reader<'_>) -> Vec<u8> {
        let mut bytes = match input.u8() % 4 {
            0 => self.answer.clone(),
            1 => {
                let mut bytes = self.answer.clone();
                for _ in 0..1 + input.u8() % 8 {
                    let (op, at, value) = (input.u8(), usize::from(input.u16()), input.u8());
                    mutate(&mut bytes, op, at, value);
                }
                bytes
            }
            2 => {
                let len = usize::from(input.u8());
                let mut bytes = vec![PROTOCOL_VERSION];
                bytes.extend_from_slice(input.take(len));
                bytes
            }
            _ => {
                let len = usize::from(input.u8());
                let mut bytes = self.header.clone();
                bytes.extend_from_slice(input.take(len));
                bytes
            }
        };
        match bytes.first_mut() {
            Some(first) => *first = PROTOCOL_VERSION,
            None => bytes.push(PROTOCOL_VERSION),
        }
        bytes
    }

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

    fn drain_transmits(&mut self) -> usize {
        std::iter::from_fn(|| self.node.poll_transmit()).count()
    }

    fn advance(&mut self, b: u8) {
        if b < 0x80 {
            self.now = self.now + Duration::from_millis(u64::from(b) * 20);
        } else {
            if let Some(deadline) = self.node.poll_timeout() {
                self.now = self.now.max(deadline) + Duration::from_millis(u64::from(b - 0x80) * 25);
            }
            self.node.handle_timeout(self.now);
        }
        self.drain_events();
        self.drain_transmits();
    }

    fn deliver(&mut self, bytes: &[u8]) {
        let before = *self.node.metrics();
        let table_before = self.node.table().len();
        self.node.handle_datagram(self.now, PEER, bytes);
        let after = *self.node.metrics();
        let events = self.drain_events();
        self.drain_transmits();
        assert_eq!(after.datagrams_in, before.datagrams_in + 1);
        assert_eq!(after.bytes_in, before.bytes_in + bytes.len() as u64);
        let dropped = after.dropped() - before.dropped();
        assert!(dropped <= 1, "one datagram, {dropped} drops: {after:?}");
        let used = after.requests_answered > before.requests_answered
            || after.datagrams_out > before.datagrams_out
            || events > 0
            || self.node.table().len() != table_before;
        assert!(
            dropped == 1 || used,
            "datagram neither refused nor used: {after:?}"
        );
    }

    fn answers_a_fresh_ping(&mut self) {
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
            if t.to == PINGER {
                let reply: Message<SimAddr> =
                    wire::decode(&t.payload, NetworkId::MAIN).expect("the node's reply decodes");
                assert_eq!(reply.header.txid, txid);
                assert!(matches!(reply.body, Body::Pong { .. }), "{reply:?}");
                ponged = true;
            }
        }
        assert!(ponged, "no pong to a fresh ping");
        self.drain_events();
    }

    fn command_finishes(&mut self) {
        for _ in 0..MAX_TIMER_STEPS {
            self.drain_events();
            if self.finished {
                return;
            }
            let Some(deadline) = self.node.poll_timeout() else {
                break;
            };
            self.now = self.now.max(deadline);
            self.node.handle_timeout(self.now);
            self.drain_transmits();
        }
        self.drain_events();
        assert!(
            self.finished,
            "the command did not finish within {MAX_TIMER_STEPS} timer steps"
        );
    }
}

/// One mutation of `bytes`: `op` picks flip, set, insert, delete or truncate.
fn mutate(bytes: &mut Vec<u8>, op: u8, at: usize, value: u8) {
    let len = bytes.len();
    match op % 5 {
        0 if len > 0 => bytes[at % len] ^= 1 << (value % 8),
        1 if len > 0 => bytes[at % len] = value,
        2 => bytes.insert(at % (len + 1), value),
        3 if len > 0 => {
            bytes.remove(at % len);
        }
        4 => bytes.truncate(at % (len + 1)),
        _ => {}
    }
}

/// Real credentials for `identity` at no id difficulty (any work is valid; the check still
/// runs Argon2id and ed25519 in full).
fn real(identity: &Identity) -> Credentials {
    Credentials::real(identity, IdWork(0), Difficulty::NONE).expect("any work meets no difficulty")
}
