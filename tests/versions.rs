//! What a user sees when the other side runs another network or protocol version: the `qis`
//! command against a real `qis node` on loopback.

mod support;

use qis_core::constants::PROTOCOL_VERSION;
use qis_core::wire::NetworkId;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest wait for one expected log line (a failure bound, not a measurement).
const PATIENCE: Duration = Duration::from_secs(20);

fn scratch(name: &str) -> PathBuf {
    support::scratch("versions", name)
}

fn id(name: &str) -> NetworkId {
    NetworkId::from_name(name).unwrap()
}

/// A `qis node` child process, killed when dropped, and its stderr lines.
struct NodeProcess {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
    home: PathBuf,
}

impl NodeProcess {
    fn start(name: &str, network: &str) -> NodeProcess {
        NodeProcess::start_with(name, network, &[])
    }

    fn start_with(name: &str, network: &str, extra: &[&str]) -> NodeProcess {
        let home = scratch(name);
        let mut child = support::qis(&home)
            .args(["node", "--listen", "127.0.0.1:0", "--status-every", "0"])
            .args(["--network", network])
            .args(extra)
            .arg("--data-dir")
            .arg(home.join("node"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qis node");
        let lines = support::stderr_lines(&mut child);
        let mut node = NodeProcess {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            home,
        };
        let started = node.wait_for(|l| l.contains("node started"));
        let addr = started
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .expect("the node logs its address");
        node.addr = addr.parse().unwrap();
        node
    }

    /// The next stderr line that satisfies `wanted`; the lines before it go to `skipped`.
    fn wait_for_noting(&self, wanted: impl Fn(&str) -> bool, skipped: &mut Vec<String>) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("no such line from the node; saw {skipped:?}"));
            if wanted(&line) {
                return line;
            }
            skipped.push(line);
        }
    }

    fn wait_for(&self, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for_noting(wanted, &mut Vec::new())
    }

    /// Runs a `qis` client command against this node's data home.
    fn qis(&self, args: &[&str]) -> Output {
        support::qis(&self.home)
            .args(args)
            .output()
            .expect("run qis")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_client_of_another_network_is_told_so() {
    let node = NodeProcess::start("network", "a");
    let addr = node.addr.to_string();
    let expected = format!(
        "qis: error: {addr} runs another network (id {}, we use \"b\" = {}) — check --network\n",
        id("a"),
        id("b")
    );
    let ping = node.qis(&["ping", &addr, "--network", "b"]);
    assert_eq!(ping.status.code(), Some(1));
    assert_eq!(stderr(&ping), expected);
    let get = node.qis(&["get", "some-key", "--bootstrap", &addr, "--network", "b"]);
    assert_eq!(get.status.code(), Some(1));
    assert_eq!(stderr(&get), expected);
    let query = node.qis(&[
        "query",
        "--task",
        "summarization",
        "--bootstrap",
        &addr,
        "--network",
        "b",
    ]);
    assert_eq!(query.status.code(), Some(1));
    assert_eq!(stderr(&query), expected);
    // The node logged the stranger too, once per client address.
    let logged = node.wait_for(|l| l.contains("runs another network"));
    assert!(
        logged.contains(&format!(
            "runs another network (id {}), we run {}",
            id("b"),
            id("a")
        )),
        "{logged}"
    );
}

/// A node whose ids cost less than the client requires answers, but its proof is refused:
/// the client says so instead of "did not answer".
#[test]
fn a_client_of_a_higher_id_difficulty_is_told_why_the_answers_do_not_count() {
    let node = NodeProcess::start_with("difficulty", "cheap", &["--id-difficulty", "0"]);
    let addr = node.addr.to_string();
    // The most a network may ask (24 bits): the node's unsolved work meets it once in 2^24.
    let ping = node.qis(&[
        "ping",
        &addr,
        "--network",
        "cheap",
        "--id-difficulty",
        "24",
        "--timeout",
        "5",
    ]);
    assert_eq!(ping.status.code(), Some(1));
    let text = stderr(&ping);
    assert!(
        text.contains("without a valid identity proof for --id-difficulty 24"),
        "{text}"
    );
    assert!(text.contains("lower --id-difficulty"), "{text}");
    // The same difficulty on both sides works.
    let ping = node.qis(&["ping", &addr, "--network", "cheap", "--id-difficulty", "0"]);
    assert_eq!(ping.status.code(), Some(0), "{}", stderr(&ping));
}

#[test]
fn a_datagram_of_another_version_is_logged_once_per_address() {
    let node = NodeProcess::start("version", "a");
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let second = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut datagram = vec![PROTOCOL_VERSION + 1];
    datagram.extend_from_slice(&[0; 40]);
    first.send_to(&datagram, node.addr).unwrap();
    first.send_to(&datagram, node.addr).unwrap();
    let expected = |from: &UdpSocket| {
        format!(
            "{} speaks protocol version {}, we speak {PROTOCOL_VERSION}: its datagrams are dropped",
            from.local_addr().unwrap(),
            PROTOCOL_VERSION + 1
        )
    };
    let line = node.wait_for(|l| l.contains(&expected(&first)));
    assert!(line.contains("WARN"), "{line}");
    // The node handles datagrams in order: by the time the second address is logged, a
    // second line for the first address would have come before it.
    second.send_to(&datagram, node.addr).unwrap();
    let mut between = Vec::new();
    node.wait_for_noting(|l| l.contains(&expected(&second)), &mut between);
    assert!(
        between.iter().all(|l| !l.contains("protocol version")),
        "{between:?}"
    );
}

#[test]
fn network_names_are_case_insensitive_and_an_empty_one_is_refused() {
    let node = NodeProcess::start("names", "Test-Net");
    let addr = node.addr.to_string();
    let ping = node.qis(&["ping", &addr, "--network", "test-net"]);
    assert_eq!(ping.status.code(), Some(0), "{}", stderr(&ping));
    let empty = node.qis(&["ping", &addr, "--network", ""]);
    assert_eq!(empty.status.code(), Some(2));
    assert_eq!(
        stderr(&empty),
        "qis: error: --network \"\": a network name must not be empty\n"
    );
    let spaced = node.qis(&["get", "k", "--bootstrap", &addr, "--network", "test net"]);
    assert_eq!(spaced.status.code(), Some(2));
    assert_eq!(stderr(&spaced).lines().count(), 1, "{}", stderr(&spaced));
    assert!(stderr(&spaced).contains("character ' ' is not allowed"));
}

/// A stand-in for a node of the next protocol version: it answers each of the first
/// `answers` datagrams it gets with a datagram whose version byte is one higher than ours.
fn newer_node(answers: usize) -> (SocketAddr, std::thread::JoinHandle<usize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let addr = socket.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut answered = 0;
        while answered < answers {
            let Ok((_, from)) = socket.recv_from(&mut buf) else {
                break;
            };
            let mut reply = vec![PROTOCOL_VERSION + 1];
            reply.extend_from_slice(&[0; 40]);
            socket.send_to(&reply, from).unwrap();
            answered += 1;
        }
        answered
    });
    (addr, thread)
}

