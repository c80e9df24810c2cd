//! The honest parties of the flood benches (`flood`, `spoof`): a routing-table peer and a
//! client holding a valid token, each sending one request every 20 ms and counting the answers
//! that come back within 20 ms; and the node's Prometheus counters (`#[path]`-included).

use hdrhistogram::Histogram;
use qis_core::wire::Token;
use qis_core::wire::{self, Body, Header, Message, NetworkId, Role, TxId};
use qis_core::{Credentials, Difficulty, Id, IdWork, Identity};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) const NETWORK: &str = "flood";

pub(crate) fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn network() -> NetworkId {
    NetworkId::from_name(NETWORK).expect("a valid network name")
}

pub(crate) fn encode(txid: u32, sender: Id, role: Role, body: Body<SocketAddr>) -> Vec<u8> {
    encode_with(txid, sender, role, wire::Auth::None, body)
}

pub(crate) fn encode_with(
    txid: u32,
    sender: Id,
    role: Role,
    auth: wire::Auth,
    body: Body<SocketAddr>,
) -> Vec<u8> {
    wire::encode(&Message {
        header: Header {
            version: qis_core::constants::PROTOCOL_VERSION,
            network: network(),
            txid: TxId(txid),
            sender,
            role,
            auth,
        },
        body,
    })
    .expect("fits")
}

pub(crate) fn decode(bytes: &[u8]) -> Option<Message<SocketAddr>> {
    wire::decode(bytes, network()).ok()
}

/// The node's Prometheus exposition.
pub(crate) fn scrape(metrics: SocketAddr) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&metrics, Duration::from_secs(2)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

pub(crate) fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// The credentials a peer proves itself with: the node runs at no id difficulty, so any
/// work will do. Its id (which its requests must claim) comes out of that work, not the key.
pub(crate) fn peer_credentials(me: &Identity) -> Credentials {
    Credentials::real(me, IdWork(0), Difficulty::NONE).expect("any work meets no difficulty")
}

/// Becomes a routing-table peer of `target`: asks it (padded) as a node, then answers the
/// verification ping it sends back. Returns once the target asked and got its answer.
pub(crate) fn join_as_peer(socket: &UdpSocket, target: SocketAddr, me: &Identity) -> bool {
    // Padded, so that the answer and a verification ping with every retry stay within the
    // amplification limit toward a source that has not proved its address (a bare ping does
    // not leave room: the node would verify us only at a later request carrying its token).
    let first = Body::FindNode {
        target: me.id(),
        token: None,
        pad: wire::Padding(400),
    };
    socket
        .send_to(
            &encode(1, peer_credentials(me).id(), Role::Node, first),
            target,
        )
        .ok();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some(m) = decode(&buf[..len])
            && m.body == Body::Ping
        {
            answer(socket, target, me, &m);
            return true;
        }
    }
    false
}

/// Answers the target's request `m` as a node would: a ping with a pong, a lookup with an
/// empty list, proving our id if it challenges us (the node runs at no id difficulty, so any
/// work will do). A peer that ignored them would be dropped from the target's table for not
/// answering its refreshes.
fn answer(socket: &UdpSocket, target: SocketAddr, me: &Identity, m: &Message<SocketAddr>) {
    let token = wire::Token([0; qis_core::constants::TOKEN_BYTES]);
    let body = match m.body {
        Body::Ping => Body::Pong { token },
        Body::FindNode { .. } | Body::FindValue { .. } => Body::Nodes {
            token,
            cut: false,
            nodes: Vec::new(),
        },
        _ => return,
    };
    let credentials = peer_credentials(me);
    let auth = match m.header.auth {
        wire::Auth::Challenge(challenge) => {
            wire::Auth::Proof(credentials.prove(network(), &challenge, &m.header.sender))
        }
        _ => wire::Auth::None,
    };
    let reply = encode_with(m.header.txid.0, credentials.id(), Role::Node, auth, body);
    socket.send_to(&reply, target).ok();
}

/// Sends `request(txid)` every 20 ms until `stop`, measuring answers by transaction id. A
/// party that is a node (`node`: its identity) also answers the target's own requests.
pub(crate) fn measure(
    socket: &UdpSocket,
    target: SocketAddr,
    stop: &AtomicBool,
    node: Option<&Identity>,
    request: impl Fn(u32) -> Vec<u8>,
) -> (u64, u64, Histogram<u64>) {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let (mut sent, mut answered) = (0u64, 0u64);
    let mut buf = [0u8; 2048];
    let mut txid = 1000;
    while !stop.load(Ordering::Relaxed) {
        txid += 1;
        let started = Instant::now();
        socket.send_to(&request(txid), target).ok();
        sent += 1;
        let deadline = started + Duration::from_millis(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left)).ok();
            match socket.recv_from(&mut buf) {
                Ok((len, _)) => {
                    let Some(m) = decode(&buf[..len]) else {
                        continue;
                    };
                    if m.body.is_request() {
                        if let Some(me) = node {
                            answer(socket, target, me, &m);
                        }
                        continue;
                    }
                    if m.header.txid == TxId(txid) {
                        answered += 1;
                        let us = started.elapsed().as_micros() as u64;
                        histogram.record(us.max(1)).ok();
                    }
                }
                Err(_) => break,
            }
        }
        let rest = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(rest);
    }
    (sent, answered, histogram)
}

