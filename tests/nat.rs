//! Reachability behind a NAT, on real `qis node` processes in network namespaces this test
//! creates (needs root and `nft`; skips with a message otherwise).
//!
//! ```text
//!   public ns: 4 nodes on 10.1.0.1, 10.2.0.1, 10.3.0.1, 10.4.0.1 (distinct /24s), 10.9.0.2
//!        |  veth
//!   gateway ns: WAN 10.9.0.1 (masquerade: port-preserving, or random ports), LAN 192.168.7.1
//!        |  veth
//!   home ns: one node on 192.168.7.2, default route through the gateway
//! ```
//!
//! Every node starts with the default `--role auto`. The public nodes find each other
//! reachable and become full nodes; the home node, behind the NAT, decides it is unreachable,
//! stays a client, never enters a public node's table, and puts and gets from behind the NAT
//! still work. Then the gateway's WAN address changes (the kernel drops the masqueraded
//! flows: the NAT rebinds), and the home node's address watch notices and checks again.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NETWORK: &str = "nat-test";
const PUBLIC: [&str; 4] = ["10.1.0.1", "10.2.0.1", "10.3.0.1", "10.4.0.1"];
const HOME_ADDR: &str = "192.168.7.2";
const PORT: u16 = 4100;

/// Why the test cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    for tool in ["ip", "nft"] {
        let found = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!(
                "`{tool}` is not installed (.ci/run installs nftables)"
            ));
        }
    }
    None
}

