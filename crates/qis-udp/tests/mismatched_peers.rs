//! Two real nodes on loopback that do not share a network or a protocol version: what each
//! side counts, remembers and tells the other.

use qis_core::constants::PROTOCOL_VERSION;
use qis_core::wire::{self, Auth, Body, Header, Message, NetworkId, Role, TxId};
use qis_core::{Config, Credentials, Difficulty, Id, IdWork, Identity, IdentityScheme};
use qis_udp::{Mismatch, NodeHandle, NodeOptions, NodeStats, SocketOptions, spawn};
use std::net::SocketAddr;
use std::time::Duration;

fn network(name: &str) -> NetworkId {
    NetworkId::from_name(name).expect("a valid network name")
}

async fn start(name: &str, role: Role, secret: u8) -> NodeHandle {
    let options = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        config: Config {
            network: network(name),
            role,
            ..Config::default()
        },
        socket: SocketOptions::default(),
    };
    let identity = Identity::from_secret_key([secret; 32]);
    let credentials = if role == Role::Client {
        Credentials::client(
            &identity,
            IdentityScheme::Real {
                difficulty: Difficulty::NONE,
            },
        )
    } else {
        Credentials::real(&identity, IdWork(0), Difficulty::NONE)
            .expect("any work meets no difficulty")
    };
    spawn(&credentials, options)
        .await
        .expect("bind on loopback")
}

/// Polls `node`'s stats until `done` holds (at most 200 polls, 10 ms apart).
async fn stats_until(node: &NodeHandle, done: impl Fn(&NodeStats) -> bool) -> NodeStats {
    for _ in 0..200 {
        let stats = node.stats().await.unwrap();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached: {:?}", node.stats().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_another_network_learns_which_network_the_node_runs() {
    let node = start("a", Role::Node, 1).await;
    let client = start("b", Role::Client, 2).await;

    let report = client.bootstrap(vec![node.local_addr()]).await.unwrap();
    assert_eq!(report.bootstrap_answered, 0);

    let at_client = client.stats().await.unwrap();
    let at_node = node.stats().await.unwrap();
    // Every request the client sent was dropped by the node as another network's, and each
    // got a notice, which the client dropped in turn as another network's.
    let sent = at_client.metrics.requests_sent;
    assert!(sent >= 1);
    assert_eq!(at_node.metrics.dropped_wrong_network, sent);
    assert_eq!(at_node.metrics.requests_answered, 0);
    assert_eq!(at_node.notices_sent, sent);
    assert_eq!(at_client.metrics.dropped_wrong_network, sent);
    assert_eq!(at_client.notices_sent, 0, "clients send no notices");
    assert_eq!(at_node.table_size, 0);

    let seen = at_client
        .mismatch_from(node.local_addr())
        .expect("the node");
    assert_eq!(
        seen.mismatch,
        Mismatch::Network {
            theirs: network("a"),
            ours: network("b"),
        }
    );
    assert_eq!(seen.datagrams, sent);
    let seen = at_node
        .mismatch_from(client.local_addr())
        .expect("the client");
    assert_eq!(
        seen.mismatch,
        Mismatch::Network {
            theirs: network("b"),
            ours: network("a"),
        }
    );
    assert_eq!(at_node.mismatches.len(), 1);
    node.shutdown().await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_of_another_version_is_counted_remembered_and_not_answered() {
    let node = start("a", Role::Node, 3).await;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let from: SocketAddr = peer.local_addr().unwrap();

    // A version-2 datagram, then a ping of this version and network.
    let mut future = vec![PROTOCOL_VERSION + 1];
    future.extend_from_slice(&[0u8; 40]);
    peer.send_to(&future, node.local_addr()).await.unwrap();
    let ping = wire::encode(&Message::<SocketAddr> {
        header: Header {
            version: PROTOCOL_VERSION,
            network: network("a"),
            txid: TxId(77),
            sender: Id::hash(&[9; 32]),
            role: Role::Client,
            auth: Auth::None,
        },
        body: Body::Ping,
    })
    .unwrap();
    peer.send_to(&ping, node.local_addr()).await.unwrap();

    // The first answer is the pong: the other version got no notice.
    let mut buf = vec![0u8; 2048];
    let (len, _) = tokio::time::timeout(Duration::from_secs(10), peer.recv_from(&mut buf))
        .await
        .expect("the node answers the ping")
        .unwrap();
    let pong: Message<SocketAddr> = wire::decode(&buf[..len], network("a")).unwrap();
    assert_eq!(pong.header.txid, TxId(77));
    assert!(matches!(pong.body, Body::Pong { .. }));

    let stats = stats_until(&node, |s| s.metrics.requests_answered == 1).await;
    assert_eq!(stats.metrics.dropped_version, 1);
    assert_eq!(stats.metrics.dropped(), 1);
    assert_eq!(stats.notices_sent, 0);
    let seen = stats.mismatch_from(from).expect("the peer");
    assert_eq!(
        seen.mismatch,
        Mismatch::Version {
            theirs: PROTOCOL_VERSION + 1,
            ours: PROTOCOL_VERSION,
        }
    );
    assert_eq!(seen.datagrams, 1);

    // A second one from the same address is counted, not remembered twice.
    peer.send_to(&future, node.local_addr()).await.unwrap();
    let stats = stats_until(&node, |s| s.metrics.dropped_version == 2).await;
    assert_eq!(stats.mismatches.len(), 1);
    assert_eq!(stats.mismatch_from(from).unwrap().datagrams, 2);
    node.shutdown().await;
}
