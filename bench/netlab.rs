//! A lab network for benches and tests: one network namespace per host, every host joined by
//! a veth to a hub namespace, and a router in the hub that holds or drops every datagram
//! between two hosts as a [`LinkModel`] says. The router runs in user space over a TUN device
//! (this machine's kernel has no `netem` qdisc, and per-interface netem could not express a
//! per-pair delay anyway: distance plus both hosts' access links).
//!
//! Host `i` has the address `10.(i / 256).(i % 256).1` (a /24 of its own, so the routing
//! table's prefix limits never bind between hosts) on a /30 to the hub, whose side is `.2`.
//! Every datagram from a host goes to the hub, which routes it (policy rule: source in
//! 10.0.0.0/8, not from the TUN) into the TUN device; the router reads it, asks the model
//! when (or whether) it arrives, and writes it back into the TUN at that time, from where the
//! kernel forwards it to the destination host. Traffic between two hosts is only ever in the
//! lab's namespaces (`ip netns`), created here and deleted on drop.
//!
//! Shared by `bench/sim_vs_real.rs` and `tests/sim_vs_real.rs` (`#[path]`-included).

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most hosts a lab holds (two octets of the address).
pub(crate) const MAX_HOSTS: usize = 65_536;

/// A bench setting from the environment variable `name`, or `default`; a value that does not
/// parse ends the bench with exit 2.
pub(crate) fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("{name}={text:?} is not a valid value");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

/// A seeded stream of uniform draws in [0, 1) for link models (splitmix64), independent of
/// the simulator's own draws.
pub(crate) struct Uniform(pub(crate) u64);

impl Uniform {
    /// The next draw.
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What happens to one datagram between two hosts.
pub(crate) trait LinkModel: Send + 'static {
    /// The delay of a datagram of `bytes` bytes from host `from` to host `to`, or `None` if
    /// it is lost.
    fn fate(&mut self, from: usize, to: usize, bytes: usize) -> Option<Duration>;
}

/// What the router did.
#[derive(Debug, Default)]
pub(crate) struct RouterCounts {
    /// Datagrams delivered.
    pub(crate) forwarded: AtomicU64,
    /// Datagrams the model dropped.
    pub(crate) dropped: AtomicU64,
    /// Packets not between two hosts (passed on at once).
    pub(crate) other: AtomicU64,
}

/// The lab: namespaces, veths and the router; all removed when dropped.
pub(crate) struct Lab {
    prefix: String,
    hosts: usize,
    stop: Arc<AtomicBool>,
    router: Option<JoinHandle<()>>,
    /// The router's counters.
    pub(crate) counts: Arc<RouterCounts>,
}

/// Why a lab cannot be made here, if it cannot (not root, no `ip`, no TUN device).
pub(crate) fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces and a TUN device)".into());
    }
    if !run("ip", &["netns", "list"]) {
        return Some("needs iproute2's `ip` with network namespace support".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("needs /dev/net/tun".into());
    }
    None
}

/// The address of host `host`.
pub(crate) fn host_addr(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, (host / 256) as u8, (host % 256) as u8, 1)
}

/// The host behind `addr`, if it is one.
fn host_of(addr: [u8; 4]) -> Option<usize> {
    (addr[0] == 10 && addr[3] == 1).then(|| usize::from(addr[1]) * 256 + usize::from(addr[2]))
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `ip [-n ns] -batch -` with `commands`, one per line.
fn ip_batch(namespace: Option<&str>, commands: &[String]) -> Result<(), String> {
    let mut cmd = Command::new("ip");
    if let Some(ns) = namespace {
        cmd.args(["-n", ns]);
    }
    let mut child = cmd
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("ip: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let text = commands.join("\n") + "\n";
    stdin
        .write_all(text.as_bytes())
        .map_err(|e| format!("ip batch: {e}"))?;
    drop(stdin);
    let out = child.wait_with_output().map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}-batch failed: {}",
            namespace.map_or(String::new(), |n| format!("-n {n} ")),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl Lab {
    /// A lab of `hosts` hosts whose datagrams `model` delays and drops. Namespaces are named
    /// `{prefix}hub` and `{prefix}{i}`; any left over from an earlier run with the same prefix
    /// are removed first.
    pub(crate) fn create(
        prefix: &str,
        hosts: usize,
        model: Box<dyn LinkModel>,
    ) -> Result<Lab, String> {
        if hosts == 0 || hosts > MAX_HOSTS {
            return Err(format!("{hosts} hosts: a lab holds 1 to {MAX_HOSTS}"));
        }
        remove_namespaces(prefix);
        let mut lab = Lab {
            prefix: prefix.to_string(),
            hosts,
            stop: Arc::new(AtomicBool::new(false)),
            router: None,
            counts: Arc::new(RouterCounts::default()),
        };
        let hub = lab.hub();
        ip_batch(None, &[format!("netns add {hub}")])?;
        // Before any interface exists there, so every one inherits them: the hub forwards,
        // and takes packets back from the TUN whatever their source.
        let sysctl = [
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.conf.all.send_redirects=0",
            "net.ipv4.conf.default.send_redirects=0",
        ];
        let mut args = vec!["netns", "exec", &hub, "sysctl", "-qw"];
        args.extend(sysctl);
        if !run("ip", &args) {
            return Err("sysctl in the hub namespace failed".into());
        }
        let mut root = Vec::with_capacity(2 * hosts);
        for i in 0..hosts {
            let ns = lab.namespace(i);
            root.push(format!("netns add {ns}"));
            root.push(format!(
                "link add h{i} netns {hub} type veth peer name eth0 netns {ns}"
            ));
        }
        ip_batch(None, &root)?;
        let mut hub_side = Vec::with_capacity(2 * hosts);
        for i in 0..hosts {
            let [_, a, b, _] = host_addr(i).octets();
            hub_side.push(format!("addr add 10.{a}.{b}.2/30 dev h{i}"));
            hub_side.push(format!("link set h{i} up"));
        }
        ip_batch(Some(&hub), &hub_side)?;
        for i in 0..hosts {
            let [_, a, b, _] = host_addr(i).octets();
            ip_batch(
                Some(&lab.namespace(i)),
                &[
                    format!("addr add 10.{a}.{b}.1/30 dev eth0"),
                    "link set eth0 up".into(),
                    "link set lo up".into(),
                    format!("route add default via 10.{a}.{b}.2"),
                ],
            )?;
        }
        let tun = open_tun_in(&hub)?;
        ip_batch(
            Some(&hub),
            &[
                "link set tun0 up".into(),
                // Back from the router: the main table, to the destination's veth.
                "rule add iif tun0 lookup main prio 100".into(),
                // From a host: into the router.
                "rule add from 10.0.0.0/8 lookup 100 prio 200".into(),
                "route add default dev tun0 table 100".into(),
            ],
        )?;
        let (stop, counts) = (lab.stop.clone(), lab.counts.clone());
        lab.router = Some(
            std::thread::Builder::new()
                .name("lab-router".into())
                .spawn(move || route(tun, model, &stop, &counts))
                .map_err(|e| format!("router thread: {e}"))?,
        );
        Ok(lab)
    }

    /// The hub namespace's name.
    pub(crate) fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    /// Host `host`'s namespace.
    pub(crate) fn namespace(&self, host: usize) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Hosts in the lab.
    pub(crate) fn hosts(&self) -> usize {
        self.hosts
    }

    /// A command that runs `program` inside host `host`'s namespace.
    pub(crate) fn command(&self, host: usize, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespace(host), program]);
        cmd
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(router) = self.router.take() {
            let _ = router.join();
        }
        remove_namespaces(&self.prefix);
    }
}