/// Runs `program args` (in namespace `ns` if given); panics with its output if it fails.
fn run(ns: Option<&str>, program: &str, args: &[&str]) {
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    };
    let out = command.args(args).output().expect("run a setup command");
    assert!(
        out.status.success(),
        "{program} {args:?} in {ns:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The three namespaces, deleted on drop (with every process left in them).
struct Lab {
    prefix: String,
}

impl Lab {
    fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Builds the namespaces; `random_ports` makes the gateway a symmetric NAT (a random
    /// external port per flow) instead of a port-preserving one.
    fn create(random_ports: bool) -> Lab {
        let lab = Lab {
            prefix: format!(
                "qn{}{}-",
                std::process::id() % 100_000,
                u8::from(random_ports)
            ),
        };
        let (public, gateway, home) = (lab.ns("pub"), lab.ns("gw"), lab.ns("home"));
        for ns in [&public, &gateway, &home] {
            run(None, "ip", &["netns", "add", ns]);
            run(Some(ns), "ip", &["link", "set", "lo", "up"]);
        }
        run(
            None,
            "ip",
            &[
                "link", "add", "qnl0", "netns", &gateway, "type", "veth", "peer", "name", "qnl1",
                "netns", &home,
            ],
        );
        for addr in PUBLIC {
            let addr = format!("{addr}/32");
            run(Some(&public), "ip", &["addr", "add", &addr, "dev", "lo"]);
        }
        lab.wan_link("10.9.0.1");
        run(
            Some(&gateway),
            "ip",
            &["addr", "add", "192.168.7.1/24", "dev", "qnl0"],
        );
        run(Some(&gateway), "ip", &["link", "set", "qnl0", "up"]);
        run(Some(&gateway), "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        run(
            Some(&home),
            "ip",
            &["addr", "add", &format!("{HOME_ADDR}/24"), "dev", "qnl1"],
        );
        run(Some(&home), "ip", &["link", "set", "qnl1", "up"]);
        run(
            Some(&home),
            "ip",
            &["route", "add", "default", "via", "192.168.7.1"],
        );
        let masquerade = if random_ports {
            "masquerade random"
        } else {
            "masquerade"
        };
        let rules = format!(
            "table ip nat {{\n  chain post {{\n    type nat hook postrouting priority 100;\n    oifname \"qnw1\" {masquerade}\n  }}\n}}\n\
             table ip filter {{\n  chain lan_out {{\n    type filter hook forward priority 0; policy drop;\n    ct state established,related accept\n    iifname \"qnl0\" accept\n  }}\n}}\n"
        );
        let rules_file = std::env::temp_dir().join(format!("{}rules.nft", lab.prefix));
        std::fs::write(&rules_file, rules).expect("write the nft rules");
        run(Some(&gateway), "nft", &["-f", rules_file.to_str().unwrap()]);
        let _ = std::fs::remove_file(rules_file);
        lab
    }

    /// The NAT rebinds, as a home router does when its uplink reconnects: the WAN link goes
    /// away (the kernel forgets every flow masqueraded through it) and comes back with a new
    /// address, 10.9.0.5.
    fn rebind(&self) {
        run(Some(&self.ns("gw")), "ip", &["link", "del", "qnw1"]);
        self.wan_link("10.9.0.5");
    }

    /// The veth between the public namespace (10.9.0.2) and the gateway (`gateway_addr`).
    fn wan_link(&self, gateway_addr: &str) {
        let (public, gateway) = (self.ns("pub"), self.ns("gw"));
        run(
            None,
            "ip",
            &[
                "link", "add", "qnw0", "netns", &public, "type", "veth", "peer", "name", "qnw1",
                "netns", &gateway,
            ],
        );
        run(
            Some(&public),
            "ip",
            &["addr", "add", "10.9.0.2/24", "dev", "qnw0"],
        );
        run(Some(&public), "ip", &["link", "set", "qnw0", "up"]);
        run(
            Some(&gateway),
            "ip",
            &["addr", "add", &format!("{gateway_addr}/24"), "dev", "qnw1"],
        );
        run(Some(&gateway), "ip", &["link", "set", "qnw1", "up"]);
        run(
            Some(&gateway),
            "ip",
            &["route", "replace", "10.0.0.0/8", "via", "10.9.0.2"],
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in ["home", "gw", "pub"] {
            let ns = self.ns(name);
            // Processes first (the nodes are killed by their own guards; this catches strays).
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// A `qis node` in a namespace, killed when dropped; its log kept for failure messages.
struct NamespacedNode {
    child: Child,
    data_dir: PathBuf,
    log: std::sync::mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl NamespacedNode {
    fn start(home: &Path, ns: &str, listen: &str, bootstrap: Option<&str>, name: &str) -> Self {
        let data_dir = home.join(name);
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_qis"), "node"])
            .args([
                "--listen",
                listen,
                "--network",
                NETWORK,
                "--id-difficulty",
                "0",
            ])
            .args(["--status-every", "0", "--address-watch-s", "2"])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("QIS_HOME", home)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(bootstrap) = bootstrap {
            command.args(["--bootstrap", bootstrap]);
        }
        let mut child = command.spawn().expect("start qis node");
        let log = support::stderr_lines(&mut child);
        NamespacedNode {
            child,
            data_dir,
            log,
            lines: Vec::new(),
        }
    }

    /// Reads the log until a line contains every one of `words`, for at most `limit`.
    fn wait_for(&mut self, words: &[&str], limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        if let Some(line) = self
            .lines
            .iter()
            .find(|l| words.iter().all(|w| l.contains(w)))
        {
            return Some(line.clone());
        }
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.log.recv_timeout(left) else {
                return None;
            };
            self.lines.push(line.clone());
            if words.iter().all(|w| line.contains(w)) {
                return Some(line);
            }
        }
        None
    }

    /// `qis status --json` of this node.
    fn status(&self, home: &Path) -> serde_json::Value {
        let out: Output = support::qis(home)
            .arg("status")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--json")
            .output()
            .expect("run qis status");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("one JSON report")
    }
}

impl Drop for NamespacedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `qis put` or `qis get` as a client in namespace `ns`; its stdout, or a panic naming why.
fn client(home: &Path, ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_qis")])
        .args(args)
        .args([
            "--network",
            NETWORK,
            "--id-difficulty",
            "0",
            "--timeout",
            "20",
        ])
        .env("QIS_HOME", home)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run a qis client");
    assert!(
        out.status.success(),
        "qis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn behind_a_nat(random_ports: bool) {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let home = support::scratch("nat", if random_ports { "random" } else { "preserving" });
    let lab = Lab::create(random_ports);
    let started = Instant::now();
    let public_ns = lab.ns("pub");
    let first = format!("{}:{PORT}", PUBLIC[0]);
    let mut public: Vec<NamespacedNode> = Vec::new();
    for (i, addr) in PUBLIC.iter().enumerate() {
        let bootstrap = (i > 0).then_some(first.as_str());
        let listen = format!("{addr}:{PORT}");
        public.push(NamespacedNode::start(
            &home,
            &public_ns,
            &listen,
            bootstrap,
            &format!("pub{i}"),
        ));
    }
    // The first node is a full node at once (no --bootstrap); the others after their checks.
    for (i, node) in public.iter_mut().enumerate().skip(1) {
        let line = node.wait_for(
            &["reachability", "verdict=reachable", "role=node"],
            Duration::from_secs(40),
        );
        assert!(
            line.is_some(),
            "public node {i} became a full node: {:#?}",
            node.lines
        );
    }
    let public_ready = started.elapsed();

    let home_ns = lab.ns("home");
    let mut natted = NamespacedNode::start(
        &home,
        &home_ns,
        &format!("{HOME_ADDR}:{PORT}"),
        Some(&first),
        "home",
    );
    let first_seen = Instant::now();
    let line = natted.wait_for(
        &["reachability", "verdict=unreachable"],
        Duration::from_secs(40),
    );
    let verdict_after = first_seen.elapsed();
    assert!(
        line.is_some(),
        "the natted node decided: {:#?}",
        natted.lines
    );
    let line = line.unwrap();
    assert!(line.contains("role=client"), "{line}");
    assert!(
        line.contains("external=10.9.0.1:"),
        "seen at the gateway: {line}"
    );
    if !random_ports {
        assert!(
            line.contains(&format!("external=10.9.0.1:{PORT}")),
            "port preserved: {line}"
        );
    }
    let status = natted.status(&home);
    assert_eq!(status["role"], "client");
    assert_eq!(status["reachability"]["verdict"], "unreachable");

    // Puts and gets from behind the NAT work, and the value is found from the public side.
    let value = "advice from behind a NAT";
    client(
        &home,
        &home_ns,
        &["put", "--bootstrap", &first, "nat-key", value],
    );
    let got = client(
        &home,
        &public_ns,
        &["get", "--bootstrap", &first, "nat-key"],
    );
    assert!(got.contains(value), "{got}");
    let got = client(&home, &home_ns, &["get", "--bootstrap", &first, "nat-key"]);
    assert!(got.contains(value), "{got}");

    // The NAT rebinds: the watch (every 2 s here) sees the new address and checks again.
    lab.rebind();
    let rebound = Instant::now();
    let line = natted.wait_for(
        &["reachability", "external=10.9.0.5:"],
        Duration::from_secs(40),
    );
    let noticed_after = rebound.elapsed();
    assert!(
        line.is_some(),
        "the rebind was noticed: {:#?}",
        natted.lines
    );
    let status = natted.status(&home);
    assert!(
        status["reachability"]["address_changes"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(
        status["reachability"]["checks"].as_u64().unwrap() >= 2,
        "{status}"
    );
    assert_eq!(status["role"], "client");

    // No public node ever held the natted node: their tables hold the other public nodes only.
    for (i, node) in public.iter().enumerate() {
        let status = node.status(&home);
        assert_eq!(status["role"], "node", "public node {i}");
        let table = status["table"].as_u64().unwrap();
        assert!(
            table <= (PUBLIC.len() - 1) as u64,
            "public node {i} holds {table} entries"
        );
    }
    eprintln!(
        "timeline ({}): public nodes full after {:.1} s; natted node unreachable {:.1} s after start; rebind noticed after {:.1} s",
        if random_ports {
            "random-port NAT"
        } else {
            "port-preserving NAT"
        },
        public_ready.as_secs_f64(),
        verdict_after.as_secs_f64(),
        noticed_after.as_secs_f64()
    );
    drop(natted);
    drop(public);
    drop(lab);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_node_behind_a_port_preserving_nat_stays_a_client_and_notices_a_rebind() {
    behind_a_nat(false);
}

#[test]
fn a_node_behind_a_random_port_nat_stays_a_client_and_notices_a_rebind() {
    behind_a_nat(true);
}
