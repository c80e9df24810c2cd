//! The report of one run: what was simulated, how lookups and values fared, and how fast the
//! simulator itself was. Everything except the speed figures (`wall_s`, `events_per_s`,
//! `peak_rss_bytes`, `bytes_per_node`) is a function of the configuration and seed alone.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Serialises a duration as seconds.
pub(crate) fn as_secs<S: Serializer>(d: &qis_core::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Summary of a small integer measure (hop depth, rounds, requests).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (sorted in place).
    pub fn of(values: &mut [u32]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        let at = |q: f64| f64::from(values[((values.len() - 1) as f64 * q).round() as usize]);
        let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
        Spread {
            mean: round3(sum as f64 / values.len() as f64),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Lookup latency percentiles in virtual milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// The distribution: the latency at every 5th percentile from 0 to 100 (for CDF plots).
    pub cdf: Vec<f64>,
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |q: f64| round3(h.value_at_quantile(q) as f64 / 1000.0);
        Latency {
            mean: round3(h.mean() / 1000.0),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            max: round3(h.max() as f64 / 1000.0),
            cdf: (0..=20).map(|i| ms(f64::from(i) / 20.0)).collect(),
        }
    }
}

/// Value availability under churn.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Values {
    /// Values published.
    pub published: u64,
    /// Puts acknowledged by at least one node.
    pub put_acked: u64,
    /// Mean acknowledgements per put.
    pub acks_mean: f64,
    /// Mean verified holders per put: nodes that acknowledged and then served the value to
    /// the publisher's audit (from another identity and address). Below `acks_mean` by the
    /// holders that acknowledged and discarded, or served the publisher only.
    pub verified_mean: f64,
    /// Puts with no verified holder (each reported it: a censored publication is known).
    pub puts_unverified: u64,
    /// Gets started.
    pub gets: u64,
    /// Gets that returned the value.
    pub found: u64,
    /// found / gets (1 when there were no gets).
    pub availability: f64,
}

/// How formation went.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Joins {
    /// Joins completed (including arrivals during churn).
    pub completed: u64,
    /// Bootstraps retried because the bootstrap node did not answer.
    pub retried: u64,
    /// Virtual seconds until every initial node had joined.
    pub formation_s: f64,
    /// Mean routing-table size when a join's self-lookup ends (its bucket refreshes, if any,
    /// have only just started).
    pub table_mean: f64,
    /// Mean routing-table size at the start of measurements.
    pub table_at_start_mean: f64,
}

/// Churn as it happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChurnCounts {
    /// Nodes that crashed (and came back later).
    pub crashes: u64,
    /// Records crashed nodes came back with (0 when crashes lose the store).
    pub records_kept: u64,
    /// Nodes that left for good.
    pub leaves: u64,
    /// Lookups abandoned because their initiator went away (excluded from the figures).
    pub abandoned: u64,
    /// Mean live nodes over the measurement samples.
    pub live_mean: f64,
}

/// The address model, and what the routing tables' prefix limits (per /24 in a bucket and in
/// the table) turned away.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PrefixLimits {
    /// Fraction of nodes the address model packs into shared /24s.
    pub clustered: f64,
    /// Mean nodes per shared /24 in the model.
    pub cluster_size: u64,
    /// /24s holding at least one node (of every node the run added).
    pub slash_24s: u64,
    /// Nodes that share their /24 with at least one other.
    pub nodes_sharing: u64,
    /// Nodes in the most crowded /24.
    pub largest_slash_24: u64,
    /// Routing-table entries of one bucket allowed per /24 (0: no limit).
    pub max_per_prefix_in_bucket: u64,
    /// Routing-table entries allowed per /24 in all (0: no limit).
    pub max_per_prefix_in_table: u64,
    /// Offers of a node that answered which a routing table refused for the prefix limits,
    /// summed over every node (`table_refused_prefix`, departed incarnations included; an
    /// offer refused again counts again).
    pub refused_admissions: u64,
    /// Live nodes at the end whose table refused at least one offer that way.
    pub nodes_refusing: u64,
    /// Live nodes at the end whose table is smaller because of the limits: one of its buckets
    /// has room while a live node of that bucket's id range is kept out by them.
    pub tables_short: u64,
    /// Places left empty that way, all tables summed (at most the room of each such bucket,
    /// at most its kept-out nodes; an upper bound, as some of those may never have answered
    /// that table's node).
    pub entries_missing: u64,
    /// Distinct live nodes kept out of at least one table that had room for them.
    pub nodes_kept_out: u64,
}

