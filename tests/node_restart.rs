//! A `qis node` keeps the records it holds for others across restarts: killed with SIGKILL
//! at random points while a client stores records on it, it comes back with the same id and
//! every record it acknowledged (its journal is synced before any acknowledgement leaves); and
//! a `qis publish` killed at random points leaves its key and `published/` files whole, and the
//! next publish succeeds. Real processes on loopback, a named test network (raw values are
//! stored there).

mod support;

use qis_core::wire::{NetworkId, Role};
use qis_core::{Config, Credentials, Difficulty, Id, IdentityScheme, RecordKind, SignedRecord};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The test network's name: its nodes store raw values.
const NETWORK: &str = "restart-test";

/// Cheap ids: the test is about the journal, not id work.
const DIFFICULTY: u8 = 0;

/// How long a node may take to start, and a client command to finish.
const LIMIT: Duration = Duration::from_secs(30);

/// Kill-and-restart rounds.
const ROUNDS: u64 = 4;

/// Most records stored per round.
const PUTS_PER_ROUND: u64 = 1_000;

/// A `qis node` child, killed and reaped when dropped.
struct NodeProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    fn start(home: &Path, listen: SocketAddr, data_dir: &Path) -> NodeProcess {
        let mut child = support::qis(home)
            .env("RUST_LOG", "info")
            .args(["node", "--listen", &listen.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(["--network", NETWORK])
            .args(["--id-difficulty", &DIFFICULTY.to_string()])
            .args(["--status-every", "0", "--no-rate-limit"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qis node");
        let lines = support::stderr_lines(&mut child);
        NodeProcess { child, lines }
    }

    /// The first stderr line containing `want`, within [`LIMIT`].
    fn wait_for(&self, want: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(want) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {want:?}; the node wrote: {seen:#?}");
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `field=value` of a log line.
fn field(line: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        .trim_matches('"')
        .to_string()
}

/// A client of the test network, joined through `node`.
async fn client(node: SocketAddr) -> NodeHandle {
    let scheme = IdentityScheme::Real {
        difficulty: Difficulty::new(DIFFICULTY).unwrap(),
    };
    let identity = qis_udp::generate_identity().unwrap();
    let config = Config {
        network: NetworkId::from_name(NETWORK).unwrap(),
        role: Role::Client,
        rate_limit: None,
        join_refresh: false,
        ..Config::default()
    };
    let options = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        config,
        socket: SocketOptions::default(),
    };
    let client = qis_udp::spawn(&Credentials::client(&identity, scheme), options)
        .await
        .unwrap();
    let joined = tokio::time::timeout(LIMIT, client.bootstrap(vec![node]))
        .await
        .expect("bootstrap in time")
        .unwrap();
    assert_eq!(joined.bootstrap_answered, 1);
    client
}

fn record(n: u64) -> (Id, SignedRecord) {
    // A publisher per record: one publisher may hold only a small share of a node's store.
    let mut secret = [7; 32];
    secret[..8].copy_from_slice(&n.to_le_bytes());
    let publisher = qis_core::Identity::from_secret_key(secret);
    let key = Id::hash(format!("restart-key-{n}").as_bytes());
    let record = SignedRecord::sign(
        publisher.signing_key(),
        RecordKind::Raw,
        1_700_000_000,
        format!("value {n}").into_bytes(),
    )
    .unwrap();
    (key, record)
}

/// Stores records one after another on the node until `stop`, returning those acknowledged.
async fn put_until(client: &NodeHandle, first: u64, stop: Instant) -> Vec<u64> {
    let mut acknowledged = Vec::new();
    let mut n = first;
    // At most PUTS_PER_ROUND: every store comes from one source prefix, which may fill only
    // a share of the node's store (ROUNDS × PUTS_PER_ROUND stays below it).
    while Instant::now() < stop && n < first + PUTS_PER_ROUND {
        let (key, record) = record(n);
        if let Ok(Ok(report)) = tokio::time::timeout(LIMIT, client.put(key, record)).await
            && report.acks > 0
        {
            acknowledged.push(n);
        }
        n += 1;
    }
    acknowledged
}

#[test]
fn a_node_killed_while_storing_comes_back_with_every_record_it_acknowledged() {
    use rand::RngExt;
    let home = support::scratch("node-restart", "kill");
    let data_dir = home.join("node");
    // A fixed port, so the restarted node is at the same address.
    let listen = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut rng = rand::rng();
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut id = None;
    for round in 0..=ROUNDS {
        let mut node = NodeProcess::start(&home, listen, &data_dir);
        let started = node.wait_for("node started");
        let this_id = field(&started, "id");
        assert_eq!(id.get_or_insert(this_id.clone()), &this_id, "round {round}");
        let client = runtime.block_on(client(listen));
        // Everything acknowledged before the last kill is there.
        runtime.block_on(async {
            for &n in &acknowledged {
                let (key, record) = record(n);
                let got = tokio::time::timeout(LIMIT, client.get(key))
                    .await
                    .expect("get in time")
                    .unwrap();
                assert!(
                    got.records.contains(&record),
                    "round {round}: record {n}, acknowledged before the kill, is gone"
                );
            }
        });
        if round == ROUNDS {
            runtime.block_on(client.shutdown());
            break;
        }
        // Store more, and kill the node (SIGKILL) at a random moment meanwhile.
        let kill_after = Duration::from_millis(rng.random_range(100..500));
        // Each round's records are numbered apart from the others'.
        let first = round * 10_000;
        let stop = Instant::now() + kill_after + Duration::from_millis(200);
        let stored = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(kill_after);
                let _ = node.child.kill();
                let _ = node.child.wait();
            });
            runtime.block_on(put_until(&client, first, stop))
        });
        assert!(
            !stored.is_empty(),
            "round {round}: nothing acknowledged in {kill_after:?}"
        );
        assert!(
            stored.len() < PUTS_PER_ROUND as usize,
            "round {round}: the kill came after the last put"
        );
        acknowledged.extend(stored);
        runtime.block_on(client.shutdown());
        node.kill();
    }
    assert!(acknowledged.len() >= ROUNDS as usize);
    drop(runtime);
    let _ = std::fs::remove_dir_all(&home);
}

/// `qis publish` at `dir`, through the node at `node`.
fn publish_command(
    home: &Path,
    packet: &Path,
    node: SocketAddr,
    dir: &Path,
) -> std::process::Command {
    let mut command = support::qis(home);
    command
        .arg("publish")
        .arg(packet)
        .args(["--bootstrap", &node.to_string(), "--network", NETWORK])
        .args(["--id-difficulty", &DIFFICULTY.to_string(), "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn a_publish_killed_at_any_point_leaves_a_data_dir_the_next_publish_accepts() {
    use rand::RngExt;
    let home = support::scratch("node-restart", "publish");
    let listen = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let node = NodeProcess::start(&home, listen, &home.join("node"));
    node.wait_for("node started");
    let packet = home.join("medqa.toml");
    let made = support::qis(&home)
        .args(["packet", "from-run"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/runs/qlora-llama3-medqa"
        ))
        .args(["--task", "medical-qa", "--tag", "medicine,english", "-o"])
        .arg(&packet)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let dir = home.join("publisher");
    let mut rng = rand::rng();
    for round in 0..8u64 {
        let delay = Duration::from_millis(round * 25 + rng.random_range(0..25));
        let mut publishing = publish_command(&home, &packet, listen, &dir)
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL.
        let _ = publishing.kill();
        let _ = publishing.wait();
        // Whatever the moment: every published file whole, the key either absent or whole.
        let (entries, bad) = qis_udp::PublishedDir::in_data_dir(&dir).load_all();
        assert!(
            bad.is_empty(),
            "round {round}, killed after {delay:?}: {bad:?}"
        );
        assert!(entries.len() <= round as usize + 1);
        if dir.join(qis_udp::KEY_FILE).exists() {
            qis_udp::load_or_create_identity(&dir, qis_udp::KeyRole::Publisher)
                .unwrap_or_else(|e| panic!("round {round}, killed after {delay:?}: {e}"));
        }
    }
    let finished = publish_command(&home, &packet, listen, &dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&finished.stdout);
    assert!(
        finished.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    assert!(out.contains("verified at 1 nodes"), "{out}");
    let temporaries: Vec<_> = std::fs::read_dir(dir.join(qis_udp::PUBLISHED_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
    drop(node);
    let _ = std::fs::remove_dir_all(&home);
}
