//! Reachability checks on the test network: a node in the automatic role that strangers can
//! reach becomes a full node and enters others' tables; one behind a port-restricted NAT stays
//! a client, is in nobody's table, and still gets and puts; a forged probe counts for nothing.

use qis_core::constants::{PROBE_NONCE_BYTES, PROTOCOL_VERSION, REACH_WAIT};
use qis_core::wire::{self, Auth, Body, Header, Message, NetworkId, ProbeNonce, Role, TxId};
use qis_core::{Config, Duration, Id, OpResult, RecordKind, SignedRecord, SimAddr, Verdict};
use qis_sim::TestNet;

/// A network of `n` full nodes joined through node 0.
fn network(seed: u64, n: usize) -> TestNet {
    let mut net = TestNet::new(seed);
    net.add_joined_nodes(n, &Config::default());
    net
}

fn auto() -> Config {
    Config {
        auto_role: true,
        ..Config::default()
    }
}

/// Adds an automatic-role node, joins it through node 0 and lets its first check finish.
fn join_auto(net: &mut TestNet, behind_nat: bool) -> SimAddr {
    let addr = net.add_node(auto());
    if behind_nat {
        net.put_behind_nat(addr);
    }
    assert_eq!(
        net.node(addr).role(),
        Role::Client,
        "a client until the verdict"
    );
    let op = net.command(addr, |node, now| node.bootstrap(now, &[SimAddr(0)]));
    let joined = net.run_until_finished(addr, op, Duration::from_secs(60));
    assert!(matches!(joined, Some(OpResult::Bootstrap(_))));
    net.advance(REACH_WAIT + Duration::from_secs(1));
    addr
}

/// Nodes other than `addr` whose routing table holds `addr`'s id.
fn tables_holding(net: &TestNet, addr: SimAddr) -> usize {
    let id = net.node(addr).id();
    (0..net.len() as u32)
        .map(SimAddr)
        .filter(|&other| other != addr && net.node(other).table().get(&id).is_some())
        .count()
}

#[test]
fn a_reachable_node_becomes_a_full_node_and_enters_tables() {
    let mut net = network(1, 12);
    let addr = join_auto(&mut net, false);
    let report = net.node(addr).reachability().expect("automatic role");
    assert_eq!(report.verdict, Verdict::Reachable);
    assert_eq!(net.node(addr).role(), Role::Node);
    assert_eq!(report.checks, 1);
    assert_eq!(report.last_asked, 3, "three peers asked");
    assert!(report.last_probes >= 2, "{report:?}");
    assert_eq!(report.external, Some(addr));
    // Announced by its own-id lookup once full: the nodes closest to it verify and admit it.
    net.advance(Duration::from_secs(10));
    assert!(
        tables_holding(&net, addr) >= 3,
        "{}",
        tables_holding(&net, addr)
    );
}

#[test]
fn a_node_behind_a_nat_stays_a_client_in_nobody_s_table_and_still_puts_and_gets() {
    let mut net = network(2, 12);
    let natted = join_auto(&mut net, true);
    let report = net.node(natted).reachability().expect("automatic role");
    assert_eq!(report.verdict, Verdict::Unreachable, "{report:?}");
    assert_eq!(report.last_probes, 0);
    assert_eq!(net.node(natted).role(), Role::Client);
    assert!(net.counts().filtered >= 3, "the probes were filtered");
    // Hours pass: rechecks, refreshes and re-replication never put it in a table.
    net.advance(Duration::from_secs(3 * 3600));
    assert_eq!(tables_holding(&net, natted), 0);
    let report = net.node(natted).reachability().unwrap();
    assert!(report.checks >= 4, "rechecked every 30 min: {report:?}");
    assert_eq!(report.verdict, Verdict::Unreachable);

    let identity = net.identity(natted).clone();
    let record = SignedRecord::sign(
        identity.signing_key(),
        RecordKind::Raw,
        7,
        b"behind nat".to_vec(),
    )
    .unwrap();
    let key = Id::hash(b"reachability key");
    let op = net.command(natted, |node, now| node.put(now, key, record.clone()));
    let Some(OpResult::Put(put)) = net.run_until_finished(natted, op, Duration::from_secs(60))
    else {
        panic!("the put finishes");
    };
    assert!(put.acks >= 10, "stored at {} nodes", put.acks);
    let op = net.command(natted, |node, now| node.get(now, key));
    let Some(OpResult::Get(got)) = net.run_until_finished(natted, op, Duration::from_secs(60))
    else {
        panic!("the get finishes");
    };
    assert_eq!(got.records, vec![record]);
}

#[test]
fn a_probe_nobody_asked_for_is_dropped_and_changes_nothing() {
    let mut net = network(3, 6);
    let natted = join_auto(&mut net, true);
    let before = net.node(natted).metrics().dropped_probe;
    let forged = Message::<SimAddr> {
        header: Header {
            version: PROTOCOL_VERSION,
            network: NetworkId::MAIN,
            txid: TxId(0),
            sender: Id::hash(b"liar"),
            role: Role::Client,
            auth: Auth::None,
        },
        body: Body::Probe {
            nonce: ProbeNonce([9; PROBE_NONCE_BYTES]),
        },
    };
    // From a node the natted one talks to, so its NAT lets the probe in.
    net.inject(SimAddr(0), natted, wire::encode(&forged).unwrap());
    net.advance(Duration::from_secs(1));
    assert_eq!(net.node(natted).metrics().dropped_probe, before + 1);
    assert_eq!(net.node(natted).role(), Role::Client);
}

#[test]
fn a_fixed_role_reports_no_reachability_and_sends_no_checks() {
    let mut net = network(4, 6);
    assert!(net.node(SimAddr(3)).reachability().is_none());
    net.advance(Duration::from_secs(600));
    assert_eq!(net.node(SimAddr(3)).metrics().reach_checks, 0);
}