pub(crate) fn report(name: &str, (sent, answered, h): &(u64, u64, Histogram<u64>)) {
    println!(
        "  {name:<28} {answered}/{sent} answered ({:.2}%), latency p50 {} µs, p99 {} µs",
        100.0 * *answered as f64 / (*sent).max(1) as f64,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99)
    );
}

/// What one party measured: requests sent, answers within 20 ms, their latency (µs).
pub(crate) type Outcome = (u64, u64, Histogram<u64>);

/// The two honest parties: a peer admitted to the target's routing table and a client holding
/// the target's address token.
pub(crate) struct Parties {
    target: SocketAddr,
    peer: Identity,
    peer_socket: UdpSocket,
    client: Identity,
    client_socket: UdpSocket,
    token: Token,
}

impl Parties {
    /// Binds the peer at `peer_at` and the client at `client_at`, has the peer admitted to
    /// `target`'s table (a few tries: the node may still be starting) and fetches the client's
    /// token.
    pub(crate) fn join(target: SocketAddr, peer_at: &str, client_at: &str) -> Parties {
        let peer = Identity::from_secret_key([2; 32]);
        let peer_socket = UdpSocket::bind(peer_at).expect("bind the peer");
        peer_socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .ok();
        assert!(
            (0..10).any(|_| join_as_peer(&peer_socket, target, &peer)),
            "the node verified the peer"
        );
        let client = Identity::from_secret_key([3; 32]);
        let client_socket = UdpSocket::bind(client_at).expect("bind the client");
        client_socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .ok();
        client_socket
            .send_to(&encode(1, client.id(), Role::Client, Body::Ping), target)
            .ok();
        let mut buf = [0u8; 2048];
        let token = match client_socket
            .recv_from(&mut buf)
            .ok()
            .and_then(|(n, _)| decode(&buf[..n]))
        {
            Some(Message {
                body: Body::Pong { token },
                ..
            }) => token,
            other => panic!("no pong for the client: {other:?}"),
        };
        Parties {
            target,
            peer,
            peer_socket,
            client,
            client_socket,
            token,
        }
    }

    /// Both parties measure for `secs` (the peer pings, the client looks up with its token),
    /// then `stop` is raised; what each measured.
    pub(crate) fn measure_for(&self, secs: u64, stop: &AtomicBool) -> (Outcome, Outcome) {
        let peer_id = peer_credentials(&self.peer).id();
        std::thread::scope(|scope| {
            let peer_run = scope.spawn(|| {
                measure(
                    &self.peer_socket,
                    self.target,
                    stop,
                    Some(&self.peer),
                    |txid| encode(txid, peer_id, Role::Node, Body::Ping),
                )
            });
            let client_run = scope.spawn(|| {
                measure(&self.client_socket, self.target, stop, None, |txid| {
                    let body = Body::FindNode {
                        target: Id::hash(&txid.to_le_bytes()),
                        token: Some(self.token),
                        pad: Default::default(),
                    };
                    encode(txid, self.client.id(), Role::Client, body)
                })
            });
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
            (
                peer_run.join().expect("peer"),
                client_run.join().expect("client"),
            )
        })
    }
}

/// Prints what the node's counters (`metrics`, its Prometheus text) say about the flood: what
/// it received, shed per host and over the shared budget, sends dropped, its CPU and RSS, and
/// its routing-table size.
pub(crate) fn report_node(metrics: &str, cpu: f64, rss_bytes: u64) {
    let drop = |reason: &str| {
        sample(
            metrics,
            &format!("qis_datagrams_dropped_total{{reason=\"{reason}\"}}"),
        )
    };
    println!(
        "  node: received {} datagrams; shed per host {}, over the shared budget {}; sends dropped (buffer full) {}; CPU {cpu:.2} of a core; RSS {} KiB; table {}",
        sample(metrics, "qis_datagrams_received_total"),
        drop("rate_limited"),
        drop("over_budget"),
        sample(metrics, "qis_sends_dropped_total"),
        rss_bytes / 1024,
        sample(metrics, "qis_routing_table_entries")
    );
}
