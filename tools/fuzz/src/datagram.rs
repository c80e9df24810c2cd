//! Raw bytes into a fresh node's `handle_datagram`.
//!
//! The input's first byte is a control byte: when its low bit is set, the datagram's first
//! byte is forced to the protocol version, so half of all inputs get past the version check
//! and reach the decoder proper. The rest of the input is the datagram.
//!
//! Checks: no panic; the datagram is counted once, and a fresh node (no request out, an
//! untouched rate limit) either answers it (a request) or refuses it under exactly one
//! `dropped_*` counter; anything that decodes re-encodes within the datagram budget, as a
//! `SimAddr` and as a `SocketAddr` message.

use qis_core::constants::{MAX_DATAGRAM, PROTOCOL_VERSION};
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role, Token, TxId};
use qis_core::{
    Config, Credentials, Difficulty, Id, IdWork, Identity, Node, NodeSecret, RecordKind,
    SignedRecord, SimAddr, Time,
};
use std::net::SocketAddr;

/// The fuzz target.
pub fn run(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if control & 1 == 1
        && let Some(first) = bytes.first_mut()
    {
        *first = PROTOCOL_VERSION;
    }
    round_trips::<SimAddr>(&bytes);
    round_trips::<SocketAddr>(&bytes);

    let me = Identity::from_secret_key([1; 32]);
    let mut node: Node<SimAddr> = Node::new(
        Config::default(),
        NodeSecret::from_bytes([1; 32]),
        Credentials::real(&me, IdWork(0), Difficulty::NONE).expect("any work meets no difficulty"),
        Time::ZERO,
    );
    let now = Time::from_millis(u64::from(control >> 1) * 1000);
    node.handle_datagram(now, SimAddr(7), &bytes);
    let m = *node.metrics();
    assert_eq!(m.datagrams_in, 1);
    assert_eq!(m.bytes_in, bytes.len() as u64);
    assert_eq!(
        m.dropped() + m.requests_answered,
        1,
        "a datagram to a fresh node is answered or dropped, once: {m:?}"
    );
    if m.requests_answered == 1 {
        let answer = node
            .poll_transmit()
            .expect("an answered request sent its answer");
        assert_eq!(answer.to, SimAddr(7));
        assert!(answer.payload.len() <= MAX_DATAGRAM);
        let reply: Message<SimAddr> =
            wire::decode(&answer.payload, NetworkId::MAIN).expect("our own answer decodes");
        assert!(
            !reply.body.is_request(),
            "answered with a {}",
            reply.body.kind()
        );
    }
    // Timers still run.
    node.handle_timeout(now + qis_core::Duration::from_secs(3600));
}

fn round_trips<A: qis_core::PeerAddr>(bytes: &[u8]) {
    if let Ok(message) = wire::decode::<A>(bytes, NetworkId::MAIN) {
        let encoded = wire::encode(&message).expect("a decoded message re-encodes");
        assert!(encoded.len() <= MAX_DATAGRAM);
        assert_eq!(wire::encoded_len(&message), encoded.len());
        let again: Message<A> = wire::decode(&encoded, NetworkId::MAIN).expect("and decodes");
        assert_eq!(again, message);
    }
}

/// Valid datagrams of every kind, each behind a control byte of 0 (version left as is).
pub fn seeds() -> Vec<Vec<u8>> {
    let header = Header {
        version: PROTOCOL_VERSION,
        network: NetworkId::MAIN,
        txid: TxId(77),
        sender: Identity::from_secret_key([3; 32]).id(),
        role: Role::Node,
        auth: wire::Auth::None,
    };
    let record = SignedRecord::sign(
        Identity::from_secret_key([4; 32]).signing_key(),
        RecordKind::Raw,
        1,
        b"v".to_vec(),
    )
    .expect("a small record signs");
    let token = Token([1; 8]);
    let challenge = qis_core::Challenge([6; qis_core::constants::CHALLENGE_BYTES]);
    let prover = Credentials::real(
        &Identity::from_secret_key([3; 32]),
        IdWork(0),
        Difficulty::NONE,
    )
    .expect("any work meets no difficulty");
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
            nodes: vec![Contact {
                id: Id::hash(b"n"),
                addr: SimAddr(3),
            }],
        },
        Body::FindValue {
            key: Id::hash(b"k"),
            start: qis_core::RecordId([0; 32]),
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
            status: wire::StoreStatus::Stored,
        },
        Body::Observe {
            token: Some(token),
            probe: Some(wire::ProbeNonce(
                [5; qis_core::constants::PROBE_NONCE_BYTES],
            )),
        },
        Body::Observed {
            token,
            addr: SimAddr(9),
        },
        Body::Probe {
            nonce: wire::ProbeNonce([5; qis_core::constants::PROBE_NONCE_BYTES]),
        },
    ];
    bodies
        .into_iter()
        .map(|body| {
            let mut bytes = vec![0];
            // Requests carry a challenge, answers a real proof, as on first contact.
            let auth = if body.is_request() {
                wire::Auth::Challenge(challenge)
            } else {
                prover.answer_auth(&Header {
                    auth: wire::Auth::Challenge(challenge),
                    ..header.clone()
                })
            };
            let message = Message {
                header: Header {
                    auth,
                    ..header.clone()
                },
                body,
            };
            bytes.extend(wire::encode(&message).expect("a sample encodes"));
            bytes
        })
        .collect()
}
