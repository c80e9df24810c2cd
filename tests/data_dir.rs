//! The data directory of real `qis node` processes on loopback: locked against a second node,
//! untouched by a listen that fails, never a shared `node-0` for port 0, and accepted again
//! after a `kill -9` at any point of a first start.

mod support;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a node may take to start.
const START: Duration = Duration::from_secs(30);

fn scratch(name: &str) -> PathBuf {
    support::scratch("data-dir", name)
}

/// A `qis node` child, killed (and reaped) when dropped, so no test leaves one running.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn spawn(home: &Path, args: &[&str]) -> Node {
        let mut child = support::qis(home)
            .arg("node")
            .args(args)
            .args(["--status-every", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qis node");
        let lines = support::stderr_lines(&mut child);
        Node { child, lines }
    }

    /// The first stderr line matching `want`, within [`START`]; panics (the node is killed
    /// on drop) with what was seen otherwise.
    fn wait_for(&self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + START;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no such line; the node wrote: {seen:#?}");
    }

    /// The `field=value` of the "node started" line.
    fn started(&self, field: &str) -> String {
        let line = self.wait_for(|l| l.contains("node started"));
        let prefix = format!("{field}=");
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {field} in {line:?}"))
            .to_string()
    }

    /// Waits (bounded) for the process to exit by itself; its status and stderr.
    fn exit(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + START;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the node did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends with the pipe; collect what it read.
        let mut text = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            text.push_str(&line);
            text.push('\n');
        }
        (status.code(), text)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_second_node_on_the_same_data_dir_refuses_naming_the_first() {
    let home = scratch("lock");
    let dir = home.join("shared");
    let dir_arg = dir.to_str().unwrap();
    let first = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
    let id = first.started("id");
    let second = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
    let (code, stderr) = second.exit();
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "qis: error: {} is in use by another qis node (pid {})",
        dir.display(),
        first.pid()
    );
    assert!(
        stderr.lines().any(|l| l == expected),
        "want {expected:?}, got {stderr}"
    );
    // The first still runs, with its id, and after it stops the directory is free again.
    drop(first);
    let again = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
    assert_eq!(again.started("id"), id);
    drop(again);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_listen_that_fails_leaves_no_key_behind() {
    let home = scratch("listen");
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let dir = home.join("explicit");
    let node = Node::spawn(
        &home,
        &["--listen", &listen, "--data-dir", dir.to_str().unwrap()],
    );
    let (code, stderr) = node.exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("qis: error: cannot listen on {listen}")),
        "{stderr}"
    );
    assert!(!dir.join("node.key").exists());
    // Nor with the default data directory.
    let node = Node::spawn(&home, &["--listen", &listen]);
    let (code, stderr) = node.exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!home.join(format!("node-{port}")).exists());
    drop(taken);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn port_0_nodes_get_a_data_dir_each() {
    let home = scratch("port0");
    let a = Node::spawn(&home, &["--listen", "127.0.0.1:0"]);
    let b = Node::spawn(&home, &["--listen", "127.0.0.1:0"]);
    let a_dir = a.started("data_dir");
    let b_dir = b.started("data_dir");
    assert_ne!(a_dir, b_dir);
    assert!(
        a_dir.starts_with(home.join("node-").to_str().unwrap()),
        "{a_dir}"
    );
    assert!(!home.join("node-0").exists());
    drop((a, b));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_node_killed_during_its_first_start_leaves_a_directory_the_next_start_accepts() {
    use rand::RngExt;
    let home = scratch("kill");
    let mut rng = rand::rng();
    for round in 0..6u64 {
        let dir = home.join(format!("round-{round}"));
        let dir_arg = dir.to_str().unwrap();
        let delay = Duration::from_millis(round * 10 + rng.random_range(0..20));
        let mut victim = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
        std::thread::sleep(delay);
        // SIGKILL.
        let _ = victim.child.kill();
        let _ = victim.child.wait();
        drop(victim);
        let next = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
        let id = next.started("id");
        drop(next);
        let after = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
        assert_eq!(
            after.started("id"),
            id,
            "round {round}, killed after {delay:?}"
        );
        drop(after);
        let temporaries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(temporaries.is_empty(), "{temporaries:?}");
    }
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_zero_byte_node_key_and_stale_temporaries_from_an_older_qis_are_replaced_at_start() {
    let home = scratch("zero");
    let dir = home.join("node");
    std::fs::create_dir_all(dir.join("published")).unwrap();
    std::fs::write(dir.join("node.key"), b"").unwrap();
    std::fs::write(dir.join(".node.key.tmp-1-0"), b"half").unwrap();
    std::fs::write(dir.join("node.key.tmp"), b"half").unwrap();
    std::fs::write(dir.join("published").join("x.tmp"), b"half").unwrap();
    let dir_arg = dir.to_str().unwrap();
    let node = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
    let warning = node.wait_for(|l| l.contains("WARN") && l.contains("node key file"));
    assert!(warning.contains("the node gets a new id"), "{warning}");
    assert!(warning.contains("(empty;"), "{warning}");
    let id = node.started("id");
    drop(node);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    // The journal of held records beside the key, and the control socket of `qis status`,
    // left behind by the kill that ended the node (see the README's Operating a node).
    assert_eq!(names[..4], ["control.sock", "held.log", "lock", "node.key"]);
    assert!(names[4].starts_with("node.key.broken-"), "{names:?}");
    assert_eq!(names[5], "published");
    assert_eq!(std::fs::read_dir(dir.join("published")).unwrap().count(), 0);
    let again = Node::spawn(&home, &["--listen", "127.0.0.1:0", "--data-dir", dir_arg]);
    assert_eq!(again.started("id"), id);
    drop(again);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_zero_byte_signing_key_is_refused_and_kept() {
    let home = scratch("signer");
    let dir = home.join("client");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("node.key"), b"").unwrap();
    // Port 9 (discard): nothing is sent anyway, the key is read first.
    let output = support::qis(&home)
        .args(["put", "--bootstrap", "127.0.0.1:9", "--data-dir"])
        .arg(&dir)
        .args(["k", "v"])
        .output()
        .expect("run qis put");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "qis: error: {}: the publisher key file is damaged (empty) and was left as it is; restore it from a backup, or move it away to start a new publisher identity (records signed with the old key stay under the old id)",
        dir.join("node.key").display()
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    assert_eq!(std::fs::read(dir.join("node.key")).unwrap(), b"");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let _ = std::fs::remove_dir_all(&home);
}
