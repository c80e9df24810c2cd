//! The eclipse of one key, mounted over UDP on loopback as the issue that asked for the
//! defences describes it: ids ground near a key (with the real id work), run from 50
//! addresses of one /24, taking 18 of the 20 positions closest to it. The attacker answers
//! every lookup with its colluders, acknowledges every store and discards it. Before the
//! defences an honest put reported "stored at 20 nodes" and the value was never found; now a
//! put reports only the holders that served the value back to its audit, and gets find it.
//!
//! Honest nodes sit in /24s of their own (127.0.i.1) and apply the address limits to loopback
//! (`TableConfig::limit_local`), so the attacker's one /24 meets them as it would on a real
//! network.

use qis_core::constants::{K, PROTOCOL_VERSION, TOKEN_BYTES, UNVERIFIED_REQUEST_MIN};
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Padding, Role, StoreStatus};
use qis_core::wire::{Auth, Token, TxId};
use qis_core::{Config, Credentials, Difficulty, Id, IdWork, Identity, TableConfig, WorkHasher};
use qis_core::{RecordKind, SignedRecord};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions, spawn};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

const HONEST: usize = 30;
const ATTACK_ADDRESSES: u8 = 50;
const IDS_PER_ADDRESS: usize = 2;

fn network() -> NetworkId {
    NetworkId::from_name("udp-eclipse-test").expect("a valid network name")
}

fn difficulty() -> Difficulty {
    Difficulty::new(4).expect("within bounds")
}

/// Honest nodes' settings: the address limits apply to loopback when `limit_local`.
fn config(limit_local: bool) -> Config {
    Config {
        network: network(),
        table: TableConfig {
            limit_local,
            ..TableConfig::default()
        },
        ..Config::default()
    }
}

fn honest_identity(index: usize) -> Identity {
    Identity::from_secret_key(*Id::hash(&(index as u64 + 7000).to_le_bytes()).as_bytes())
}

fn honest_credentials(index: usize) -> Credentials {
    let identity = honest_identity(index);
    let (work, _) = WorkHasher::new()
        .solve(&identity.public_key(), difficulty(), IdWork(0), 10_000)
        .expect("a solution at 4 bits");
    Credentials::real(&identity, work, difficulty()).expect("solved work")
}

async fn start_honest(index: usize, limit_local: bool) -> NodeHandle {
    let ip = Ipv4Addr::new(127, 0, index as u8 + 1, 1);
    let options = NodeOptions {
        listen: SocketAddr::from((ip, 0)),
        config: config(limit_local),
        socket: SocketOptions::default(),
    };
    spawn(&honest_credentials(index), options)
        .await
        .expect("bind on loopback")
}

