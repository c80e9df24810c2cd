//! `qis node --port-mapping` behind a home router made of network namespaces: a LAN namespace
//! (the node, 192.168.77.2), a gateway namespace (192.168.77.1 on the LAN, 192.0.3.1 on the
//! WAN) that masquerades with nftables and runs miniupnpd (NAT-PMP/PCP and UPnP-IGD), and a
//! public namespace (192.0.3.2) with no route to the LAN. The node maps its port, says so
//! (log, `qis status`, `qis_port_mapped`), is reached from the public side at the mapped
//! address, and deletes the mapping at SIGTERM; then again through UPnP-IGD alone.
//!
//! The WAN is 192.0.3.0/24 rather than a 10.x or documentation range: miniupnpd refuses to map
//! anything when its external address is private or reserved ("Port forwarding is
//! impossible"). The namespaces are linked only to each other, so nothing leaves them.
//!
//! Needs root, `ip`, `nft` and `miniupnpd` (Debian: miniupnpd, miniupnpd-nftables, nftables;
//! `.ci/run` installs them): skips with a message otherwise.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LAN_NODE: &str = "192.168.77.2";
const LAN_GATEWAY: &str = "192.168.77.1";
const WAN_GATEWAY: &str = "192.0.3.1";
const WAN_PUBLIC: &str = "192.0.3.2";
const NODE_PORT: u16 = 4100;
/// Full nodes of the public side, for the test where the mapped node joins a network.
const PUBLIC_NODES: [&str; 3] = ["192.0.10.1", "192.0.11.1", "192.0.12.1"];
const PUBLIC_PORT: u16 = 4000;

/// Why the test cannot run here, if it cannot.
fn missing_requirement() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces, nftables)".into());
    }
    for (tool, arg) in [
        ("ip", "-V"),
        ("nft", "--version"),
        ("miniupnpd", "--version"),
    ] {
        let runs = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !runs {
            return Some(format!(
                "needs `{tool}` (Debian packages miniupnpd, miniupnpd-nftables and nftables)"
            ));
        }
    }
    None
}