/// Deletes every namespace whose name starts with `prefix` (their veths go with them).
fn remove_namespaces(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    let listed = String::from_utf8_lossy(&out.stdout);
    let doomed: Vec<String> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(|name| format!("netns del {name}"))
        .collect();
    if !doomed.is_empty() {
        let _ = ip_batch(None, &doomed);
    }
}

/// `ifreq` as TUNSETIFF reads it: a name and the flags, padded to the kernel's 40 bytes.
#[repr(C)]
struct InterfaceRequest {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// Creates TUN device `tun0` inside namespace `ns` (from a short-lived thread that enters
/// it, so this process stays where it is) and returns its file.
fn open_tun_in(ns: &str) -> Result<File, String> {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<File, String> {
                let handle = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
                // SAFETY: a valid namespace descriptor; setns changes this thread only.
                if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!("setns {ns}: {}", std::io::Error::last_os_error()));
                }
                let tun = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/net/tun")
                    .map_err(|e| format!("/dev/net/tun: {e}"))?;
                let mut request = InterfaceRequest {
                    name: [0; 16],
                    flags: IFF_TUN | IFF_NO_PI,
                    _pad: [0; 22],
                };
                request.name[..4].copy_from_slice(b"tun0");
                // SAFETY: TUNSETIFF reads an ifreq, which `request` is laid out as.
                if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF as _, &mut request) } != 0 {
                    return Err(format!("TUNSETIFF: {}", std::io::Error::last_os_error()));
                }
                // SAFETY: fcntl on a descriptor we own.
                unsafe {
                    let flags = libc::fcntl(tun.as_raw_fd(), libc::F_GETFL);
                    libc::fcntl(tun.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
                }
                Ok(tun)
            })
            .join()
            .map_err(|_| "the TUN thread panicked".to_string())?
    })
}

/// A datagram waiting for its time.
type Held = Reverse<(Instant, u64, Vec<u8>)>;

/// The router: reads every packet from the TUN, asks `model` its fate, and writes it back
/// when due, until `stop`.
fn route(tun: File, mut model: Box<dyn LinkModel>, stop: &AtomicBool, counts: &RouterCounts) {
    let fd = tun.as_raw_fd();
    let mut held: BinaryHeap<Held> = BinaryHeap::new();
    let mut sequence = 0u64;
    let mut buffer = vec![0u8; 65_536];
    let mut out = &tun;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = held
            .peek()
            .map_or(Duration::from_millis(20), |Reverse((due, _, _))| {
                due.saturating_duration_since(now)
            })
            .min(Duration::from_millis(20));
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: wait.as_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd and a valid timespec.
        unsafe { libc::ppoll(&mut poll, 1, &timeout, std::ptr::null()) };
        loop {
            // SAFETY: reading into a buffer of its own length.
            let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
            if n <= 0 {
                break;
            }
            let packet = &buffer[..n as usize];
            let fate = match endpoints(packet) {
                Some((from, to)) => model.fate(from, to, packet.len()),
                None => {
                    counts.other.fetch_add(1, Ordering::Relaxed);
                    Some(Duration::ZERO)
                }
            };
            match fate {
                Some(delay) => {
                    sequence += 1;
                    held.push(Reverse((Instant::now() + delay, sequence, packet.to_vec())));
                }
                None => {
                    counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let now = Instant::now();
        while held.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            let Reverse((_, _, packet)) = held.pop().expect("peeked");
            if out.write(&packet).is_ok() {
                counts.forwarded.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The source and destination hosts of an IPv4 packet between two hosts.
fn endpoints(packet: &[u8]) -> Option<(usize, usize)> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let from = host_of(packet[12..16].try_into().ok()?)?;
    let to = host_of(packet[16..20].try_into().ok()?)?;
    Some((from, to))
}
