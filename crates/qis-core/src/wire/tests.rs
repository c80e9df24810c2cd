//! Budget and robustness tests for the wire format.

use super::*;
use crate::constants::{K, MAX_DATAGRAM, MAX_RECORD, PROTOCOL_VERSION, UNVERIFIED_REQUEST_MIN};
use crate::id::Id;
use crate::record::{PublicKey, RecordId, RecordKind, Signature, SignedRecord};
use proptest::prelude::*;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

fn header() -> Header {
    Header {
        version: PROTOCOL_VERSION,
        network: NetworkId(u32::MAX),
        txid: TxId(u32::MAX),
        sender: Id::from_bytes([0xff; 32]),
        role: Role::Client,
        auth: Auth::None,
    }
}

/// The widest header a message of this kind can carry: a challenge on a request, the largest
/// identity proof on an answer.
fn widest_header<A>(body: &Body<A>) -> Header {
    let auth = if body.is_request() {
        Auth::Challenge(crate::proof::Challenge(
            [0xff; crate::constants::CHALLENGE_BYTES],
        ))
    } else {
        Auth::Proof(crate::proof::IdentityProof {
            public_key: PublicKey([0xff; 32]),
            work: crate::work::IdWork(u64::MAX),
            signature: Signature([0xff; 64]),
        })
    };
    Header { auth, ..header() }
}

fn widest_addr() -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from([0xff; 16]),
        u16::MAX,
        0,
        0,
    ))
}

/// A record whose encoding is exactly `MAX_RECORD` bytes (the worst case for pages).
fn max_record() -> SignedRecord {
    let mut record = SignedRecord {
        kind: RecordKind::Outcome,
        publisher: PublicKey([0xff; 32]),
        created: u64::MAX,
        payload: Vec::new(),
        signature: Signature([0xff; 64]),
    };
    while record.encoded_len() < MAX_RECORD {
        record.payload.push(0xff);
    }
    assert_eq!(record.encoded_len(), MAX_RECORD);
    record
}

/// The largest form of every message kind.
fn largest_messages() -> Vec<Message<SocketAddr>> {
    let token = Some(Token([0xff; 8]));
    let big_pad = Padding(UNVERIFIED_REQUEST_MIN as u16);
    // An answer's contacts carry id hints, so the widest decodes back to itself only as one.
    let contact = Contact {
        id: Id::from_hint([0xff; crate::constants::ID_HINT_BYTES]),
        addr: widest_addr(),
    };
    let bodies = vec![
        Body::Ping,
        Body::Pong {
            token: Token([0xff; 8]),
        },
        Body::FindNode {
            target: Id::from_bytes([0xff; 32]),
            token,
            pad: big_pad,
        },
        Body::Nodes {
            token: Token([0xff; 8]),
            cut: true,
            nodes: vec![contact; K],
        },
        Body::FindValue {
            key: Id::from_bytes([0xff; 32]),
            start: RecordId([0xff; 32]),
            token,
            pad: big_pad,
        },
        Body::Values {
            token: Token([0xff; 8]),
            total: u32::MAX,
            next: Some(RecordId([0xff; 32])),
            records: vec![max_record(); 2],
        },
        Body::Store {
            key: Id::from_bytes([0xff; 32]),
            token: Token([0xff; 8]),
            record: max_record(),
        },
        Body::StoreAck {
            status: StoreStatus::Refused(StoreRefusal::Full),
        },
    ];
    bodies
        .into_iter()
        .map(|body| Message {
            header: widest_header(&body),
            body,
        })
        .collect()
}

#[test]
fn the_largest_form_of_every_message_fits_the_budget() {
    for message in largest_messages() {
        let bytes = encode(&message).unwrap_or_else(|e| panic!("{}: {e}", message.body.kind()));
        assert!(
            bytes.len() <= MAX_DATAGRAM,
            "{} is {} bytes",
            message.body.kind(),
            bytes.len()
        );
        let back: Message<SocketAddr> = decode(&bytes, NetworkId(u32::MAX)).unwrap();
        assert_eq!(back, message);
    }
}

#[test]
fn two_maximal_records_fit_one_page_and_three_do_not() {
    let mut message = largest_messages().swap_remove(5);
    assert!(encoded_len(&message) <= MAX_DATAGRAM);
    if let Body::Values { records, .. } = &mut message.body {
        records.push(max_record());
    }
    assert!(encoded_len(&message) > MAX_DATAGRAM);
}

#[test]
fn a_padded_request_earns_a_full_answer_within_the_amplification_limit() {
    let messages = largest_messages();
    let find_node = encoded_len(&messages[2]);
    let nodes = encoded_len(&messages[3]);
    assert!(
        nodes <= crate::constants::AMPLIFICATION_FACTOR * find_node,
        "{nodes} vs {find_node}"
    );
}

#[test]
fn refuses_wrong_version_network_and_trailing_bytes() {
    let message = Message::<SocketAddr> {
        header: header(),
        body: Body::Ping,
    };
    let mut bytes = encode(&message).unwrap();
    assert_eq!(
        decode::<SocketAddr>(&bytes, NetworkId(7)),
        Err(WireError::WrongNetwork(u32::MAX))
    );
    bytes.push(0);
    assert_eq!(
        decode::<SocketAddr>(&bytes, NetworkId(u32::MAX)),
        Err(WireError::Trailing(1))
    );
    bytes[0] = 9;
    assert_eq!(
        decode::<SocketAddr>(&bytes, NetworkId(u32::MAX)),
        Err(WireError::Version(9))
    );
    assert_eq!(
        decode::<SocketAddr>(&[], NetworkId(u32::MAX)),
        Err(WireError::Empty)
    );
    let oversize = vec![PROTOCOL_VERSION; MAX_DATAGRAM + 1];
    assert_eq!(
        decode::<SocketAddr>(&oversize, NetworkId(0)),
        Err(WireError::Oversize(MAX_DATAGRAM + 1))
    );
}

