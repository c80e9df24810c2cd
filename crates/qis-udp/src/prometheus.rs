//! A node's counters in the Prometheus text exposition format 0.0.4 ([`render`]), and the
//! lookup counts and latency histogram the driver keeps for it ([`LookupStats`]).
//!
//! Every name starts with `qis_`; counters end in `_total`; drops are one counter with a
//! `reason` label, one value per `dropped_*` counter of [`qis_core::Metrics`].

use super::handle::NodeStats;
use std::fmt::Write as _;
use std::time::Duration;

/// Upper bounds of the lookup latency buckets, in microseconds (5 ms to 10 s); the last
/// bucket, `+Inf`, is implicit.
pub const LOOKUP_BUCKETS_US: [u64; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

/// A fixed-bucket histogram of durations: bounded memory whatever it observes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LatencyHistogram {
    /// Observations per bucket, not cumulative: `buckets[i]` counts those above
    /// `LOOKUP_BUCKETS_US[i - 1]` and at most `LOOKUP_BUCKETS_US[i]`; the last one those above
    /// every bound.
    pub buckets: [u64; LOOKUP_BUCKETS_US.len() + 1],
    /// Sum of every observation, in microseconds.
    pub sum_us: u64,
    /// Observations.
    pub count: u64,
}

impl LatencyHistogram {
    /// Counts one duration.
    pub fn observe(&mut self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LOOKUP_BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(LOOKUP_BUCKETS_US.len());
        self.buckets[bucket] = self.buckets[bucket].saturating_add(1);
        self.sum_us = self.sum_us.saturating_add(us);
        self.count = self.count.saturating_add(1);
    }

    /// Cumulative counts: for each bound of [`LOOKUP_BUCKETS_US`] then `+Inf`, the
    /// observations at most that long.
    pub fn cumulative(&self) -> [u64; LOOKUP_BUCKETS_US.len() + 1] {
        let mut total = 0u64;
        self.buckets.map(|n| {
            total = total.saturating_add(n);
            total
        })
    }
}

/// The lookups of finished commands, by kind, and how long they took (all kinds together).
/// Lookups the node starts by itself (table refreshes, republishing) are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LookupStats {
    /// `find_node` commands finished.
    pub find_node: u64,
    /// `get` commands finished.
    pub get: u64,
    /// `put` and `publish` commands finished (their first store).
    pub put: u64,
    /// `bootstrap` commands finished.
    pub bootstrap: u64,
    /// How long each of them took.
    pub duration: LatencyHistogram,
}

/// Which command a lookup served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupKind {
    FindNode,
    Get,
    Put,
    Bootstrap,
}

impl LookupStats {
    /// Counts one finished lookup.
    pub(crate) fn observe(&mut self, kind: LookupKind, elapsed: Duration) {
        let counter = match kind {
            LookupKind::FindNode => &mut self.find_node,
            LookupKind::Get => &mut self.get,
            LookupKind::Put => &mut self.put,
            LookupKind::Bootstrap => &mut self.bootstrap,
        };
        *counter = counter.saturating_add(1);
        self.duration.observe(elapsed);
    }
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Collects metric families: one `# HELP` and `# TYPE` line each, then its samples.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", label(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn labelled(&mut self, name: &str, kind: &str, help: &str, key: &str, values: &[(&str, u64)]) {
        self.family(name, kind, help);
        for (value, n) in values {
            self.sample(name, &[(key, value)], n);
        }
    }
}

