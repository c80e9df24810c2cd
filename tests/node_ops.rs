//! Operating a `qis node`: SIGTERM and SIGINT stop it cleanly (exit 0, a final status line,
//! held records kept across the restart), `qis status` reads a running node through its
//! control socket, `--config` files apply with flags winning and are refused with one line
//! naming the key, `--listen` takes a host name, every address of a bootstrap name is asked,
//! and the systemd unit passes `systemd-analyze verify`. Real processes on loopback only.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The test network: raw values are stored there, and ids cost nothing.
const NETWORK: &str = "ops-test";

/// How long a node may take to start or stop, and a command to finish.
const LIMIT: Duration = Duration::from_secs(30);

/// A `qis node` child, killed and reaped when dropped.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Node {
    /// `qis node` with `args`, logging at info.
    fn start(home: &Path, args: &[&str]) -> Node {
        Node::start_with(support::qis(home), args)
    }

    fn start_with(mut command: std::process::Command, args: &[&str]) -> Node {
        let mut child = command
            .env("RUST_LOG", "info")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qis node");
        let lines = support::stderr_lines(&mut child);
        Node {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line not yet read that contains `want`, within [`LIMIT`].
    fn wait_for(&mut self, want: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(want) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {want:?}; the node wrote: {:#?}", self.seen);
    }

    /// Sends `signal` (a `kill` name: TERM, INT, KILL) and waits for the exit, within [`LIMIT`].
    fn signal(&mut self, signal: &str) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not exit within {LIMIT:?} of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
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

/// The common flags of a test node at `data_dir`.
fn node_args(data_dir: &Path) -> Vec<String> {
    [
        "node",
        "--listen",
        "127.0.0.1:0",
        "--network",
        NETWORK,
        "--id-difficulty",
        "0",
        "--status-every",
        "0",
        "--data-dir",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([data_dir.display().to_string()])
    .collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `qis status --data-dir DIR [--json]`.
fn status(home: &Path, data_dir: &Path, json: bool) -> Output {
    let mut command = support::qis(home);
    command.arg("status").arg("--data-dir").arg(data_dir);
    if json {
        command.arg("--json");
    }
    command.output().expect("run qis status")
}

/// The JSON report of the node at `data_dir`.
fn status_json(home: &Path, data_dir: &Path) -> serde_json::Value {
    let out = status(home, data_dir, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sigterm_and_sigint_stop_a_node_cleanly_and_a_restart_keeps_its_records() {
    let home = support::scratch("node-ops", "signals");
    let data_dir = home.join("node");
    let mut node = Node::start(&home, &strs(&node_args(&data_dir)));
    let started = node.wait_for("node started");
    let addr = field(&started, "addr");
    let id = field(&started, "id");
    const RECORDS: usize = 5;
    for n in 0..RECORDS {
        let put = support::qis(&home)
            .args(["put", "--bootstrap", &addr, "--network", NETWORK])
            .args(["--id-difficulty", "0", &format!("ops-key-{n}"), "a value"])
            .output()
            .unwrap();
        assert!(put.status.success(), "{}", stderr(&put));
    }
    let report = status_json(&home, &data_dir);
    assert_eq!(report["format"], 1);
    assert_eq!(report["id"], id.as_str());
    assert_eq!(report["role"], "node");
    assert_eq!(report["addr"], addr.as_str());
    assert_eq!(report["network"], NETWORK);
    assert_eq!(report["records"], RECORDS);
    assert!(report["dropped"].is_u64() && report["dropped_by_reason"]["malformed"].is_u64());
    let text = status(&home, &data_dir, false);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with(&format!("node {id}\n  role      node\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("records   {RECORDS} held for others")),
        "{text}"
    );

    // SIGTERM: exit 0, the signal named, a final status line, the control socket gone.
    let exit = node.signal("TERM");
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    node.wait_for("SIGTERM: shutting down");
    let last = node.wait_for("stopped: journal synced");
    assert_eq!(field(&last, "records"), RECORDS.to_string(), "{last}");
    assert_eq!(field(&last, "journal_failures"), "0", "{last}");
    drop(node);
    let gone = status(&home, &data_dir, false);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).contains("no node runs at") && stderr(&gone).contains("no control socket"),
        "{}",
        stderr(&gone)
    );

    // The restart takes back every record, and SIGINT stops it as cleanly.
    let mut node = Node::start(&home, &strs(&node_args(&data_dir)));
    let took = node.wait_for("took back the records held before the restart");
    assert_eq!(field(&took, "restored"), RECORDS.to_string(), "{took}");
    assert_eq!(field(&node.wait_for("node started"), "id"), id);
    assert_eq!(status_json(&home, &data_dir)["records"], RECORDS);
    let exit = node.signal("INT");
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    node.wait_for("SIGINT: shutting down");
    let last = node.wait_for("stopped: journal synced");
    assert_eq!(field(&last, "records"), RECORDS.to_string(), "{last}");
    drop(node);

    // A node killed outright leaves its socket behind: status says so.
    let mut node = Node::start(&home, &strs(&node_args(&data_dir)));
    node.wait_for("node started");
    node.signal("KILL");
    let stale = status(&home, &data_dir, false);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("left by a node that was killed"),
        "{}",
        stderr(&stale)
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn sigterm_during_the_id_work_stops_the_node_at_once() {
    let home = support::scratch("node-ops", "starting");
    let mut args = node_args(&home.join("node"));
    // 2^24 Argon2id evaluations on average: far longer than the test waits.
    args[6] = "24".to_string();
    let mut node = Node::start(&home, &strs(&args));
    node.wait_for("solving the node's id work");
    assert_eq!(node.signal("TERM").code(), Some(0));
    node.wait_for("SIGTERM while loading the node key or solving its id work");
    // The key was written before the work began; the work starts over at the next start.
    assert!(home.join("node").join("node.key").exists());
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn status_without_a_node_says_so() {
    let home = support::scratch("node-ops", "no-node");
    let out = support::qis(&home).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("qis: error: no node runs under"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_config_file_applies_and_flags_win_over_it() {
    let home = support::scratch("node-ops", "config");
    let file_dir = home.join("from-file");
    let flag_dir = home.join("from-flag");
    let config = home.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:9\"\nnetwork = \"ops-config\"\nid-difficulty = 0\nstatus-every = 0\ndata-dir = {:?}\n",
            file_dir.display().to_string()
        ),
    )
    .unwrap();
    // --listen with a host name, and --data-dir, given as flags: they win.
    let mut node = Node::start(
        &home,
        &[
            "node",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "localhost:0",
            "--data-dir",
            flag_dir.to_str().unwrap(),
        ],
    );
    let started = node.wait_for("node started");
    let addr = field(&started, "addr");
    assert!(
        addr.starts_with("127.0.0.1:") && addr != "127.0.0.1:9",
        "{started}"
    );
    assert_eq!(field(&started, "data_dir"), flag_dir.display().to_string());
    assert_eq!(field(&started, "network"), "ops-config");
    assert!(!file_dir.exists());
    assert_eq!(status_json(&home, &flag_dir)["network"], "ops-config");
    assert_eq!(node.signal("TERM").code(), Some(0));
    drop(node);

    // The example file of the systemd unit is a valid configuration.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/systemd/node.toml");
    let mut node = Node::start(
        &home,
        &[
            "node",
            "--config",
            example,
            "--listen",
            "127.0.0.1:0",
            "--network",
            NETWORK,
            "--id-difficulty",
            "0",
            "--data-dir",
            home.join("example").to_str().unwrap(),
        ],
    );
    node.wait_for("node started");
    assert_eq!(node.signal("TERM").code(), Some(0));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_bad_config_file_is_one_line_naming_the_key_and_exit_2() {
    let home = support::scratch("node-ops", "bad-config");
    let config = home.join("node.toml");
    let cases = [
        ("listne = \"127.0.0.1:0\"\n", "unknown key `listne`"),
        (
            "status-every = \"30\"\n",
            "status-every: expected an integer, found a string",
        ),
        ("metrics-public = true\n", "--metrics <ADDR>"),
        ("listen = \"127.0.0.1:0\n", "not valid TOML: line 1"),
    ];
    for (text, want) in cases {
        std::fs::write(&config, text).unwrap();
        let out = support::qis(&home)
            .args(["node", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{text}: {err}");
        assert!(
            err.starts_with(&format!("qis: error: --config {}: ", config.display())),
            "{err}"
        );
        assert!(err.contains(want), "{text}: {err}");
    }
    let out = support::qis(&home)
        .args([
            "node",
            "--config",
            home.join("absent.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read it"), "{}", stderr(&out));
    // Without --listen anywhere.
    std::fs::write(&config, "network = \"demo\"\n").unwrap();
    let out = support::qis(&home)
        .args(["node", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--listen HOST:PORT is required"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// Whether this process may make a mount namespace (root, with `unshare`).
fn can_unshare() -> bool {
    std::process::Command::new("unshare")
        .args(["--mount", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn every_address_of_a_bootstrap_name_is_asked() {
    if !can_unshare() {
        eprintln!(
            "SKIPPED: needs root and unshare(1) to give one node a hosts file of its own, where one name has two loopback addresses"
        );
        return;
    }
    let home = support::scratch("node-ops", "names");
    // Two nodes at one port of two loopback addresses, one name for both.
    let port = std::net::UdpSocket::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut seeds = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let mut args = node_args(&home.join(ip));
        args[2] = format!("{ip}:{port}");
        let mut seed = Node::start(&home, &strs(&args));
        seed.wait_for("node started");
        seeds.push(seed);
    }
    let hosts = home.join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.0.0.2 qis-seeds\n127.0.0.3 qis-seeds\n",
    )
    .unwrap();
    let mut unshare = std::process::Command::new("unshare");
    unshare
        .env("QIS_HOME", &home)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .args(["--mount", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /etc/hosts && exec \"$0\" \"$@\"",
            hosts.display()
        ))
        .arg(env!("CARGO_BIN_EXE_qis"));
    let mut args = node_args(&home.join("joiner"));
    args.extend(["--bootstrap".to_string(), format!("qis-seeds:{port}")]);
    let mut joiner = Node::start_with(unshare, &strs(&args));
    let joined = joiner.wait_for("joined the network");
    assert_eq!(field(&joined, "bootstrap_answered"), "2", "{joined}");
    assert_eq!(joiner.signal("TERM").code(), Some(0));
    drop(seeds);
    let _ = std::fs::remove_dir_all(&home);
}

/// The systemd unit with its `ExecStart` pointing at the binary under test (verify checks
/// that the command exists), in a scratch directory.
fn unit_under_test(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tools/systemd/qis-node.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/qis node --config /etc/qis/node.toml"));
    let path = dir.join("qis-node.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/qis", env!("CARGO_BIN_EXE_qis")),
    )
    .unwrap();
    path
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("SKIPPED: systemd-analyze not found (apt-get install systemd to check the unit)");
        return;
    };
    assert!(version.status.success());
    let dir = support::scratch("node-ops", "systemd");
    let unit = unit_under_test(&dir);
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    // An unknown or misspelt key is only a warning to verify: any output is a failure here.
    assert!(
        verify.status.success() && verify.stderr.is_empty() && verify.stdout.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        stderr(&verify)
    );
    // The sandbox's exposure score (0 is fully sandboxed, 10 not at all), where the tool
    // can judge a unit file offline (systemd 250 and later).
    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    match text
        .lines()
        .find_map(|l| l.split("qis-node.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse::<f64>().ok())
    {
        Some(score) => assert!(score <= 2.0, "exposure {score}: {text}"),
        None => eprintln!(
            "systemd-analyze security --offline gave no score: {}",
            stderr(&security)
        ),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
