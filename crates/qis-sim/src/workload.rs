//! Workloads: random FIND_NODE lookups, and values published then fetched, spread over the
//! measurement window; and the collection of what they measured.

use super::config::SimConfig;
use super::random::{SimRng, mix};
use super::report::{Latency, Spread, Values, round3};
use super::truth::LiveIndex;
use hdrhistogram::Histogram;
use qis_core::Id;
use qis_core::Identity;
use qis_core::LookupReport;
use qis_core::SimAddr;
use qis_core::constants::K;
use qis_core::{Duration, Time};
use qis_core::{RecordKind, SignedRecord};
use std::collections::VecDeque;

/// Publisher key pairs the values are signed with (records are really signed and verified).
const PUBLISHERS: u64 = 4;

/// One workload step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A FIND_NODE lookup of a random id from a random node.
    Lookup,
    /// Publish value `i` from a random node.
    Put(usize),
    /// Fetch a random published value from a random node.
    Get,
    /// Fetch eclipsed key `j` from a random honest node (`targeted`).
    EclipseGet(usize),
    /// A lookup of a random id by the sybil's victim (`targeted`).
    VictimLookup,
}

/// What a command the simulator started is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Joining.
    Bootstrap,
    /// A measured lookup.
    Lookup,
    /// Publishing value `i`.
    Put(usize),
    /// Fetching value `i`.
    Get(usize),
    /// Fetching eclipsed key `j` (`targeted`).
    EclipseGet(usize),
    /// A lookup by the sybil's victim (`targeted`).
    VictimLookup,
    /// A restarted publisher putting value `i` again (not part of the measured workload).
    Republish(usize),
}

impl Job {
    /// True for the measured workload's commands (the run waits for them and counts them),
    /// false for joins and a restarted publisher's republishes.
    pub(crate) fn is_workload(self) -> bool {
        !matches!(self, Job::Bootstrap | Job::Republish(_))
    }
}

/// The schedule of steps over the window starting at `start`, in time order.
pub(crate) fn plan(config: &SimConfig, start: Time) -> VecDeque<(Time, Step)> {
    let window = config.window();
    let mut steps: Vec<(Time, u8, usize, Step)> = Vec::new();
    let spread = |i: usize, n: usize, from: Duration, span: Duration| {
        start + from + span.mul_f64((i as f64 + 0.5) / n.max(1) as f64)
    };
    for i in 0..config.lookups {
        steps.push((
            spread(i, config.lookups, Duration::ZERO, window),
            1,
            i,
            Step::Lookup,
        ));
    }
    for i in 0..config.values {
        steps.push((
            start + Duration::from_millis(10 * i as u64),
            0,
            i,
            Step::Put(i),
        ));
    }
    if config.values > 0 {
        // Gets start once the puts have had time to finish.
        let lead = Duration::from_secs(60).min(window / 10);
        for i in 0..config.gets {
            steps.push((spread(i, config.gets, lead, window - lead), 2, i, Step::Get));
        }
    }
    steps.sort_by_key(|&(t, order, i, _)| (t, order, i));
    steps.into_iter().map(|(t, _, _, s)| (t, s)).collect()
}

/// The values of a run: keys and signed records.
#[derive(Debug)]
pub(crate) struct ValueSet {
    /// (key, record) per value.
    pub items: Vec<(Id, SignedRecord)>,
}

impl ValueSet {
    /// `count` values signed by a few publisher keys derived from `seed`.
    pub(crate) fn new(count: usize, seed: u64) -> ValueSet {
        let publishers: Vec<Identity> = (0..PUBLISHERS)
            .map(|p| {
                let mut secret = [0u8; 32];
                for (i, chunk) in secret.chunks_mut(8).enumerate() {
                    chunk.copy_from_slice(&mix(seed, p * 4 + i as u64 + 1_000).to_le_bytes());
                }
                Identity::from_secret_key(secret)
            })
            .collect();
        let items = (0..count)
            .map(|i| {
                let key = Id::hash(format!("qis-sim/{seed}/value/{i}").as_bytes());
                let publisher = &publishers[i % publishers.len()];
                let payload = format!("simulated value {i} of run {seed}").into_bytes();
                let record =
                    SignedRecord::sign(publisher.signing_key(), RecordKind::Raw, i as u64, payload)
                        .expect("a short payload fits a record");
                (key, record)
            })
            .collect();
        ValueSet { items }
    }
}