/// The node's role and reachability: `qis_reachable` is 1 for a node others can reach (a full
/// node, by its checks or by its fixed role), 0 for a client.
fn reachability(e: &mut Exposition, stats: &NodeStats) {
    let full = stats.role == qis_core::wire::Role::Node;
    e.single(
        "qis_reachable",
        "gauge",
        "1 if the node serves as a full node others can reach (by its reachability checks, or a fixed --role node), 0 for a client.",
        u8::from(full),
    );
    let verdict = stats
        .reachability
        .map(|r| r.verdict.name())
        .unwrap_or("fixed");
    e.family(
        "qis_reachability_verdict",
        "gauge",
        "What the reachability checks decided (fixed: a fixed --role, no checks); always 1.",
    );
    e.sample("qis_reachability_verdict", &[("verdict", verdict)], 1);
    let m = &stats.metrics;
    e.single(
        "qis_reachability_checks_total",
        "counter",
        "Reachability checks started (each asks up to 3 peers in distinct prefixes to probe us).",
        m.reach_checks,
    );
    e.single(
        "qis_reachability_probes_received_total",
        "counter",
        "Dial-back probes received that counted for one of our checks.",
        m.reach_probes_received,
    );
    e.single(
        "qis_reachability_probes_sent_total",
        "counter",
        "Dial-back probes sent for other nodes' checks, from the audit socket.",
        m.reach_probes_sent,
    );
    e.single(
        "qis_observes_answered_total",
        "counter",
        "Observe requests answered (the address we see the requester at).",
        m.observes_answered,
    );
}