#[test]
fn a_node_of_a_newer_version_is_named_in_the_error() {
    let home = scratch("newer");
    let (addr, newer) = newer_node(1);
    let ping = support::qis(&home)
        .args(["ping", &addr.to_string()])
        .output()
        .expect("run qis");
    assert_eq!(newer.join().unwrap(), 1);
    assert_eq!(ping.status.code(), Some(1));
    assert_eq!(
        stderr(&ping),
        format!(
            "qis: error: {addr} speaks protocol version {}, we speak {PROTOCOL_VERSION} — it runs a newer qis; upgrade this one\n",
            PROTOCOL_VERSION + 1
        )
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn the_main_network_stores_outcome_packets_only_and_a_named_network_raw_values_too() {
    let main = NodeProcess::start("kinds-main", "main");
    let addr = main.addr.to_string();
    let put = main.qis(&["put", "--bootstrap", &addr, "greeting", "hello"]);
    assert_eq!(put.status.code(), Some(1), "{}", stderr(&put));
    assert_eq!(stderr(&put), "qis: error: no node stored the value\n");
    let demo = NodeProcess::start("kinds-demo", "demo");
    let addr = demo.addr.to_string();
    let put = demo.qis(&[
        "put",
        "--bootstrap",
        &addr,
        "--network",
        "demo",
        "greeting",
        "hello",
    ]);
    assert_eq!(put.status.code(), Some(0), "{}", stderr(&put));
    let get = demo.qis(&["get", "--bootstrap", &addr, "--network", "demo", "greeting"]);
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "hello");
}
