//! `qis node --metrics`: a real node process serving its counters in the Prometheus text format,
//! read over HTTP before and after a `qis ping` to it; and a public address refused without
//! `--metrics-public`.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for the node to come up (a failure bound, not a measurement).
const PATIENCE: Duration = Duration::from_secs(20);

fn scratch(name: &str) -> PathBuf {
    support::scratch("metrics", name)
}

/// A loopback port free for UDP and one free for TCP, right now.
fn free_ports() -> (u16, u16) {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        udp.local_addr().unwrap().port(),
        tcp.local_addr().unwrap().port(),
    )
}

/// A child process killed (and its scratch directory removed) when dropped, even on a panic.
struct Killed {
    child: Child,
    home: PathBuf,
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// `GET path` over a fresh connection: the status line, headers and body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(String, String, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no head in {answer:?}")))?;
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    Ok((status.to_string(), headers.to_string(), body.to_string()))
}

/// Samples by series (`name{labels}`), checking each line is a comment or `series value`.
fn parse(exposition: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in exposition.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        assert!(series.starts_with("qis_"), "{line:?}");
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

fn metrics(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, headers, body) = get(addr, "/metrics").expect("GET /metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("Content-Type: text/plain; version=0.0.4"),
        "{headers}"
    );
    parse(&body)
}

#[test]
fn the_endpoint_counts_a_ping() {
    let home = scratch("ping");
    let (port, metrics_port) = free_ports();
    let node_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let metrics_addr: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let child = support::qis(&home)
        .args(["node", "--status-every", "0"])
        .args(["--listen", &node_addr.to_string()])
        .args(["--metrics", &metrics_addr.to_string()])
        .arg("--data-dir")
        .arg(home.join("node"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qis node");
    let node = Killed { child, home };

    let started = Instant::now();
    let before = loop {
        match get(metrics_addr, "/metrics") {
            Ok(_) => break metrics(metrics_addr),
            Err(_) if started.elapsed() < PATIENCE => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => panic!("no metrics endpoint at {metrics_addr}: {error}"),
        }
    };
    for series in [
        "qis_datagrams_received_total",
        "qis_bytes_received_total",
        "qis_requests_answered_total",
        "qis_datagrams_dropped_total{reason=\"malformed\"}",
        "qis_datagrams_dropped_total{reason=\"rate_limited\"}",
        "qis_routing_table_entries",
        "qis_stored_records",
        "qis_lookups_total{kind=\"get\"}",
        "qis_lookup_duration_seconds_bucket{le=\"+Inf\"}",
        "qis_lookup_duration_seconds_count",
    ] {
        assert!(before.contains_key(series), "no {series} in {before:?}");
    }
    let (status, _, _) = get(metrics_addr, "/").unwrap();
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    let ping = support::qis(&node.home)
        .args(["ping", &node_addr.to_string()])
        .output()
        .expect("run qis ping");
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stderr)
    );

    // The node counts the ping before it answers, so the counters have moved by now.
    let after = metrics(metrics_addr);
    for series in [
        "qis_datagrams_received_total",
        "qis_bytes_received_total",
        "qis_datagrams_sent_total",
        "qis_requests_answered_total",
    ] {
        assert!(
            after[series] > before[series],
            "{series}: {} then {}",
            before[series],
            after[series]
        );
    }
}

#[test]
fn a_public_address_needs_metrics_public() {
    let home = scratch("public");
    let output = support::qis(&home)
        .args(["node", "--listen", "127.0.0.1:0", "--status-every", "0"])
        .args(["--metrics", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(home.join("node"))
        .output()
        .expect("run qis node");
    let _ = std::fs::remove_dir_all(&home);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("--metrics-public"), "{stderr}");
}