/// The report of one run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SimReport {
    /// Nodes (the population).
    pub nodes: u64,
    /// Lookups measured (finished).
    pub lookups: u64,
    /// Seed.
    pub seed: u64,
    /// `protocol` (every node joined through the protocol) or `prefill`.
    pub formation: String,
    /// Whether joins refreshed shallower buckets.
    pub join_refresh: bool,
    /// How nodes proved their ids: `modelled`, or `real` (ed25519 and Argon2id).
    pub identities: String,
    /// Disjoint paths each lookup walked.
    pub lookup_paths: usize,
    /// Disjoint paths each get walked.
    pub get_paths: usize,
    /// Average datagram loss rate configured.
    pub loss: f64,
    /// Mean loss burst length, if loss was bursty.
    pub burst: Option<f64>,
    /// Median session in seconds, if there was churn.
    pub churn_median_s: Option<f64>,
    /// Model round-trip time median and 99th percentile in ms.
    pub rtt_model_ms: [f64; 2],
    /// Lookups whose result contains the true closest live node, over lookups measured.
    pub success_rate: f64,
    /// Hop depth: depth at which the closest node found was learned (1 = own table).
    pub hops: Spread,
    /// Rounds: the longest chain of requests.
    pub rounds: Spread,
    /// Requests per lookup.
    pub requests_per_lookup: Spread,
    /// Mean fraction of the true k closest live nodes that the lookup returned.
    pub recall_k: f64,
    /// Lookup latency in virtual ms.
    pub latency_ms: Latency,
    /// Datagrams sent by all nodes during the measurement window, per lookup (background
    /// traffic such as verification pings included).
    pub datagrams_per_lookup: f64,
    /// Bytes sent during the measurement window, per lookup.
    pub bytes_per_lookup: f64,
    /// Those bytes per lookup by cause (ids, addresses, tokens, padding, proofs, records,
    /// framing; see `qis_core::wire::ByteCauses`).
    #[serde(default)]
    pub bytes_by_cause: qis_core::wire::ByteCauses,
    /// Bytes sent during the measurement window per live node and second (the same traffic as
    /// `bytes_per_node_hour`; with `--lookups 0` over two refresh intervals, the idle traffic
    /// of keeping the network up).
    #[serde(default)]
    pub bytes_per_node_s: f64,
    /// Bytes sent during the measurement window per live node and hour: what keeping the
    /// network up (maintenance, replication, republish, churn repair) and the workload cost
    /// each node.
    pub bytes_per_node_hour: f64,
    /// Fraction of datagrams lost in the network.
    pub loss_observed: f64,
    /// Datagrams sent to an address no simulated node has. Always 0 unless the simulator
    /// itself names a node by its slot index instead of its address (cores only ever send to
    /// addresses they were given); a test guards it.
    pub datagrams_unaddressed: u64,
    /// Formation.
    pub joins: Joins,
    /// Churn.
    pub churn: ChurnCounts,
    /// Values.
    pub values: Values,
    /// The adversaries and what they did, if the run had any.
    pub adversaries: Option<AdversaryReport>,
    /// The address model and what the prefix limits turned away.
    pub prefixes: PrefixLimits,
    /// What the reachability checks decided, if the run put nodes behind NATs
    /// (`--unreachable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<crate::ReachabilityReport>,
    /// Virtual seconds simulated.
    pub virtual_s: f64,
    /// Events processed.
    pub events: u64,
    /// Wall-clock seconds (speed figure: varies between runs).
    pub wall_s: f64,
    /// Events per wall-clock second (speed figure).
    pub events_per_s: f64,
    /// Peak resident memory of the process in bytes (speed figure).
    pub peak_rss_bytes: u64,
    /// Resident memory per node after formation (speed figure).
    pub bytes_per_node: u64,
}

