//! A closed-loop UDP load generator: keeps a fixed window of requests outstanding against one
//! node and counts the answers per second. The same loop drives both systems; only the
//! [`LoadProtocol`] (how a request is written, how an answer is recognised) differs.

use crate::rng::Rng;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How one system's find-node request and answer look on the wire.
pub trait LoadProtocol: Send {
    /// Writes into `buf` (cleared first) one find-node request for a random target, carrying
    /// transaction id `txid`.
    fn encode_request(&mut self, txid: u32, rng: &mut Rng, buf: &mut Vec<u8>);

    /// The transaction id of `datagram` if it is an answer to one of our requests.
    fn decode_reply(&self, datagram: &[u8]) -> Option<u32>;
}

/// Load settings.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The node under load (loopback only).
    pub target: SocketAddr,
    /// How long to send.
    pub duration: Duration,
    /// Requests kept outstanding.
    pub window: usize,
    /// Source addresses to send from (one socket each on 127.1.x.y, requests round-robin);
    /// 1 sends from 127.0.0.1.
    pub sources: usize,
    /// A request unanswered this long is counted lost and its slot reused.
    pub timeout: Duration,
    /// Hard cap on requests sent, whatever the duration.
    pub max_requests: u64,
    /// Seed of requester ids and targets.
    pub seed: u64,
}

/// What the node did under load.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoadResult {
    /// Requests sent.
    pub sent: u64,
    /// Answers matched to an outstanding request.
    pub answered: u64,
    /// Requests given up on after the timeout.
    pub lost: u64,
    /// Wall time of the run, seconds.
    pub secs: f64,
    /// Answers per second.
    pub answers_per_sec: f64,
    /// Median request-to-answer time, microseconds.
    pub p50_us: u64,
    /// 99th percentile request-to-answer time, microseconds.
    pub p99_us: u64,
}

/// Runs the load on the calling thread until `duration` or `max_requests` is reached.
pub fn run(proto: &mut dyn LoadProtocol, cfg: &LoadConfig) -> std::io::Result<LoadResult> {
    assert!(
        cfg.target.ip().is_loopback(),
        "load only ever goes to loopback"
    );
    let sockets = bind_sources(cfg.sources)?;
    let mut rng = Rng::new(cfg.seed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut outstanding: HashMap<u32, Instant> = HashMap::with_capacity(cfg.window * 2);
    let (mut out, mut buf) = (Vec::with_capacity(1500), vec![0u8; 2048]);
    let mut result = LoadResult::default();
    let mut next_txid = 0u32;
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut last_expiry = start;

    while Instant::now() < deadline {
        while outstanding.len() < cfg.window && result.sent < cfg.max_requests {
            next_txid = next_txid.wrapping_add(1);
            proto.encode_request(next_txid, &mut rng, &mut out);
            let socket = &sockets[next_txid as usize % sockets.len()];
            socket.send_to(&out, cfg.target)?;
            outstanding.insert(next_txid, Instant::now());
            result.sent += 1;
        }
        if outstanding.is_empty() {
            break; // max_requests reached and all settled
        }
        wait_readable(&sockets, 2);
        for socket in &sockets {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == cfg.target => {
                    let answered = proto
                        .decode_reply(&buf[..n])
                        .and_then(|t| outstanding.remove(&t));
                    if let Some(sent_at) = answered {
                        result.answered += 1;
                        let _ = hist.record(sent_at.elapsed().as_micros().max(1) as u64);
                    }
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        let now = Instant::now();
        if now.duration_since(last_expiry) >= cfg.timeout / 4 {
            last_expiry = now;
            let before = outstanding.len();
            outstanding.retain(|_, at| now.duration_since(*at) < cfg.timeout);
            result.lost += (before - outstanding.len()) as u64;
        }
    }
    result.secs = start.elapsed().as_secs_f64();
    result.answers_per_sec = result.answered as f64 / result.secs.max(1e-9);
    result.p50_us = hist.value_at_quantile(0.5);
    result.p99_us = hist.value_at_quantile(0.99);
    Ok(result)
}

/// One non-blocking socket per source address: 127.0.0.1 alone for one source, else
/// 127.1.x.y (every 127/8 address is on `lo`).
fn bind_sources(sources: usize) -> std::io::Result<Vec<UdpSocket>> {
    let sockets = if sources <= 1 {
        vec![UdpSocket::bind("127.0.0.1:0")?]
    } else {
        (0..sources)
            .map(|i| {
                let ip = std::net::Ipv4Addr::new(127, 1, (i / 250) as u8, (1 + i % 250) as u8);
                UdpSocket::bind((ip, 0))
            })
            .collect::<std::io::Result<Vec<_>>>()?
    };
    for socket in &sockets {
        socket.set_nonblocking(true)?;
    }
    Ok(sockets)
}

/// Waits until one of `sockets` has a datagram, or `timeout_ms` passed.
fn wait_readable(sockets: &[UdpSocket], timeout_ms: i32) {
    use std::os::fd::AsRawFd;
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the call's duration.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
}
