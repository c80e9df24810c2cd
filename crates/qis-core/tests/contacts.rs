//! Contact addresses from answers are checked before a lookup follows them: an answer listing
//! the unspecified address, port 0, multicast or broadcast cannot aim our requests at a third
//! party or at nowhere.

use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role};
use qis_core::{Config, Credentials, Id, Identity, Node, NodeSecret, Time};
use std::net::SocketAddr;

#[test]
fn a_lookup_never_follows_contacts_no_node_can_have() {
    let me = Identity::from_secret_key([1; 32]);
    let peer = Identity::from_secret_key([2; 32]);
    let peer_addr: SocketAddr = "10.0.0.2:4000".parse().unwrap();
    let mut node: Node<SocketAddr> = Node::new(
        Config::default(),
        NodeSecret::from_bytes([1; 32]),
        Credentials::modelled(me.public_key()),
        Time::ZERO,
    );
    node.add_contact(Time::ZERO, peer.id(), peer_addr);
    node.find_node(Time::ZERO, Id::hash(b"target"));
    let request = node.poll_transmit().expect("a FIND_NODE to the peer");
    assert_eq!(request.to, peer_addr);
    let asked: Message<SocketAddr> = wire::decode(&request.payload, NetworkId::MAIN).unwrap();
    let bad = [
        "0.0.0.0:4000",
        "[::]:4000",
        "10.9.9.9:0",
        "224.0.0.1:4000",
        "255.255.255.255:4000",
    ];
    let good: SocketAddr = "10.0.0.3:4000".parse().unwrap();
    let mut nodes: Vec<Contact<SocketAddr>> = bad
        .iter()
        .enumerate()
        .map(|(i, a)| Contact {
            id: Id::hash(&[i as u8]),
            addr: a.parse().unwrap(),
        })
        .collect();
    nodes.push(Contact {
        id: Id::hash(b"good"),
        addr: good,
    });
    let answer = wire::encode(&Message::<SocketAddr> {
        header: Header {
            sender: peer.id(),
            role: Role::Node,
            auth: Credentials::modelled(peer.public_key()).answer_auth(&asked.header),
            ..asked.header
        },
        body: Body::Nodes {
            token: wire::Token([0; 8]),
            cut: false,
            nodes,
        },
    })
    .unwrap();
    node.handle_datagram(Time::ZERO, peer_addr, &answer);
    let mut asked_next = Vec::new();
    while let Some(t) = node.poll_transmit() {
        asked_next.push(t.to);
    }
    assert_eq!(node.metrics().contacts_refused, bad.len() as u64);
    assert!(asked_next.contains(&good), "{asked_next:?}");
    assert!(
        asked_next.iter().all(|a| *a == good || *a == peer_addr),
        "nothing sent to a refused address: {asked_next:?}"
    );
}
