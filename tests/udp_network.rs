//! Real nodes over UDP on loopback: 100 nodes in one process, each on its own 127.0.0.x
//! address (so the per-IP limits behave as on a real network).

use qis_core::Config;
use qis_core::Id;
use qis_core::Identity;
use qis_core::constants::K;
use qis_core::wire::NetworkId;
use qis_core::{Credentials, Difficulty, IdWork, WorkHasher};
use qis_core::{RecordKind, SignedRecord};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions, spawn};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::task::JoinSet;

const NODES: usize = 100;

fn config() -> Config {
    Config {
        network: NetworkId::from_name("udp-network-test").expect("a valid network name"),
        ..Config::default()
    }
}

/// The id difficulty of the test network: real work, small enough for 100 nodes.
fn difficulty() -> Difficulty {
    Difficulty::new(4).expect("4 bits is within bounds")
}

/// Real credentials for `identity` with a little real work, so the UDP path runs the real
/// scheme end to end.
fn credentials(identity: &Identity) -> Credentials {
    let (work, _) = WorkHasher::new()
        .solve(&identity.public_key(), difficulty(), IdWork(0), 10_000)
        .expect("a solution within 10,000 tries at 4 bits");
    Credentials::real(identity, work, difficulty()).expect("solved work")
}

async fn start_node(index: usize) -> NodeHandle {
    let ip = Ipv4Addr::new(127, 0, (index / 250) as u8, (index % 250 + 1) as u8);
    let identity = Identity::from_secret_key(*Id::hash(&(index as u64).to_le_bytes()).as_bytes());
    let options = NodeOptions {
        listen: SocketAddr::from((ip, 0)),
        config: config(),
        socket: SocketOptions::default(),
    };
    spawn(&credentials(&identity), options)
        .await
        .expect("bind on loopback")
}

async fn start_network() -> Vec<NodeHandle> {
    let mut nodes = vec![start_node(0).await];
    let seed = nodes[0].local_addr();
    for batch in (1..NODES).collect::<Vec<_>>().chunks(10) {
        let mut joins = JoinSet::new();
        for &i in batch {
            let node = start_node(i).await;
            joins.spawn(async move {
                let report = node.bootstrap(vec![seed]).await.expect("node running");
                assert_eq!(report.bootstrap_answered, 1);
                node
            });
        }
        while let Some(node) = joins.join_next().await {
            nodes.push(node.expect("join task"));
        }
    }
    nodes
}

