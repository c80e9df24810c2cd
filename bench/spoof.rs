//! Spoofed floods, IPv4 and IPv6, in network namespaces (`cargo bench --bench spoof`; root;
//! about 40 s).
//!
//! The bench makes two namespaces joined by a veth pair: the node's (10.77.0.1, fd77::1;
//! default routes back through the veth) and the attacker's (10.77.0.2 and .3, fd77::2 and ::3).
//! A `qis node` (rate limits on) listens dual-stack in the first; the bench runs itself again
//! inside the second, where one thread floods the node with pings from **spoofed sources**
//! through a raw socket (IPv4 headers written by hand, IPv6 headers and UDP checksums too), as
//! fast as it can: `QIS_SPOOF_SOURCES` addresses (default: 1,024 and 65,536 in turn), 64 per
//! /24 (IPv4) or per /48 (IPv6, each in its own /64). Answers to spoofed sources leave the
//! node and die at the attacker's veth. Meanwhile a routing-table peer (.2) and a client with
//! a valid token (.3) each send a request every 20 ms and count the answers back within 20 ms,
//! as in the `flood` bench.
//!
//! Printed per run: sent/s, each party's answered share and p99, the node's drops by reason,
//! CPU (share of one core) and RSS, and a PASS/MISS line against the hardening issue's target
//! (both parties ≥ 99% answered with p99 ≤ 20 ms, node CPU ≤ one core). Skips with a message
//! when not root or without `ip`. `QIS_SPOOF_ISOLATE=1` pins the node to CPU 0 and the attacker
//! side to CPU 1, and steers the node veth's receive processing (RPS) to CPU 1, as if the flood
//! came from another machine.

use qis_core::Identity;
use qis_core::wire::{Body, Role};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "process.rs"]
mod process;
use process::{NodeProcess, cpu_seconds, rss_bytes};
#[path = "parties.rs"]
mod parties;
use parties::{NETWORK, Parties, encode, env_or, report, report_node, scrape};

/// The node's UDP port and its metrics port.
const PORT: u16 = 4000;
const METRICS_PORT: u16 = 4001;

/// Spoofed hosts per /24 (IPv4) or /48 (IPv6).
const HOSTS_PER_PREFIX: usize = 64;

/// The source port of every spoofed ping.
const SPOOFED_PORT: u16 = 40_000;