/// Runs `program args` to completion, at most 10 s.
fn run(program: &str, args: &[&str]) -> Output {
    let mut command = Command::new("timeout");
    command
        .arg("10")
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    command
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

/// Runs `program args` and panics, with its stderr, if it fails.
fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The three namespaces, the gateway's daemon and every process started in them; all killed
/// and deleted when dropped, whatever the test's outcome.
struct Lab {
    lan: String,
    gateway: String,
    public: String,
    dir: PathBuf,
    miniupnpd: Option<Child>,
}

impl Lab {
    /// The lab of test `name` (namespace names carry it, so tests run side by side).
    fn new(dir: &Path, name: &str) -> Lab {
        let tag = format!("{}{name}", std::process::id());
        let lab = Lab {
            lan: format!("qis-pm-lan-{tag}"),
            gateway: format!("qis-pm-gw-{tag}"),
            public: format!("qis-pm-pub-{tag}"),
            dir: dir.to_path_buf(),
            miniupnpd: None,
        };
        for ns in [&lab.lan, &lab.gateway, &lab.public] {
            must("ip", &["netns", "add", ns]);
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        // The veths are made inside the gateway's namespace: no name is taken in the host's.
        let (gw, lan, public) = (&lab.gateway, &lab.lan, &lab.public);
        must(
            "ip",
            &[
                "-n", gw, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns",
                lan,
            ],
        );
        must(
            "ip",
            &[
                "-n", gw, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns",
                public,
            ],
        );
        for (ns, dev, addr) in [
            (lan, "eth0", format!("{LAN_NODE}/24")),
            (gw, "lan0", format!("{LAN_GATEWAY}/24")),
            (gw, "wan0", format!("{WAN_GATEWAY}/24")),
            (public, "eth0", format!("{WAN_PUBLIC}/24")),
        ] {
            must("ip", &["-n", ns, "addr", "add", &addr, "dev", dev]);
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        // Public nodes, each in a /24 of its own, beyond the public side's WAN address.
        for addr in PUBLIC_NODES {
            must(
                "ip",
                &[
                    "-n",
                    public,
                    "addr",
                    "add",
                    &format!("{addr}/32"),
                    "dev",
                    "lo",
                ],
            );
        }
        must(
            "ip",
            &["-n", gw, "route", "add", "192.0.8.0/21", "via", WAN_PUBLIC],
        );
        // The LAN's default route is the gateway; the public side has none (it knows only
        // the WAN subnet, as the internet knows only the router's address).
        must(
            "ip",
            &["-n", lan, "route", "add", "default", "via", LAN_GATEWAY],
        );
        must(
            "ip",
            &[
                "netns",
                "exec",
                gw,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
        );
        // Masquerade out of the WAN, forward only what the LAN started or what miniupnpd
        // opened; the chains miniupnpd's nftables backend fills (its defaults: table `inet
        // filter`, chains miniupnpd, prerouting_miniupnpd, postrouting_miniupnpd).
        let rules = lab.dir.join("gateway.nft");
        std::fs::write(
            &rules,
            r#"table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
"#,
        )
        .unwrap();
        must(
            "ip",
            &["netns", "exec", gw, "nft", "-f", rules.to_str().unwrap()],
        );
        lab
    }

    /// Starts miniupnpd in the gateway, in the foreground, NAT-PMP/PCP on or off, and waits
    /// (at most 5 s) until it serves.
    fn start_miniupnpd(&mut self, natpmp: bool) {
        self.stop_miniupnpd();
        let conf = self.dir.join("miniupnpd.conf");
        let mut file = std::fs::File::create(&conf).unwrap();
        write!(
            file,
            "ext_ifname=wan0\nlistening_ip=lan0\nenable_natpmp={}\nenable_upnp=yes\n\
             secure_mode=yes\nsystem_uptime=yes\nlease_file={}\n\
             uuid=3b1d4c2e-6a55-4f2b-9d0e-5c1f2a3b4c5d\n\
             allow 1024-65535 192.168.77.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
            if natpmp { "yes" } else { "no" },
            self.dir.join("upnp.leases").display()
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join("miniupnpd.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.gateway, "miniupnpd", "-d", "-f"])
            .arg(&conf)
            .arg("-P")
            .arg(self.dir.join("miniupnpd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start miniupnpd");
        self.miniupnpd = Some(child);
        let ready = if natpmp {
            "Listening for NAT-PMP/PCP traffic"
        } else {
            "HTTP listening on port"
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.miniupnpd_log().contains(ready) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("miniupnpd did not start:\n{}", self.miniupnpd_log());
    }

    fn stop_miniupnpd(&mut self) {
        if let Some(mut child) = self.miniupnpd.take() {
            // SIGTERM: miniupnpd deletes its rules as it stops.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn miniupnpd_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("miniupnpd.log")).unwrap_or_default()
    }

    /// The DNAT rules miniupnpd holds now.
    fn forwarded(&self) -> String {
        must(
            "ip",
            &[
                "netns",
                "exec",
                &self.gateway,
                "nft",
                "list",
                "chain",
                "inet",
                "filter",
                "prerouting_miniupnpd",
            ],
        )
    }

    /// `qis args` in namespace `ns`, with data home `home`.
    fn qis(&self, ns: &str, home: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_qis")])
            .args(args)
            .env("QIS_HOME", home)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_miniupnpd();
        for ns in [&self.lan, &self.gateway, &self.public] {
            // Whatever still runs in a namespace goes with it.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A `qis node` in the LAN namespace; killed when dropped.
struct LanNode {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl LanNode {
    fn start(lab: &Lab, home: &Path) -> LanNode {
        LanNode::start_with(lab, home, &[])
    }

    /// Like [`LanNode::start`], with `extra` arguments.
    fn start_with(lab: &Lab, home: &Path, extra: &[&str]) -> LanNode {
        let listen = format!("{LAN_NODE}:{NODE_PORT}");
        let mut child = lab
            .qis(
                &lab.lan,
                home,
                &[
                    "node",
                    "--listen",
                    &listen,
                    "--port-mapping",
                    "--network",
                    "demo",
                    "--id-difficulty",
                    "0",
                    "--status-every",
                    "0",
                    "--metrics",
                    "127.0.0.1:9100",
                ],
            )
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qis node");
        let lines = support::stderr_lines(&mut child);
        LanNode {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// The first line of the log containing `want`, waiting at most `within`.
    fn wait_for(&mut self, want: &str, within: Duration) -> String {
        if let Some(line) = self.log.iter().find(|l| l.contains(want)) {
            return line.clone();
        }
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.log.push(line.clone());
            if line.contains(want) {
                return line;
            }
        }
        panic!(
            "no {want:?} within {within:?} in the node's log:\n{}",
            self.log.join("\n")
        );
    }

    /// SIGTERM, then waits (at most 10 s) for the node to exit; its whole log.
    fn terminate(&mut self) -> String {
        // `ip netns exec` execs the program: the child is the node itself.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "the node exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the node did not stop in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.log.push(line);
        }
        self.log.join("\n")
    }
}

impl Drop for LanNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node's metrics, read inside the LAN namespace (its endpoint is on that loopback).
fn metrics(lab: &Lab) -> String {
    must(
        "ip",
        &[
            "netns",
            "exec",
            &lab.lan,
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/9100 && printf 'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3",
        ],
    )
}

/// A scratch directory `name` and a lab tagged `tag`, or `None` (saying why) where the test
/// cannot run.
fn lab_or_skip(name: &str, tag: &str) -> Option<(PathBuf, Lab)> {
    if let Some(why) = missing_requirement() {
        eprintln!("SKIPPED: port mapping through miniupnpd in network namespaces {why}");
        return None;
    }
    let dir = support::scratch("port-mapping", name);
    let lab = Lab::new(&dir, tag);
    Some((dir, lab))
}

#[test]
fn a_node_behind_a_home_router_maps_its_port_and_removes_it_at_shutdown() {
    let Some((dir, mut lab)) = lab_or_skip("lab", "a") else {
        return;
    };
    let home = dir.join("home");
    let external = format!("{WAN_GATEWAY}:{NODE_PORT}");
    let internal = format!("{LAN_NODE}:{NODE_PORT}");

    // PCP / NAT-PMP first.
    lab.start_miniupnpd(true);
    let mut node = LanNode::start(&lab, &home);
    let mapped = node.wait_for("port mapping: external", Duration::from_secs(10));
    assert!(
        mapped.contains(&format!("port mapping: external {external} via "))
            && (mapped.contains("via PCP") || mapped.contains("via NAT-PMP"))
            && mapped.contains("lifetime 3600 s"),
        "{mapped}"
    );
    let rules = lab.forwarded();
    assert!(rules.contains(&format!("dnat ip to {internal}")), "{rules}");
    let data_dir = home.join(format!("node-{NODE_PORT}"));
    let status = support::qis(&home)
        .args(["status", "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains(&format!("mapped    {external} via ")),
        "{status}"
    );
    let exposition = metrics(&lab);
    assert!(
        exposition.lines().any(|l| l == "qis_port_mapped 1"),
        "{exposition}"
    );
    // From the public side the node is reached at the gateway's address.
    let ping = lab
        .qis(
            &lab.public,
            &dir.join("pinger"),
            &[
                "ping",
                &external,
                "--network",
                "demo",
                "--id-difficulty",
                "0",
                "--timeout",
                "5",
            ],
        )
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "ping {external} from the public side: {}{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );
    let log = node.terminate();
    assert!(log.contains("port mapping removed"), "{log}");
    let rules = lab.forwarded();
    assert!(!rules.contains("dnat"), "left after SIGTERM: {rules}");
    drop(node);

    // UPnP-IGD alone (a router without NAT-PMP): the same, through SSDP and SOAP.
    lab.start_miniupnpd(false);
    let mut node = LanNode::start(&lab, &home);
    let mapped = node.wait_for("port mapping: external", Duration::from_secs(15));
    assert!(
        mapped.contains(&format!("port mapping: external {external} via UPnP")),
        "{mapped}"
    );
    let rules = lab.forwarded();
    assert!(rules.contains(&format!("dnat ip to {internal}")), "{rules}");
    let log = node.terminate();
    assert!(log.contains("port mapping removed"), "{log}");
    let rules = lab.forwarded();
    assert!(!rules.contains("dnat"), "left after SIGTERM: {rules}");
    drop(node);
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A full node of the public side, killed when dropped.
struct PublicNode(Child);

impl Drop for PublicNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_node_in_the_automatic_role_with_a_mapped_port_becomes_a_full_node_that_lookups_find() {
    let Some((dir, mut lab)) = lab_or_skip("auto", "b") else {
        return;
    };
    let home = dir.join("home");
    let first = format!("{}:{PUBLIC_PORT}", PUBLIC_NODES[0]);
    let mut public = Vec::new();
    for (i, addr) in PUBLIC_NODES.iter().enumerate() {
        let listen = format!("{addr}:{PUBLIC_PORT}");
        let data_dir = dir.join(format!("public-{i}"));
        let mut args = vec![
            "node",
            "--listen",
            &listen,
            "--role",
            "node",
            "--network",
            "demo",
            "--id-difficulty",
            "0",
            "--status-every",
            "0",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ];
        if i > 0 {
            args.extend(["--bootstrap", &first]);
        }
        let child = lab
            .qis(&lab.public, &home, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a public node");
        public.push(PublicNode(child));
        std::thread::sleep(Duration::from_millis(300));
    }
    lab.start_miniupnpd(true);
    // The default role: a client until its checks find it reachable through the mapping.
    let mut node = LanNode::start_with(&lab, &home, &["--bootstrap", &first]);
    let started = Instant::now();
    node.wait_for("port mapping: external", Duration::from_secs(10));
    let full = node.wait_for("verdict=reachable", Duration::from_secs(40));
    assert!(full.contains("role=node"), "{full}");
    assert!(
        full.contains(&format!("external={WAN_GATEWAY}:{NODE_PORT}")),
        "{full}"
    );
    let became_full = started.elapsed();
    // A put from the public side finds it: it is among the holders.
    std::thread::sleep(Duration::from_secs(2));
    let put = lab
        .qis(
            &lab.public,
            &dir.join("client"),
            &[
                "put",
                "--bootstrap",
                &first,
                "--network",
                "demo",
                "--id-difficulty",
                "0",
                "mapped-key",
                "found through the mapping",
            ],
        )
        .output()
        .unwrap();
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let data_dir = home.join(format!("node-{NODE_PORT}"));
    let status = support::qis(&home)
        .args(["status", "--json", "--data-dir", data_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["role"], "node", "{status}");
    assert_eq!(status["reachability"]["verdict"], "reachable", "{status}");
    assert!(
        status["records"].as_u64().unwrap() >= 1,
        "the put stored here: {status}"
    );
    eprintln!(
        "timeline: mapped node full {:.1} s after start (the put then stored at it)",
        became_full.as_secs_f64()
    );
    node.terminate();
    drop(node);
    drop(public);
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