#[test]
fn encoding_an_oversize_message_fails_instead_of_fragmenting() {
    let contact = Contact {
        id: Id::from_bytes([0xff; 32]),
        addr: widest_addr(),
    };
    let message = Message {
        header: header(),
        body: Body::Nodes {
            token: Token([0; 8]),
            cut: false,
            nodes: vec![contact; 60],
        },
    };
    assert!(matches!(encode(&message), Err(WireError::Oversize(_))));
}

#[test]
fn network_names_are_case_insensitive_and_validated() {
    assert_eq!(NetworkId::from_name("main"), Ok(NetworkId::MAIN));
    assert_eq!(NetworkId::from_name("Main"), Ok(NetworkId::MAIN));
    assert_eq!(NetworkId::from_name("MAIN"), Ok(NetworkId::MAIN));
    let test = NetworkId::from_name("test").unwrap();
    assert_eq!(NetworkId::from_name("TeSt"), Ok(test));
    assert_ne!(test, NetworkId::MAIN);
    assert_ne!(NetworkId::from_name("test-2").unwrap(), test);
    assert_eq!(NetworkId::from_name(""), Err(NetworkNameError::Empty));
    assert_eq!(
        NetworkId::from_name("main "),
        Err(NetworkNameError::BadChar(' '))
    );
    assert_eq!(
        NetworkId::from_name("caf\u{e9}"),
        Err(NetworkNameError::BadChar('\u{e9}'))
    );
    let long = "n".repeat(crate::constants::MAX_NETWORK_NAME + 1);
    assert_eq!(
        NetworkId::from_name(&long),
        Err(NetworkNameError::TooLong(long.len()))
    );
    assert!(NetworkId::from_name(&long[1..]).is_ok());
    assert_eq!(NetworkId::MAIN.to_string(), "0x71697301");
    assert_eq!(NetworkId(0x1234).to_string(), "0x00001234");
}

#[test]
fn a_request_of_another_network_gets_a_notice_of_ours_and_nothing_else_does() {
    let ours = NetworkId(7);
    let us = Id::from_bytes([7; 32]);
    let ping = encode(&Message::<SocketAddr> {
        header: header(),
        body: Body::Ping,
    })
    .unwrap();
    let notice = network_notice::<SocketAddr>(&ping, ours, us).expect("a notice");
    // The requester refuses it as a message of our network, and it echoes the txid.
    assert_eq!(
        decode::<SocketAddr>(&notice, header().network),
        Err(WireError::WrongNetwork(ours.0))
    );
    let read = decode::<SocketAddr>(&notice, ours).unwrap();
    assert_eq!(read.header.txid, header().txid);
    assert_eq!(read.header.sender, us);
    assert!(!read.body.is_request());
    assert!(notice.len() <= crate::constants::AMPLIFICATION_FACTOR * ping.len());
    // No notice for our own network, for a response (the notice itself: no ping-pong), for
    // another version or for garbage.
    assert_eq!(
        network_notice::<SocketAddr>(&ping, header().network, us),
        None
    );
    assert_eq!(
        network_notice::<SocketAddr>(&notice, header().network, us),
        None
    );
    let mut other_version = ping.clone();
    other_version[0] = PROTOCOL_VERSION + 1;
    assert_eq!(network_notice::<SocketAddr>(&other_version, ours, us), None);
    assert_eq!(network_notice::<SocketAddr>(&[], ours, us), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let _ = decode::<SocketAddr>(&bytes, NetworkId(u32::MAX));
        let _ = decode::<crate::addr::SimAddr>(&bytes, NetworkId(u32::MAX));
        let _ = network_notice::<SocketAddr>(&bytes, NetworkId(7), Id::from_bytes([0; 32]));
        let _ = NetworkId::from_name(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_messages_never_panic(
        which in 0usize..8,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let messages = largest_messages();
        let mut bytes = encode(&messages[which]).unwrap();
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        let keep = cut % (bytes.len() + 1);
        let _ = decode::<SocketAddr>(&bytes[..keep], NetworkId(u32::MAX));
        let _ = decode::<SocketAddr>(&bytes, NetworkId(u32::MAX));
    }
}

#[test]
fn contacts_travel_as_id_hints_of_eight_bytes() {
    let full = Id::hash(b"a node");
    let message = Message {
        header: header(),
        body: Body::Nodes {
            token: Token([0; 8]),
            cut: false,
            nodes: vec![Contact {
                id: full,
                addr: widest_addr(),
            }],
        },
    };
    let none = Message {
        header: header(),
        body: Body::Nodes::<SocketAddr> {
            token: Token([0; 8]),
            cut: false,
            nodes: Vec::new(),
        },
    };
    let per_contact = encoded_len(&message) - encoded_len(&none);
    assert_eq!(per_contact, crate::constants::ID_HINT_BYTES + 20);
    let back: Message<SocketAddr> = decode(&encode(&message).unwrap(), header().network).unwrap();
    let Body::Nodes { nodes, .. } = back.body else {
        panic!("not nodes");
    };
    assert!(nodes[0].id.is_hint() && nodes[0].id.names(&full));
    assert!(!full.is_hint() && !full.names(&nodes[0].id));
    let causes = super::byte_causes(&message);
    assert_eq!(causes.total(), encoded_len(&message) as u64);
    assert_eq!(causes.addresses, 20);
}
