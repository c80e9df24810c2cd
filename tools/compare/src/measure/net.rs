//! UDP datagram and loopback byte counters of the current network namespace.
//!
//! Every system is measured here, outside their code: `Udp: OutDatagrams` from
//! /proc/self/net/snmp counts every UDP datagram sent (requests and answers alike), and the
//! `lo` line of /proc/self/net/dev counts the bytes. Run in a private namespace
//! ([`super::netns`]) so that nothing else on the machine adds to them.

use std::fs;
use std::net::UdpSocket;
use std::time::Duration;

/// One reading of the counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetCounters {
    /// UDP datagrams sent in this namespace (IPv4 and IPv6).
    pub udp_out: u64,
    /// UDP datagrams delivered to a socket in this namespace.
    pub udp_in: u64,
    /// Bytes sent on `lo`, link, IP and UDP headers included.
    pub lo_bytes: u64,
    /// Packets sent on `lo`.
    pub lo_packets: u64,
}

impl NetCounters {
    /// Reads the counters now; zeros where a file cannot be read.
    pub fn read() -> NetCounters {
        let (udp_in, udp_out) = read_snmp().unwrap_or((0, 0));
        let (udp6_in, udp6_out) = read_snmp6().unwrap_or((0, 0));
        let (udp_in, udp_out) = (udp_in + udp6_in, udp_out + udp6_out);
        let (lo_bytes, lo_packets) = read_lo().unwrap_or((0, 0));
        NetCounters {
            udp_out,
            udp_in,
            lo_bytes,
            lo_packets,
        }
    }

    /// Counter growth from `earlier` to `self`.
    pub fn since(&self, earlier: &NetCounters) -> NetCounters {
        NetCounters {
            udp_out: self.udp_out.saturating_sub(earlier.udp_out),
            udp_in: self.udp_in.saturating_sub(earlier.udp_in),
            lo_bytes: self.lo_bytes.saturating_sub(earlier.lo_bytes),
            lo_packets: self.lo_packets.saturating_sub(earlier.lo_packets),
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &NetCounters) {
        self.udp_out += other.udp_out;
        self.udp_in += other.udp_in;
        self.lo_bytes += other.lo_bytes;
        self.lo_packets += other.lo_packets;
    }

    /// UDP payload bytes: `lo` bytes less `overhead` header bytes per packet.
    pub fn payload_bytes(&self, overhead: u64) -> u64 {
        self.lo_bytes
            .saturating_sub(overhead.saturating_mul(self.lo_packets))
    }
}

/// `(InDatagrams, OutDatagrams)` of the `Udp:` lines.
fn read_snmp() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/self/net/snmp").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let field = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some((field("InDatagrams")?, field("OutDatagrams")?))
}

/// `(Udp6InDatagrams, Udp6OutDatagrams)` of /proc/self/net/snmp6: a peer that also speaks
/// IPv6 on `::1` is counted too (none of the systems is given an IPv6 bootstrap).
fn read_snmp6() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/self/net/snmp6").ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    Some((field("Udp6InDatagrams")?, field("Udp6OutDatagrams")?))
}

/// `(transmit bytes, transmit packets)` of `lo`.
fn read_lo() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/self/net/dev").ok()?;
    let line = text.lines().find(|l| l.trim_start().starts_with("lo:"))?;
    let fields: Vec<u64> = line
        .split_once(':')?
        .1
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // 8 receive fields, then transmit bytes and packets.
    Some((*fields.get(8)?, *fields.get(9)?))
}

/// Measures the per-packet header bytes `lo` counts beyond the UDP payload, by sending
/// datagrams of known size to ourselves. Falls back to 42 (Ethernet 14 + IPv4 20 + UDP 8).
pub fn calibrate_overhead() -> u64 {
    const COUNT: u64 = 32;
    const SIZE: usize = 100;
    let measured = (|| -> std::io::Result<Option<u64>> {
        let rx = UdpSocket::bind("127.0.0.1:0")?;
        rx.set_read_timeout(Some(Duration::from_millis(200)))?;
        let tx = UdpSocket::bind("127.0.0.1:0")?;
        let before = NetCounters::read();
        for _ in 0..COUNT {
            tx.send_to(&[0u8; SIZE], rx.local_addr()?)?;
        }
        let mut buf = [0u8; SIZE];
        for _ in 0..COUNT {
            rx.recv_from(&mut buf)?;
        }
        let d = NetCounters::read().since(&before);
        if d.lo_packets == 0 {
            return Ok(None);
        }
        Ok((d.lo_bytes / d.lo_packets).checked_sub(SIZE as u64))
    })();
    measured.ok().flatten().unwrap_or(42)
}