/// Figures collected from finished commands.
#[derive(Debug)]
pub(crate) struct Collector {
    hops: Vec<u32>,
    rounds: Vec<u32>,
    requests: Vec<u32>,
    latency_us: Histogram<u64>,
    recall_sum: f64,
    successes: u64,
    /// Lookups that never finished by the end of the run (counted as failures).
    pub unfinished: u64,
    /// Values.
    pub values: Values,
    acks_sum: u64,
    verified_sum: u64,
}

impl Default for Collector {
    fn default() -> Collector {
        Collector {
            hops: Vec::new(),
            rounds: Vec::new(),
            requests: Vec::new(),
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            recall_sum: 0.0,
            successes: 0,
            unfinished: 0,
            values: Values::default(),
            acks_sum: 0,
            verified_sum: 0,
        }
    }
}

impl Collector {
    /// A lookup by `initiator` finished: compares it with the true k closest live nodes.
    pub(crate) fn on_lookup(
        &mut self,
        report: &LookupReport<SimAddr>,
        initiator: Id,
        live: &LiveIndex,
    ) {
        let mut truth = live.closest(&report.target, K + 1);
        truth.retain(|id| *id != initiator);
        truth.truncate(K);
        let found: Vec<Id> = report.closest.iter().map(|h| h.contact.id).collect();
        let hits = truth.iter().filter(|id| found.contains(id)).count();
        self.recall_sum += if truth.is_empty() {
            1.0
        } else {
            hits as f64 / truth.len() as f64
        };
        if truth.first().is_none_or(|closest| found.contains(closest)) {
            self.successes += 1;
        }
        self.hops.push(u32::from(report.hops));
        self.rounds.push(u32::from(report.rounds));
        self.requests.push(report.requests);
        let us = report.elapsed.as_micros().clamp(1, 3_600_000_000) as u64;
        let _ = self.latency_us.record(us);
    }

    /// A put finished with `acks` acknowledgements, `verified` of them by an audit.
    pub(crate) fn on_put(&mut self, acks: u32, verified: u32) {
        self.values.published += 1;
        self.acks_sum += u64::from(acks);
        self.verified_sum += u64::from(verified);
        if acks > 0 {
            self.values.put_acked += 1;
        }
        if verified == 0 {
            self.values.puts_unverified += 1;
        }
    }

    /// A get finished; `found` tells whether it returned the value.
    pub(crate) fn on_get(&mut self, found: bool) {
        self.values.gets += 1;
        self.values.found += u64::from(found);
    }

    /// Lookups measured.
    pub(crate) fn lookups(&self) -> u64 {
        self.hops.len() as u64
    }

    /// Success rate (unfinished lookups count as failures).
    pub(crate) fn success_rate(&self) -> f64 {
        let total = self.lookups() + self.unfinished;
        if total == 0 {
            1.0
        } else {
            round3_6(self.successes as f64 / total as f64)
        }
    }

    /// Mean recall of the k closest.
    pub(crate) fn recall(&self) -> f64 {
        let total = self.lookups() + self.unfinished;
        if total == 0 {
            1.0
        } else {
            round3_6(self.recall_sum / total as f64)
        }
    }

    /// (hops, rounds, requests, latency) summaries.
    pub(crate) fn spreads(&mut self) -> (Spread, Spread, Spread, Latency) {
        (
            Spread::of(&mut self.hops),
            Spread::of(&mut self.rounds),
            Spread::of(&mut self.requests),
            Latency::of(&self.latency_us),
        )
    }

    /// The value figures.
    pub(crate) fn values(&self) -> Values {
        let mut v = self.values.clone();
        v.acks_mean = if v.published == 0 {
            0.0
        } else {
            round3(self.acks_sum as f64 / v.published as f64)
        };
        v.verified_mean = if v.published == 0 {
            0.0
        } else {
            round3(self.verified_sum as f64 / v.published as f64)
        };
        v.availability = if v.gets == 0 {
            1.0
        } else {
            round3_6(v.found as f64 / v.gets as f64)
        };
        v
    }

    /// Draws a random value index among `count`.
    pub(crate) fn pick_value(rng: &mut SimRng, count: usize) -> usize {
        rand::RngExt::random_range(rng, 0..count)
    }
}

/// Rounds to six decimals.
fn round3_6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