/// The two namespaces and the veth between them; removed when dropped.
struct Namespaces {
    node: String,
    attacker: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Namespaces {
    fn create() -> Option<Namespaces> {
        let pid = std::process::id();
        let ns = Namespaces {
            node: format!("qis-spoof-n-{pid}"),
            attacker: format!("qis-spoof-a-{pid}"),
        };
        let (n, a) = (ns.node.as_str(), ns.attacker.as_str());
        let (vn, va) = (format!("qsn{pid}"), format!("qsa{pid}"));
        let steps = [
            format!("netns add {n}"),
            format!("netns add {a}"),
            format!("link add {vn} type veth peer name {va}"),
            format!("link set {vn} netns {n}"),
            format!("link set {va} netns {a}"),
            format!("-n {n} addr add 10.77.0.1/24 dev {vn}"),
            format!("-n {n} -6 addr add fd77::1/64 dev {vn} nodad"),
            format!("-n {n} link set {vn} up"),
            format!("-n {n} link set lo up"),
            format!("-n {a} addr add 10.77.0.2/24 dev {va}"),
            format!("-n {a} addr add 10.77.0.3/24 dev {va}"),
            format!("-n {a} -6 addr add fd77::2/64 dev {va} nodad"),
            format!("-n {a} -6 addr add fd77::3/64 dev {va} nodad"),
            format!("-n {a} link set {va} up"),
            format!("-n {a} link set lo up"),
            format!("-n {n} route add default via 10.77.0.2"),
            format!("-n {n} -6 route add default via fd77::2"),
        ];
        for step in &steps {
            if !ip(&step.split_whitespace().collect::<Vec<_>>()) {
                eprintln!("spoof: `ip {step}` failed");
                return None;
            }
        }
        Some(ns)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.node]);
        ip(&["netns", "del", &self.attacker]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--inside") {
        return inside(&args[at + 1..]);
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root || !ip(&["netns", "list"]) {
        println!("spoof: SKIPPED (needs root and the `ip` command, to make network namespaces)");
        return;
    }
    let secs = env_or("QIS_FLOOD_SECS", 5);
    let counts: Vec<usize> = match std::env::var("QIS_SPOOF_SOURCES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![1024, 65_536],
    };
    let mut passed = true;
    for family in ["v4", "v6"] {
        for &sources in &counts {
            let Some(ns) = Namespaces::create() else {
                println!("spoof: SKIPPED (could not make the namespaces)");
                return;
            };
            passed &= run(&ns, family, sources, secs);
        }
    }
    println!("spoof: {}", if passed { "all PASS" } else { "some MISS" });
}

/// One flood: a fresh node in the node namespace, this bench again in the attacker's.
fn run(ns: &Namespaces, family: &str, sources: usize, secs: u64) -> bool {
    let home = std::env::temp_dir().join(format!("qis-spoof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let isolate = std::env::var_os("QIS_SPOOF_ISOLATE").is_some();
    let pin = |cpu: &'static str| -> Vec<&'static str> {
        if isolate {
            vec!["taskset", "-c", cpu]
        } else {
            vec![]
        }
    };
    if isolate {
        let veth = format!("qsn{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "exec", &ns.node, "sh", "-c"])
            .arg(format!(
                "echo 2 > /sys/class/net/{veth}/queues/rx-0/rps_cpus"
            ))
            .status();
    }
    let node = NodeProcess(
        Command::new("ip")
            .args(["netns", "exec", &ns.node])
            .args(pin("0"))
            .args([env!("CARGO_BIN_EXE_qis"), "node"])
            .args(["--listen", &format!("[::]:{PORT}"), "--network", NETWORK])
            .args(["--id-difficulty", "0", "--status-every", "0", "-q"])
            .args([
                "--metrics",
                &format!("10.77.0.1:{METRICS_PORT}"),
                "--metrics-public",
            ])
            .args(["--data-dir", &home.join("node").to_string_lossy()])
            .stdin(Stdio::null())
            .spawn()
            .expect("start qis node"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = node.0.id();
    let exe = std::env::current_exe().expect("the bench's own path");
    let output = Command::new("ip")
        .args(["netns", "exec", &ns.attacker])
        .args(pin("1"))
        .arg(exe)
        .args(["--inside", family, &sources.to_string(), &secs.to_string()])
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the attacker side");
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    drop(node);
    let _ = std::fs::remove_dir_all(&home);
    text.lines().any(|l| l.contains("PASS"))
}

/// The attacker namespace's side: parties, flood, figures.
fn inside(args: &[String]) {
    let family = args[0].as_str();
    let sources: usize = args[1].parse().expect("sources");
    let secs: u64 = args[2].parse().expect("seconds");
    let node_pid: u32 = args[3].parse().expect("node pid");
    let v6 = family == "v6";
    let (target, peer_at, client_at): (SocketAddr, &str, &str) = if v6 {
        (
            format!("[fd77::1]:{PORT}").parse().unwrap(),
            "[fd77::2]:0",
            "[fd77::3]:0",
        )
    } else {
        (
            format!("10.77.0.1:{PORT}").parse().unwrap(),
            "10.77.0.2:0",
            "10.77.0.3:0",
        )
    };
    let metrics: SocketAddr = format!("10.77.0.1:{METRICS_PORT}").parse().unwrap();

    let parties = Parties::join(target, peer_at, client_at);

    let stop = Arc::new(AtomicBool::new(false));
    let flood_sent = Arc::new(AtomicU64::new(0));
    let flood_thread = {
        let (stop, sent) = (stop.clone(), flood_sent.clone());
        std::thread::spawn(move || flood(target, sources, &stop, &sent))
    };
    let cpu_before = cpu_seconds(node_pid);
    let started = Instant::now();
    let measured = parties.measure_for(secs, &stop);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(node_pid) - cpu_before) / elapsed;
    flood_thread.join().expect("flood");
    let text = scrape(metrics);
    let sent = flood_sent.load(Ordering::Relaxed);
    let prefixes = sources.div_ceil(HOSTS_PER_PREFIX);
    let unit = if v6 { "/48" } else { "/24" };
    println!(
        "IP{family} flood of {sources} spoofed sources over {prefixes} {unit} prefixes, {secs} s: {sent} pings sent ({:.0}/s)",
        sent as f64 / elapsed
    );
    report("routing-table peer", &measured.0);
    report("client with a valid token", &measured.1);
    let rss = rss_bytes(&node_pid.to_string());
    report_node(&text, cpu, rss);
    let ok = |(sent, answered, h): &(u64, u64, hdrhistogram::Histogram<u64>)| {
        *answered as f64 >= 0.99 * *sent as f64 && h.value_at_quantile(0.99) <= 20_000
    };
    let pass = ok(&measured.0) && ok(&measured.1) && cpu <= 1.0;
    println!(
        "  {}: both parties >= 99% answered within 20 ms, node CPU <= 1 core",
        if pass { "PASS" } else { "MISS" }
    );
    let share = |(sent, answered, _): &(u64, u64, hdrhistogram::Histogram<u64>)| {
        *answered as f64 / (*sent).max(1) as f64
    };
    println!(
        "{{\"bench\":\"spoof\",\"family\":\"{family}\",\"sources\":{sources},\"sent_per_s\":{:.0},\"peer_answered\":{:.4},\"peer_p99_us\":{},\"client_answered\":{:.4},\"client_p99_us\":{},\"node_cpu\":{cpu:.2},\"node_rss_bytes\":{rss}}}",
        sent as f64 / elapsed,
        share(&measured.0),
        measured.0.2.value_at_quantile(0.99),
        share(&measured.1),
        measured.1.2.value_at_quantile(0.99)
    );
}

/// Spoofed host `i`: 64 hosts per /24 (IPv4, in 10.128.0.0/14) or per /48 (IPv6, each in its
/// own /64 under fd99::/16).
fn spoofed(i: usize, v6: bool) -> IpAddr {
    let (prefix, host) = (i / HOSTS_PER_PREFIX, i % HOSTS_PER_PREFIX + 1);
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0xfd99,
            0,
            prefix as u16,
            host as u16,
            0,
            0,
            0,
            1,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            10,
            128 + (prefix / 256) as u8,
            (prefix % 256) as u8,
            host as u8,
        ))
    }
}

/// Sends pings from `sources` spoofed addresses in turn until `stop`.
fn flood(target: SocketAddr, sources: usize, stop: &AtomicBool, sent: &AtomicU64) {
    let v6 = target.is_ipv6();
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    // IPPROTO_RAW: we write the IP header ourselves (on IPv6 too, Linux sets IPV6_HDRINCL).
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(255))).expect("raw socket");
    let to = SockAddr::from(SocketAddr::new(target.ip(), 0));
    let stranger = Identity::from_secret_key([9; 32]);
    let ping = encode(7, stranger.id(), Role::Client, Body::Ping);
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let packet = datagram(spoofed(i, v6), target, &ping);
        if socket.send_to(&packet, &to).is_ok() {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        i = (i + 1) % sources;
    }
}

/// An IP datagram carrying `payload` over UDP from `source`:SPOOFED_PORT to `target`.
fn datagram(source: IpAddr, target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&SPOOFED_PORT.to_be_bytes());
    udp.extend_from_slice(&target.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    match (source, target.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            // Checksum and total length are filled in by the kernel for IPPROTO_RAW; a zero
            // UDP checksum means "none" on IPv4.
            let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
            packet.extend_from_slice(&udp);
            packet
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let sum = udp_checksum_v6(&src, &dst, &udp);
            udp[6..8].copy_from_slice(&sum.to_be_bytes());
            let mut packet = vec![0x60, 0, 0, 0];
            packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
            packet.extend_from_slice(&[17, 64]);
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
            packet.extend_from_slice(&udp);
            packet
        }
        _ => unreachable!("source and target of one family"),
    }
}

/// The UDP checksum over the IPv6 pseudo-header and `udp` (checksum field zero).
fn udp_checksum_v6(src: &Ipv6Addr, dst: &Ipv6Addr, udp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(udp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(udp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        folded => folded,
    }
}