fn percentile(sorted: &[u8], p: f64) -> u8 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_nodes_put_once_and_everyone_gets() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let nodes = start_network().await;
        let mut tables: Vec<usize> = Vec::new();
        for node in &nodes {
            tables.push(node.stats().await.unwrap().table_size);
        }
        let publisher = Identity::from_secret_key([42; 32]);
        let key = Id::hash(b"a key on the loopback network");
        let record = SignedRecord::sign(publisher.signing_key(), RecordKind::Raw, 1, b"hello from node 7".to_vec()).unwrap();
        let put = nodes[7].put(key, record.clone()).await.unwrap();
        assert!(put.acks as usize >= K, "put acknowledged by {} nodes", put.acks);

        let mut hops = Vec::new();
        let mut rounds = Vec::new();
        let mut requests = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if i == 7 {
                continue;
            }
            let get = node.get(key).await.unwrap();
            assert_eq!(get.records, vec![record.clone()], "node {i} did not find the value");
            assert!(get.complete);
            assert!(get.lookup.hops >= 1, "hop depth is recorded");
            hops.push(get.lookup.hops);
            rounds.push(get.lookup.rounds);
            requests.push(get.lookup.requests);
        }
        hops.sort_unstable();
        rounds.sort_unstable();
        let mean = hops.iter().map(|&h| f64::from(h)).sum::<f64>() / hops.len() as f64;
        let mean_requests = requests.iter().map(|&r| f64::from(r)).sum::<f64>() / requests.len() as f64;
        let mean_table = tables.iter().sum::<usize>() as f64 / tables.len() as f64;
        println!(
            "udp-100: gets={} hops mean={mean:.2} p50={} p90={} max={} rounds p50={} max={} requests/get={mean_requests:.1} table mean={mean_table:.1} put acks={}",
            hops.len(),
            percentile(&hops, 0.5),
            percentile(&hops, 0.9),
            hops[hops.len() - 1],
            percentile(&rounds, 0.5),
            rounds[rounds.len() - 1],
            put.acks
        );
        assert!(percentile(&hops, 0.5) <= 3, "median hop depth at 100 nodes");
        for node in &nodes {
            node.shutdown().await;
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_are_dropped_and_counted_while_the_node_serves() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let target = start_node(200).await;
        let other = start_node(201).await;
        let attacker = tokio::net::UdpSocket::bind("127.0.0.250:0").await.unwrap();
        let to = target.local_addr();
        let mut sent = 0u64;
        for n in 0..200u32 {
            let junk: Vec<u8> = (0..(n % 1300)).map(|i| (i * 31 + n) as u8).collect();
            attacker.send_to(&junk, to).await.unwrap();
            sent += 1;
        }
        // A datagram larger than the budget.
        attacker.send_to(&[1u8; 1400], to).await.unwrap();
        sent += 1;
        // Wait until the node has read them all (bounded).
        let mut stats = target.stats().await.unwrap();
        for _ in 0..100 {
            if stats.metrics.datagrams_in >= sent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            stats = target.stats().await.unwrap();
        }
        assert_eq!(stats.metrics.datagrams_in, sent);
        assert_eq!(
            stats.metrics.dropped(),
            sent,
            "every hostile datagram dropped and counted: {:?}",
            stats.metrics
        );
        assert!(stats.metrics.dropped_oversize >= 1);
        let reply = other.ping(to).await.unwrap();
        assert_eq!(reply.map(|r| r.id), Some(target.id()), "still serving");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_work_over_ipv6_loopback() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine: skipped");
        return;
    };
    drop(probe);
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut nodes = Vec::new();
        for i in 0..5u64 {
            let identity =
                Identity::from_secret_key(*Id::hash(&(1000 + i).to_le_bytes()).as_bytes());
            let mut config = config();
            config.table.max_per_host = 0; // all on ::1
            let options = NodeOptions {
                listen: "[::1]:0".parse().unwrap(),
                config,
                socket: SocketOptions::default(),
            };
            nodes.push(spawn(&credentials(&identity), options).await.unwrap());
        }
        let seed = nodes[0].local_addr();
        for node in &nodes[1..] {
            assert_eq!(
                node.bootstrap(vec![seed]).await.unwrap().bootstrap_answered,
                1
            );
        }
        let record = SignedRecord::sign(
            Identity::from_secret_key([5; 32]).signing_key(),
            RecordKind::Raw,
            1,
            b"v6".to_vec(),
        )
        .unwrap();
        let key = Id::hash(b"ipv6");
        assert_eq!(nodes[1].put(key, record.clone()).await.unwrap().acks, 4);
        assert_eq!(nodes[4].get(key).await.unwrap().records, vec![record]);
    })
    .await
    .expect("bounded in time");
}

/// Two nodes started with the same key and the same configuration must still hold different
/// token secrets: the secrets come from OS entropy drawn at spawn, not from the key or a
/// configured seed. A requester pings both from one address and compares the tokens.
#[tokio::test]
async fn two_nodes_with_the_same_key_mint_different_tokens() {
    use qis_core::wire::{self, Body, Header, Message, Role, TxId};
    let identity = Identity::from_secret_key([42; 32]);
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let options = NodeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            config: config(),
            socket: SocketOptions::default(),
        };
        let credentials = credentials(&identity);
        nodes.push(
            spawn(&credentials, options)
                .await
                .expect("bind on loopback"),
        );
    }
    let requester = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut tokens = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let ping = wire::encode(&Message::<SocketAddr> {
            header: Header {
                version: qis_core::constants::PROTOCOL_VERSION,
                network: config().network,
                txid: TxId(i as u32),
                sender: Identity::from_secret_key([7; 32]).id(),
                role: Role::Client,
                auth: wire::Auth::None,
            },
            body: Body::Ping,
        })
        .unwrap();
        requester.send_to(&ping, node.local_addr()).await.unwrap();
        let mut buf = [0u8; 2048];
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), requester.recv_from(&mut buf))
            .await
            .expect("the node answers")
            .unwrap();
        let pong: Message<SocketAddr> = wire::decode(&buf[..len], config().network).unwrap();
        let Body::Pong { token } = pong.body else {
            panic!("expected a pong, got {:?}", pong.body)
        };
        tokens.push(token);
    }
    assert_ne!(
        tokens[0], tokens[1],
        "same key, same config, different secrets"
    );
}