/// Rounds to three decimals, so reports stay readable.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl SimReport {
    /// The report with the speed figures zeroed: what must be identical for the same seed.
    pub fn without_speed(&self) -> SimReport {
        SimReport {
            wall_s: 0.0,
            events_per_s: 0.0,
            peak_rss_bytes: 0,
            bytes_per_node: 0,
            ..self.clone()
        }
    }
}

/// Who attacked and how (`--adversaries`, `--attack`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdversaryReport {
    /// Fraction of nodes asked for (0 with only a targeted attack).
    pub fraction: f64,
    /// The attacks, in the order they were handed out, then the targeted one, if any.
    pub attacks: Vec<String>,
    /// Adversarial slots drawn (churn's replacements included), plus a targeted attack's
    /// nodes.
    pub nodes: u64,
    /// What they did.
    pub counts: crate::adversary::AttackCounts,
    /// The eclipse of chosen keys (`eclipse-key`), if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eclipse: Option<crate::targeted::EclipseReport>,
    /// The sybil attack on one routing table (`sybil-table`), if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sybil_table: Option<crate::targeted::SybilReport>,
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.hops;
        let r = &self.rounds;
        let l = &self.latency_ms;
        writeln!(
            f,
            "qis sim: {} nodes ({} formation, join refresh {}), seed {}",
            self.nodes,
            self.formation,
            if self.join_refresh { "on" } else { "off" },
            self.seed
        )?;
        write!(
            f,
            "  network     rtt median {:.0} ms, p99 {:.0} ms; loss {:.1}%",
            self.rtt_model_ms[0],
            self.rtt_model_ms[1],
            self.loss * 100.0
        )?;
        if let Some(b) = self.burst {
            write!(f, " in bursts of {b:.1}")?;
        }
        match self.churn_median_s {
            Some(m) => writeln!(
                f,
                "; churn median session {:.0} s ({} crashes, {} leaves)",
                m, self.churn.crashes, self.churn.leaves
            )?,
            None => writeln!(f, "; no churn")?,
        }
        writeln!(
            f,
            "  formation   {} joins in {:.1} virtual s, table {:.1} entries after the self-lookup, {:.1} when measuring starts",
            self.joins.completed,
            self.joins.formation_s,
            self.joins.table_mean,
            self.joins.table_at_start_mean
        )?;
        if self.lookups == 0 {
            // A success rate of no lookups would read 100%: say there was nothing to measure.
            writeln!(f, "  lookups     none measured")?;
        } else {
            writeln!(
                f,
                "  lookups     {}  success {:.2}%  recall(k) {:.4}",
                self.lookups,
                self.success_rate * 100.0,
                self.recall_k
            )?;
        }
        writeln!(
            f,
            "  hop depth   mean {:.2}  p50 {}  p90 {}  p99 {}  max {}   (log2 N = {:.1})",
            h.mean,
            h.p50,
            h.p90,
            h.p99,
            h.max,
            (self.nodes.max(1) as f64).log2()
        )?;
        writeln!(
            f,
            "  rounds      mean {:.2}  p50 {}  p90 {}  max {}",
            r.mean, r.p50, r.p90, r.max
        )?;
        writeln!(
            f,
            "  requests    {:.1} per lookup; {:.1} datagrams, {:.0} bytes per lookup (all traffic)",
            self.requests_per_lookup.mean, self.datagrams_per_lookup, self.bytes_per_lookup
        )?;
        let c = &self.bytes_by_cause;
        writeln!(
            f,
            "  bytes       per lookup: ids {} addresses {} padding {} proofs {} tokens {} records {} framing {}; {:.1} bytes/s per node",
            c.ids,
            c.addresses,
            c.padding,
            c.proofs,
            c.tokens,
            c.records,
            c.framing,
            self.bytes_per_node_s
        )?;
        writeln!(
            f,
            "  latency ms  p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
            l.p50, l.p90, l.p99, l.max
        )?;
        let p = &self.prefixes;
        writeln!(
            f,
            "  prefixes    {:.0}% of nodes in shared /24s (largest {}); limits refused {} offers at {} nodes; {} tables short by {} entries, {} nodes kept out",
            p.clustered * 100.0,
            p.largest_slash_24,
            p.refused_admissions,
            p.nodes_refusing,
            p.tables_short,
            p.entries_missing,
            p.nodes_kept_out
        )?;
        if self.values.published > 0 {
            let v = &self.values;
            writeln!(
                f,
                "  values      {} published ({:.1} acks, {:.1} verified each), {} gets, availability {:.2}%",
                v.published,
                v.acks_mean,
                v.verified_mean,
                v.gets,
                v.availability * 100.0
            )?;
        }
        if let Some(r) = &self.reachability {
            writeln!(
                f,
                "  reachability {} behind NATs ({:.0}%): verdicts of those {} reachable, {} unreachable, {} unknown; of open nodes {} reachable, {} unreachable, {} unknown; {} table entries point behind a NAT",
                r.behind_nat,
                r.fraction * 100.0,
                r.natted.reachable,
                r.natted.unreachable,
                r.natted.unknown,
                r.open.reachable,
                r.open.unreachable,
                r.open.unknown,
                r.table_entries_to_natted
            )?;
        }
        if let Some(a) = &self.adversaries {
            let c = &a.counts;
            writeln!(
                f,
                "  adversaries {} nodes ({:.0}%: {}); dropped {}, misrouted {}, stores discarded {}, values withheld {}",
                a.nodes,
                a.fraction * 100.0,
                a.attacks.join(","),
                c.dropped,
                c.misrouted,
                c.stores_discarded,
                c.values_withheld
            )?;
            if let Some(e) = &a.eclipse {
                writeln!(
                    f,
                    "  eclipse     {} CPU-h = {} ids, {} nodes ({}, {} /24s, {} joined)",
                    e.cpu_hours,
                    e.valid_ids,
                    e.attacker_nodes,
                    e.address_plan,
                    e.attacker_slash_24s,
                    e.attacker_nodes_joined
                )?;
                for key in &e.keys {
                    writeln!(
                        f,
                        "    value {}  attackers in closest {}: {} at publication, {} at end (model {:.1}); retrieval {}/{} = {:.2}%",
                        key.value,
                        e.closest,
                        key.attackers_in_closest_at_publication
                            .map_or("-".to_string(), |n| n.to_string()),
                        key.attackers_in_closest_at_end,
                        key.expected_attackers_in_closest,
                        key.found,
                        key.gets,
                        key.retrieval * 100.0
                    )?;
                }
            }
            if let Some(s) = &a.sybil_table {
                writeln!(
                    f,
                    "  sybil-table {} CPU-h = {} ids, {} nodes ({}, {} /24s); victim slot {}: {} of {} entries attackers ({:.1}%), max {} from one /24, {} refused for prefixes, {} kept out; victim lookups {} success {:.2}%",
                    s.cpu_hours,
                    s.valid_ids,
                    s.attacker_nodes,
                    s.address_plan,
                    s.attacker_slash_24s,
                    s.victim_slot,
                    s.attacker_entries,
                    s.victim_table_size,
                    s.attacker_share * 100.0,
                    s.attacker_entries_max_per_slash_24,
                    s.victim_refused_prefix,
                    s.attackers_kept_out,
                    s.victim_lookups,
                    s.victim_success_rate * 100.0
                )?;
            }
        }
        writeln!(
            f,
            "  simulator   {:.1} virtual s, {} events in {:.2} wall s ({:.0} events/s), peak RSS {:.1} MiB, {} bytes/node",
            self.virtual_s,
            self.events,
            self.wall_s,
            self.events_per_s,
            self.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            self.bytes_per_node
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_small_integers() {
        let mut v = vec![3, 1, 2, 2, 2, 4, 2, 2, 2, 2];
        let s = Spread::of(&mut v);
        assert_eq!((s.p50, s.max), (2.0, 4.0));
        assert!((s.mean - 2.2).abs() < 1e-9);
        assert_eq!(Spread::of(&mut []), Spread::default());
    }
}