/// The attacker's grinding: valid ids (real work at the network's difficulty) of one key,
/// tried nonce by nonce, until `taken` of them are closer to `key` than the honest node at
/// rank `K - taken + 1`; it keeps the closest `ATTACK_ADDRESSES * IDS_PER_ADDRESS`. Returns
/// their credentials and the candidates it evaluated.
fn grind(key: &Id, honest: &[Id], taken: usize) -> (Vec<Credentials>, u64) {
    let mut by_distance: Vec<Id> = honest.to_vec();
    by_distance.sort_by(|a, b| a.cmp_distance(b, key));
    let bar = by_distance[K - taken].distance(key);
    let identity = Identity::from_secret_key([0xAA; 32]);
    let mut hasher = WorkHasher::new();
    let mut found: Vec<(Id, IdWork)> = Vec::new();
    let mut evaluated = 0;
    for nonce in 0..400_000u64 {
        evaluated += 1;
        let output = hasher.evaluate(&identity.public_key(), IdWork(nonce));
        if output.meets(difficulty()) {
            found.push((output.id(), IdWork(nonce)));
            if found
                .iter()
                .filter(|(id, _)| id.distance(key) < bar)
                .count()
                == taken
            {
                break;
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp_distance(&b.0, key));
    found.truncate(usize::from(ATTACK_ADDRESSES) * IDS_PER_ADDRESS);
    let credentials = found
        .into_iter()
        .map(|(_, work)| Credentials::real(&identity, work, difficulty()).expect("valid work"))
        .collect();
    (credentials, evaluated)
}

/// One of the attacker's ids, on a socket of its own.
struct Fake {
    credentials: Credentials,
    socket: Arc<UdpSocket>,
    addr: SocketAddr,
}

/// The attacker's colluders closest to `target`, never `asker`.
fn colluders(fakes: &[(Id, SocketAddr)], target: &Id, asker: &Id) -> Vec<Contact<SocketAddr>> {
    let mut sorted: Vec<&(Id, SocketAddr)> = fakes.iter().filter(|(id, _)| id != asker).collect();
    sorted.sort_by(|a, b| a.0.cmp_distance(&b.0, target));
    sorted
        .into_iter()
        .take(K)
        .map(|&(id, addr)| Contact { id, addr })
        .collect()
}

/// What a fake answers to `request`: pings honestly (to earn table places), lookups and value
/// requests with colluders, stores with an acknowledgement (and the value is discarded).
fn lie(fake: &Fake, all: &[(Id, SocketAddr)], request: &Message<SocketAddr>) -> Option<Vec<u8>> {
    let token = Token([0; TOKEN_BYTES]);
    let asker = request.header.sender;
    let body = match &request.body {
        Body::Ping => Body::Pong { token },
        Body::FindNode { target, .. } => Body::Nodes {
            token,
            cut: false,
            nodes: colluders(all, target, &asker),
        },
        Body::FindValue { key, .. } => Body::Nodes {
            token,
            cut: false,
            nodes: colluders(all, key, &asker),
        },
        Body::Store { .. } => Body::StoreAck {
            status: StoreStatus::Stored,
        },
        _ => return None,
    };
    let answer = Message {
        header: Header {
            version: PROTOCOL_VERSION,
            network: network(),
            txid: request.header.txid,
            sender: fake.credentials.id(),
            role: Role::Node,
            auth: fake.credentials.answer_auth(&request.header),
        },
        body,
    };
    wire::encode(&answer).ok()
}

/// Runs one fake until the test ends: answers requests with lies, ignores answers.
async fn serve_lies(fake: Arc<Fake>, all: Arc<Vec<(Id, SocketAddr)>>) {
    let mut buf = vec![0u8; 2048];
    while let Ok((len, from)) = fake.socket.recv_from(&mut buf).await {
        let Ok(message) = wire::decode::<SocketAddr>(&buf[..len], network()) else {
            continue;
        };
        if !message.body.is_request() {
            continue;
        }
        if let Some(answer) = lie(&fake, &all, &message) {
            let _ = fake.socket.send_to(&answer, from).await;
        }
    }
}

/// A fake introduces itself to `honest`: a lookup of its own id, as a joining node sends,
/// which makes the honest node check it (a challenged ping) and admit it if its limits allow.
async fn introduce(fake: &Fake, honest: SocketAddr, txid: u32) {
    let request: Message<SocketAddr> = Message {
        header: Header {
            version: PROTOCOL_VERSION,
            network: network(),
            txid: TxId(txid),
            sender: fake.credentials.id(),
            role: Role::Node,
            auth: Auth::None,
        },
        body: Body::FindNode {
            target: fake.credentials.id(),
            token: None,
            pad: Padding(0),
        },
    };
    // Padded as an honest joiner's first request is, so the answer and the check fit the
    // amplification budget and the honest node does check it.
    let short = UNVERIFIED_REQUEST_MIN.saturating_sub(wire::encoded_len(&request));
    let mut request = request;
    if let Body::FindNode { pad, .. } = &mut request.body {
        *pad = Padding(short as u16);
    }
    let bytes = wire::encode(&request).expect("encodes");
    let _ = fake.socket.send_to(&bytes, honest).await;
}

/// What came of one eclipse.
#[derive(Debug)]
struct Outcome {
    /// Candidates the attacker evaluated.
    ground: u64,
    /// The put's holders that are the attacker's, and honest ones.
    fake_holders: usize,
    honest_holders: usize,
    /// The put's report.
    acks: u32,
    verified: u32,
    /// Of 10 gets by honest nodes, those that found the value.
    found: usize,
}

/// Mounts the eclipse: the attacker grinds ids until it holds `taken` of the 20 positions
/// closest to a key, runs them from one /24, introduces them to every honest node; then an
/// honest node puts a value under the key and 10 others get it.
async fn mount(taken: usize, limit_local: bool) -> Outcome {
    let key = Id::hash(b"the key the attacker eclipses");
    let honest_ids: Vec<Id> = (0..HONEST).map(|i| honest_credentials(i).id()).collect();
    let (fake_credentials, ground) = grind(&key, &honest_ids, taken);

    let mut nodes = vec![start_honest(0, limit_local).await];
    let seed = nodes[0].local_addr();
    for i in 1..HONEST {
        let node = start_honest(i, limit_local).await;
        node.bootstrap(vec![seed]).await.expect("node running");
        nodes.push(node);
    }

    // The attacker: 50 addresses of 127.0.200.0/24, two ids on each.
    let mut fakes = Vec::new();
    for (n, credentials) in fake_credentials.into_iter().enumerate() {
        let ip = Ipv4Addr::new(127, 0, 200, (n / IDS_PER_ADDRESS) as u8 + 1);
        let socket = UdpSocket::bind((ip, 0)).await.expect("bind on loopback");
        let addr = socket.local_addr().expect("bound");
        fakes.push(Arc::new(Fake {
            credentials,
            socket: Arc::new(socket),
            addr,
        }));
    }
    let all: Arc<Vec<(Id, SocketAddr)>> =
        Arc::new(fakes.iter().map(|f| (f.credentials.id(), f.addr)).collect());
    let mut liars = tokio::task::JoinSet::new();
    for fake in &fakes {
        liars.spawn(serve_lies(fake.clone(), all.clone()));
    }
    let mut true_closest: Vec<(Id, bool)> = honest_ids
        .iter()
        .map(|id| (*id, false))
        .chain(all.iter().map(|(id, _)| (*id, true)))
        .collect();
    true_closest.sort_by(|a, b| a.0.cmp_distance(&b.0, &key));
    let fakes_closest = true_closest[..K].iter().filter(|(_, fake)| *fake).count();
    assert_eq!(fakes_closest, taken, "the attacker holds its positions");
    for round in 0..2u32 {
        for (f, fake) in fakes.iter().enumerate() {
            for (h, node) in nodes.iter().enumerate() {
                let txid = (round << 24) | ((f as u32) << 8) | h as u32;
                introduce(fake, node.local_addr(), txid).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let publisher = Identity::from_secret_key([42; 32]);
    let record = SignedRecord::sign(
        publisher.signing_key(),
        RecordKind::Raw,
        1,
        b"advice the attacker would censor".to_vec(),
    )
    .expect("signs");
    let put = nodes[3]
        .put(key, record.clone())
        .await
        .expect("node running");
    let fake_ids: Vec<Id> = all.iter().map(|(id, _)| *id).collect();
    let holders = &put.lookup.closest;
    let fake_holders = holders
        .iter()
        .filter(|h| fake_ids.contains(&h.contact.id))
        .count();
    let mut found = 0;
    for node in nodes.iter().skip(10).take(10) {
        let get = node.get(key).await.expect("node running");
        found += usize::from(get.records.contains(&record));
    }
    liars.abort_all();
    for node in &nodes {
        node.shutdown().await;
    }
    let outcome = Outcome {
        ground,
        fake_holders,
        honest_holders: holders.len() - fake_holders,
        acks: put.acks,
        verified: put.verified,
        found,
    };
    println!("udp-eclipse taken={taken} limit_local={limit_local}: {outcome:?}");
    outcome
}

async fn within_bound<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(240), test)
        .await
        .expect("the test finishes within its time bound")
}

/// The reproduction: 18 of the 20 closest positions, 50 addresses of one /24. The
/// prefix limits keep the attacker to its share of the put's holders and of the gets'
/// results; the put reports only the holders that served its audit; every get finds the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eclipsed_key_is_found_and_its_put_reports_only_verified_holders() {
    let o = within_bound(mount(18, true)).await;
    assert!(
        o.fake_holders <= 2,
        "the attacker's one /24 holds at most its share: {o:?}"
    );
    assert!(
        o.verified as usize <= o.honest_holders,
        "no unverified holder reported: {o:?}"
    );
    assert!(
        o.verified as usize + 1 >= o.honest_holders,
        "honest holders verified: {o:?}"
    );
    assert_eq!(o.found, 10, "every get finds the value: {o:?}");
}

/// Every one of the 20 closest positions, and no address limit on loopback (so nothing keeps
/// the attacker out): every store goes to the attacker and is acknowledged, and the put says
/// that no holder is verified. The publisher is told, where it used to hear "stored at 20".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_every_holder_lies_reports_no_verified_holder() {
    let o = within_bound(mount(20, false)).await;
    assert!(o.fake_holders >= 18, "the eclipse holds: {o:?}");
    assert!(
        o.acks as usize >= o.fake_holders,
        "the attacker acknowledges: {o:?}"
    );
    assert!(
        o.verified as usize <= o.honest_holders,
        "no unverified holder reported: {o:?}"
    );
    assert!(o.ground > 0);
}

/// The same complete eclipse from one /24 against nodes that apply the prefix limits: the
/// attacker keeps its share and the value is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_eclipse_from_one_prefix_is_defeated_by_the_prefix_limits() {
    let o = within_bound(mount(20, true)).await;
    assert!(o.fake_holders <= 2, "{o:?}");
    assert!(o.verified as usize + 1 >= o.honest_holders, "{o:?}");
    assert_eq!(o.found, 10, "{o:?}");
}