/// Seconds from microseconds, as Prometheus writes floats (`0.25`, `1`, `10`).
fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Every `dropped_*` counter of `m` under its `reason` label, in one fixed order: the labels
/// of `qis_datagrams_dropped_total`, and the names `qis status` shows.
pub fn drop_reasons(m: &qis_core::Metrics) -> [(&'static str, u64); 14] {
    [
        ("malformed", m.dropped_malformed),
        ("oversize", m.dropped_oversize),
        ("version", m.dropped_version),
        ("wrong_network", m.dropped_wrong_network),
        ("unknown_txid", m.dropped_unknown_txid),
        ("spoofed", m.dropped_spoofed),
        ("wrong_sender", m.dropped_wrong_sender),
        ("unproven", m.dropped_unproven),
        ("unexpected", m.dropped_unexpected),
        ("rate_limited", m.dropped_rate_limited),
        ("over_budget", m.dropped_over_budget),
        ("not_serving", m.dropped_not_serving),
        ("audit_request", m.dropped_audit_request),
        ("probe", m.dropped_probe),
    ]
}

/// `stats` in the Prometheus text exposition format 0.0.4 (served with [`CONTENT_TYPE`]).
pub fn render(stats: &NodeStats) -> String {
    let m = &stats.metrics;
    let mut e = Exposition {
        out: String::with_capacity(8 * 1024),
    };
    e.family(
        "qis_node_info",
        "gauge",
        "The node's id and listening address (always 1).",
    );
    e.sample(
        "qis_node_info",
        &[("id", &stats.id), ("addr", &stats.addr.to_string())],
        1,
    );
    e.single(
        "qis_datagrams_received_total",
        "counter",
        "Datagrams received.",
        m.datagrams_in,
    );
    e.single(
        "qis_bytes_received_total",
        "counter",
        "Bytes received.",
        m.bytes_in,
    );
    e.single(
        "qis_datagrams_sent_total",
        "counter",
        "Datagrams sent.",
        m.datagrams_out,
    );
    e.single(
        "qis_bytes_sent_total",
        "counter",
        "Bytes sent.",
        m.bytes_out,
    );
    e.single(
        "qis_upload_shed_total",
        "counter",
        "Datagrams of our own not sent because the upload budget (--max-upload) was spent.",
        m.upload_shed,
    );
    e.labelled(
        "qis_datagrams_dropped_total",
        "counter",
        "Datagrams dropped, by reason (each drop is counted under exactly one reason).",
        "reason",
        &drop_reasons(m),
    );
    e.single(
        "qis_forged_records_dropped_total",
        "counter",
        "Records dropped from answers to our gets because their signature or contents fail the record policy.",
        m.dropped_forged_records,
    );
    e.single(
        "qis_contacts_refused_total",
        "counter",
        "Contacts dropped from answers because no node can be at their address (unspecified, port 0, multicast, broadcast).",
        m.contacts_refused,
    );
    e.single(
        "qis_requests_answered_total",
        "counter",
        "Requests answered.",
        m.requests_answered,
    );
    e.single(
        "qis_requests_sent_total",
        "counter",
        "Requests sent (retries included).",
        m.requests_sent,
    );
    e.single(
        "qis_requests_failed_total",
        "counter",
        "Requests that got no answer after all attempts.",
        m.requests_failed,
    );
    e.single(
        "qis_request_retries_total",
        "counter",
        "Requests resent after a timeout.",
        m.retries,
    );
    e.single(
        "qis_identity_proofs_sent_total",
        "counter",
        "Identity proofs sent in answer to challenges.",
        m.proofs_sent,
    );
    e.single(
        "qis_identity_proofs_checked_total",
        "counter",
        "Identity proofs checked in answers of challenged responders.",
        m.proofs_checked,
    );
    e.single(
        "qis_id_work_evaluations_total",
        "counter",
        "Identity proofs whose id work was evaluated (first meetings: one Argon2id evaluation each).",
        m.id_work_evaluations,
    );
    e.single(
        "qis_identity_proofs_withheld_total",
        "counter",
        "Challenges answered without a proof because the requester's prefix was over its share of the signing budget.",
        m.proofs_withheld,
    );
    e.single(
        "qis_network_notices_sent_total",
        "counter",
        "Answers telling a requester of another network which network this node runs.",
        m.network_notices_sent,
    );
    e.single(
        "qis_encode_failures_total",
        "counter",
        "Own messages that did not encode within the datagram budget (a bug; not sent).",
        m.encode_failures,
    );
    e.single(
        "qis_first_contacts_limited_total",
        "counter",
        "Lookup requests not sent to a host that never answered us, over its first contacts this minute (the candidate counted as failed).",
        m.first_contacts_limited,
    );
    e.single(
        "qis_answers_cut_total",
        "counter",
        "Answers cut to respect the amplification limit.",
        m.answers_cut,
    );
    e.single(
        "qis_records_stored_total",
        "counter",
        "Records stored for others (new or refreshed).",
        m.records_stored,
    );
    e.single(
        "qis_records_restored_total",
        "counter",
        "Records held for others before a restart and taken back from the node's journal.",
        m.records_restored,
    );
    e.labelled(
        "qis_stores_refused_total",
        "counter",
        "Stores refused, by reason.",
        "reason",
        &[
            ("token", m.store_refused_token),
            ("invalid", m.store_refused_invalid),
            ("full", m.store_refused_full),
            ("busy", m.store_refused_busy),
            ("publisher_quota", m.store_refused_publisher_quota),
            ("prefix_quota", m.store_refused_prefix_quota),
            ("future", m.store_refused_future),
        ],
    );
    e.single(
        "qis_records_evicted_total",
        "counter",
        "Stored records evicted to make room for a newcomer.",
        m.records_evicted,
    );
    e.single(
        "qis_records_expired_total",
        "counter",
        "Stored records that expired.",
        m.records_expired,
    );
    e.single(
        "qis_routing_table_refused_prefix_total",
        "counter",
        "Nodes that answered but were kept out of the routing table because their /24 (IPv6 /48) holds its share of a bucket or of the table.",
        m.table_refused_prefix,
    );
    e.single(
        "qis_put_holders_audited_total",
        "counter",
        "Holders our puts and republishes audited from the audit socket.",
        m.holders_audited,
    );
    e.single(
        "qis_put_holders_verified_total",
        "counter",
        "Audited holders that served the record they acknowledged.",
        m.holders_verified,
    );
    reachability(&mut e, stats);
    e.single(
        "qis_routing_table_entries",
        "gauge",
        "Nodes in the routing table.",
        stats.table_size,
    );
    e.single(
        "qis_stored_records",
        "gauge",
        "Records held for others.",
        stats.records,
    );
    e.single(
        "qis_sends_dropped_total",
        "counter",
        "Datagrams not sent because the socket's send buffer was full.",
        stats.sends_dropped,
    );
    if let Some(j) = &stats.journal {
        e.single(
            "qis_journal_entries_total",
            "counter",
            "Changes to the held records written to the journal since start.",
            j.entries,
        );
        e.single(
            "qis_journal_commits_total",
            "counter",
            "Group commits of the journal (one write and one sync each).",
            j.commits,
        );
        e.single(
            "qis_journal_compactions_total",
            "counter",
            "Rewrites of the journal from the held records.",
            j.compactions,
        );
        e.single(
            "qis_journal_failures_total",
            "counter",
            "Journal commits that failed (the datagrams of that batch were not sent).",
            j.failures,
        );
        e.single(
            "qis_journal_bytes",
            "gauge",
            "Size of the journal of held records.",
            j.bytes,
        );
    }
    e.single(
        "qis_mismatched_peers",
        "gauge",
        "Peers remembered for sending datagrams of another protocol version or network.",
        stats.mismatches.len(),
    );
    e.single(
        "qis_port_mapped",
        "gauge",
        "Whether the gateway holds a port mapping for this node (qis node --port-mapping): 1 or 0.",
        u8::from(crate::portmap::current_mapping().is_some()),
    );
    let l = &stats.lookups;
    e.labelled(
        "qis_lookups_total",
        "counter",
        "Lookups of finished commands, by kind.",
        "kind",
        &[
            ("find_node", l.find_node),
            ("get", l.get),
            ("put", l.put),
            ("bootstrap", l.bootstrap),
        ],
    );
    let name = "qis_lookup_duration_seconds";
    e.family(
        name,
        "histogram",
        "How long the lookups of finished commands took, all kinds together.",
    );
    let cumulative = l.duration.cumulative();
    for (bound, n) in LOOKUP_BUCKETS_US.iter().zip(cumulative) {
        e.sample(
            "qis_lookup_duration_seconds_bucket",
            &[("le", &seconds(*bound).to_string())],
            n,
        );
    }
    e.sample(
        "qis_lookup_duration_seconds_bucket",
        &[("le", "+Inf")],
        l.duration.count,
    );
    e.sample(
        "qis_lookup_duration_seconds_sum",
        &[],
        seconds(l.duration.sum_us),
    );
    e.sample("qis_lookup_duration_seconds_count", &[], l.duration.count);
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use qis_core::Metrics;

    fn stats(metrics: Metrics, lookups: LookupStats) -> NodeStats {
        NodeStats {
            id: "ab".repeat(32),
            addr: "127.0.0.1:4000".parse().unwrap(),
            role: qis_core::wire::Role::Node,
            table_size: 7,
            records: 3,
            metrics,
            mismatches: Vec::new(),
            notices_sent: metrics.network_notices_sent,
            lookups,
            journal: None,
            sends_dropped: 0,
            reachability: None,
        }
    }

    /// Every `dropped_*` field a distinct power of two, so a sum names which were counted.
    fn distinct_drops() -> Metrics {
        Metrics {
            datagrams_in: 11,
            bytes_in: 1234,
            dropped_malformed: 1,
            dropped_oversize: 2,
            dropped_version: 4,
            dropped_wrong_network: 8,
            dropped_unknown_txid: 16,
            dropped_spoofed: 32,
            dropped_wrong_sender: 64,
            dropped_unexpected: 128,
            dropped_rate_limited: 256,
            dropped_not_serving: 512,
            dropped_over_budget: 2048,
            dropped_unproven: 4096,
            dropped_audit_request: 8192,
            dropped_probe: 16384,
            dropped_forged_records: 1024,
            ..Metrics::default()
        }
    }

    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').expect("name value");
                (name.to_string(), value.parse().expect("a number"))
            })
            .collect()
    }

    fn value(text: &str, series: &str) -> f64 {
        samples(text)
            .into_iter()
            .find(|(name, _)| name == series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .1
    }

    #[test]
    fn known_counts_give_exact_lines() {
        let mut lookups = LookupStats::default();
        lookups.observe(LookupKind::Get, Duration::from_millis(3));
        lookups.observe(LookupKind::Get, Duration::from_millis(40));
        lookups.observe(LookupKind::Bootstrap, Duration::from_secs(20));
        let text = render(&stats(distinct_drops(), lookups));
        for line in [
            "# HELP qis_datagrams_received_total Datagrams received.",
            "# TYPE qis_datagrams_received_total counter",
            "qis_datagrams_received_total 11",
            "qis_bytes_received_total 1234",
            "# TYPE qis_datagrams_dropped_total counter",
            "qis_datagrams_dropped_total{reason=\"malformed\"} 1",
            "qis_datagrams_dropped_total{reason=\"wrong_network\"} 8",
            "qis_datagrams_dropped_total{reason=\"not_serving\"} 512",
            "qis_forged_records_dropped_total 1024",
            "# TYPE qis_routing_table_entries gauge",
            "qis_routing_table_entries 7",
            "qis_stored_records 3",
            "# TYPE qis_port_mapped gauge",
            "qis_port_mapped 0",
            "qis_lookups_total{kind=\"find_node\"} 0",
            "qis_lookups_total{kind=\"get\"} 2",
            "qis_lookups_total{kind=\"bootstrap\"} 1",
            "# TYPE qis_lookup_duration_seconds histogram",
            "qis_lookup_duration_seconds_bucket{le=\"0.005\"} 1",
            "qis_lookup_duration_seconds_bucket{le=\"0.025\"} 1",
            "qis_lookup_duration_seconds_bucket{le=\"0.05\"} 2",
            "qis_lookup_duration_seconds_bucket{le=\"10\"} 2",
            "qis_lookup_duration_seconds_bucket{le=\"+Inf\"} 3",
            "qis_lookup_duration_seconds_sum 20.043",
            "qis_lookup_duration_seconds_count 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn every_drop_reason_is_exposed_once() {
        let metrics = distinct_drops();
        let text = render(&stats(metrics, LookupStats::default()));
        let reasons: Vec<(String, f64)> = samples(&text)
            .into_iter()
            .filter(|(name, _)| name.starts_with("qis_datagrams_dropped_total{"))
            .collect();
        assert_eq!(reasons.len(), 14, "{reasons:?}");
        let sum: f64 = reasons.iter().map(|(_, v)| v).sum();
        // A dropped_* counter added to Metrics::dropped() but not here fails this.
        assert_eq!(sum, metrics.dropped() as f64);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = LatencyHistogram::default();
        for ms in [1, 5, 6, 30, 30, 999, 1000, 1001, 60_000] {
            h.observe(Duration::from_millis(ms));
        }
        // 5 ms is at most the 5 ms bound (le is inclusive).
        assert_eq!(h.cumulative(), [2, 3, 3, 5, 5, 5, 5, 7, 8, 8, 8, 9]);
        assert_eq!(h.count, 9);
        let mut lookups = LookupStats {
            duration: h,
            ..LookupStats::default()
        };
        lookups.observe(LookupKind::Put, Duration::ZERO);
        let text = render(&stats(Metrics::default(), lookups));
        let buckets: Vec<f64> = samples(&text)
            .into_iter()
            .filter(|(name, _)| name.starts_with("qis_lookup_duration_seconds_bucket"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(buckets.len(), LOOKUP_BUCKETS_US.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        assert_eq!(
            *buckets.last().unwrap(),
            value(&text, "qis_lookup_duration_seconds_count")
        );
        assert_eq!(value(&text, "qis_lookups_total{kind=\"put\"}"), 1.0);
    }

    #[test]
    fn names_follow_the_prometheus_rules() {
        let mut lookups = LookupStats::default();
        lookups.observe(LookupKind::FindNode, Duration::from_millis(7));
        let text = render(&stats(distinct_drops(), lookups));
        let valid_name = |n: &str| {
            let mut chars = n.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let valid_label = |n: &str| valid_name(n) && !n.contains(':') && !n.starts_with("__");
        let mut families = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(valid_name(name) && name.starts_with("qis_"), "{name}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{kind}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "counter {name}");
                }
                assert!(
                    families.insert(name.to_string(), kind).is_none(),
                    "{name} twice"
                );
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, _) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.strip_suffix('}').unwrap()),
                None => (series, ""),
            };
            assert!(valid_name(name), "{name}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| families.get(*f) == Some(&"histogram"))
                })
                .unwrap_or(name);
            assert!(families.contains_key(family), "{name} before its # TYPE");
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap();
                assert!(valid_label(key), "{key}");
                assert!(value.starts_with('"') && value.ends_with('"'), "{value}");
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
