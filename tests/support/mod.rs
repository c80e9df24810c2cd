//! Helpers shared by the tests that run real `qis` processes (each test file includes this
//! with `mod support;`; not every file uses every helper).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// A fresh, empty scratch directory for one test: `<tmp>/qis-<suite>-<pid>-<name>`.
pub(crate) fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qis-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// The lines `child` writes on its piped stderr, read by a thread until the pipe closes.
pub(crate) fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// The `qis` binary under test, with `home` as its data home, no `RUST_LOG` from the caller's
/// environment and nothing on stdin; the caller adds the arguments and output handling.
pub(crate) fn qis(home: impl AsRef<Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qis"));
    command
        .env("QIS_HOME", home.as_ref())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// A `qis node` child on loopback, killed and reaped when dropped. It keeps the lines of its
/// log, so the thread reading its stderr keeps reading and the node never writes to a closed
/// pipe.
pub(crate) struct LoopbackNode {
    child: Child,
    _log: mpsc::Receiver<String>,
    /// The address it listens on.
    pub(crate) addr: String,
}

impl Drop for LoopbackNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a `qis node` of `network` on an ephemeral loopback port (no id work, no status
/// lines) with data home `home`, and waits (at most 30 s) for its address.
pub(crate) fn loopback_node(home: &Path, network: &str) -> LoopbackNode {
    let mut child = qis(home)
        .args(["node", "--listen", "127.0.0.1:0", "--network", network])
        .args(["--id-difficulty", "0", "--status-every", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qis node");
    let lines = stderr_lines(&mut child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
        {
            let addr = addr.to_string();
            return LoopbackNode {
                child,
                _log: lines,
                addr,
            };
        }
    }
    let _ = child.kill();
    panic!("the node did not start");
}
