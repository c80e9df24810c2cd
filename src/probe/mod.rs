//! `qis probe`'s measurements of a live network: what its lookups (the core's real iterative
//! lookups, run by a client) saw, summed up under the simulator report's names where the
//! concept is the same (`lookups`, `success_rate`, `hops`, `rounds`, `requests_per_lookup`,
//! `latency_ms`), so that a probe and a simulation of the same network can be set side by side;
//! and the files `--out` writes, drawn by the simulator's own chart functions.

pub mod estimate;
mod files;

pub use estimate::{SizeEstimate, lookup_estimate};
pub use files::{PROBE_FILES, write_probe_outputs};

use hdrhistogram::Histogram;
use qis_core::{Id, LookupReport};
use qis_sim::{Latency, Spread};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The version of the probe report's layout: a field renamed or removed bumps it; fields
/// added keep it.
pub const PROBE_FORMAT: u32 = 1;

/// Why a probe stopped before its last lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// `--timeout-s` ran out.
    TimeLimit,
    /// Ctrl-C (SIGINT).
    Interrupted,
}

/// The report of one probe. Field names are stable (see [`PROBE_FORMAT`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// [`PROBE_FORMAT`].
    pub format: u32,
    /// The network's name.
    pub network: String,
    /// The bootstrap addresses joined through.
    pub bootstrap: Vec<String>,
    /// Bootstrap nodes that answered the join.
    pub bootstrap_answered: u64,
    /// The client's routing-table entries after joining.
    pub table_size: u64,
    /// Lookups asked for (`--lookups`).
    pub lookups_asked: u64,
    /// Lookups measured (finished); every figure below is over these.
    pub lookups: u64,
    /// Why the probe stopped early, if it did (`null` when every lookup ran).
    pub stopped: Option<Stopped>,
    /// The seed of the targets, if `--seed` gave one (else they came from OS randomness).
    pub seed: Option<u64>,
    /// Lookups that ended with at least one node answered, over lookups measured. A live
    /// network has no ground truth: the simulator's `success_rate` also asks that the true
    /// closest node be found, which a probe cannot know.
    pub success_rate: f64,
    /// Hop depth: depth at which the closest node found was learned (1 = own table).
    pub hops: Spread,
    /// Rounds: the longest chain of requests.
    pub rounds: Spread,
    /// Requests per lookup.
    pub requests_per_lookup: Spread,
    /// `hops_histogram[d]`: lookups of hop depth d.
    pub hops_histogram: Vec<u64>,
    /// `rounds_histogram[r]`: lookups of r rounds.
    pub rounds_histogram: Vec<u64>,
    /// Lookup latency in ms (wall clock, from the lookup's start to its end).
    pub latency_ms: Latency,
    /// Round-trip time of the lookups' requests in ms: every answer a lookup counted that came
    /// to the request's first send (see `qis_core::LookupReport::rtts`).
    pub rtt_ms: Latency,
    /// Requests sent, all lookups together.
    pub requests: u64,
    /// Requests answered.
    pub answered: u64,
    /// Nodes that did not answer (after the node's retries).
    pub failed: u64,
    /// Round-trip samples in `rtt_ms`.
    pub rtt_samples: u64,
    /// The network size estimated from the density of ids near the targets (see
    /// [`estimate`]).
    pub size_estimate: SizeEstimate,
    /// Wall-clock seconds the lookups took, all together (joining excluded).
    pub elapsed_s: f64,
}

/// What a probe is, before any lookup: where it joined and what it was asked.
#[derive(Debug, Clone)]
pub struct ProbeSetup {
    /// The network's name.
    pub network: String,
    /// The bootstrap addresses as given.
    pub bootstrap: Vec<String>,
    /// Bootstrap nodes that answered.
    pub bootstrap_answered: usize,
    /// Routing-table entries after joining.
    pub table_size: usize,
    /// Lookups asked for.
    pub lookups_asked: u64,
    /// The seed, if one was given.
    pub seed: Option<u64>,
    /// The lookups' width k (how many closest each looks for).
    pub k: usize,
}

/// The lookups of a probe as they finish.
#[derive(Debug, Clone)]
pub struct ProbeSamples {
    setup: ProbeSetup,
    hops: Vec<u32>,
    rounds: Vec<u32>,
    requests: Vec<u32>,
    succeeded: u64,
    latency_us: Histogram<u64>,
    rtt_us: Histogram<u64>,
    totals: [u64; 3],
    estimates: Vec<f64>,
}

/// The longest time a histogram records, in microseconds (an hour): anything longer is kept
/// as an hour.
const HISTOGRAM_MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3).expect("static bounds are valid")
}

fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    let us = (d.as_micros() as u64).clamp(1, HISTOGRAM_MAX_US);
    // Cannot fail: the value is clamped into the histogram's bounds.
    let _ = h.record(us);
}

/// The counts of each value of `values`, from 0 to the largest.
fn histogram_of(values: &[u32]) -> Vec<u64> {
    let top = values.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut counts = vec![0u64; top];
    for &v in values {
        counts[v as usize] += 1;
    }
    counts
}

impl ProbeSamples {
    /// No lookups yet.
    pub fn new(setup: ProbeSetup) -> ProbeSamples {
        ProbeSamples {
            setup,
            hops: Vec::new(),
            rounds: Vec::new(),
            requests: Vec::new(),
            succeeded: 0,
            latency_us: histogram(),
            rtt_us: histogram(),
            totals: [0; 3],
            estimates: Vec::new(),
        }
    }

    /// Lookups measured so far.
    pub fn lookups(&self) -> u64 {
        self.hops.len() as u64
    }

    /// A lookup finished.
    pub fn add(&mut self, report: &LookupReport<SocketAddr>) {
        self.hops.push(u32::from(report.hops));
        self.rounds.push(u32::from(report.rounds));
        self.requests.push(report.requests);
        self.succeeded += u64::from(!report.closest.is_empty());
        record(&mut self.latency_us, report.elapsed);
        for &rtt in &report.rtts {
            record(&mut self.rtt_us, rtt);
        }
        self.totals[0] += u64::from(report.requests);
        self.totals[1] += u64::from(report.answered);
        self.totals[2] += u64::from(report.failed);
        let closest: Vec<Id> = report.closest.iter().map(|h| h.contact.id).collect();
        if let Some(e) = lookup_estimate(&report.target, &closest, self.setup.k) {
            self.estimates.push(e);
        }
    }

    /// The report of the lookups so far; `stopped` says why they ended early, if they did.
    pub fn report(&self, stopped: Option<Stopped>, elapsed_s: f64) -> ProbeReport {
        let lookups = self.lookups();
        let s = &self.setup;
        ProbeReport {
            format: PROBE_FORMAT,
            network: s.network.clone(),
            bootstrap: s.bootstrap.clone(),
            bootstrap_answered: s.bootstrap_answered as u64,
            table_size: s.table_size as u64,
            lookups_asked: s.lookups_asked,
            lookups,
            stopped,
            seed: s.seed,
            success_rate: if lookups == 0 {
                0.0
            } else {
                round6(self.succeeded as f64 / lookups as f64)
            },
            hops: Spread::of(&mut self.hops.clone()),
            rounds: Spread::of(&mut self.rounds.clone()),
            requests_per_lookup: Spread::of(&mut self.requests.clone()),
            hops_histogram: histogram_of(&self.hops),
            rounds_histogram: histogram_of(&self.rounds),
            latency_ms: Latency::of(&self.latency_us),
            rtt_ms: Latency::of(&self.rtt_us),
            requests: self.totals[0],
            answered: self.totals[1],
            failed: self.totals[2],
            rtt_samples: self.rtt_us.len(),
            size_estimate: SizeEstimate::of(&mut self.estimates.clone()),
            elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl std::fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "qis probe: network {:?} via {} ({} answered, table {} entries)",
            self.network,
            self.bootstrap.join(", "),
            self.bootstrap_answered,
            self.table_size
        )?;
        match self.stopped {
            Some(Stopped::TimeLimit) => writeln!(
                f,
                "  stopped     at the time limit: {} of {} lookups measured",
                self.lookups, self.lookups_asked
            )?,
            Some(Stopped::Interrupted) => writeln!(
                f,
                "  stopped     by Ctrl-C: {} of {} lookups measured",
                self.lookups, self.lookups_asked
            )?,
            None => {}
        }
        if self.lookups == 0 {
            return writeln!(f, "  lookups     none measured");
        }
        let (h, r, q, l, t) = (
            &self.hops,
            &self.rounds,
            &self.requests_per_lookup,
            &self.latency_ms,
            &self.rtt_ms,
        );
        writeln!(
            f,
            "  lookups     {} in {:.1} s  success {:.2}% (at least one node answered)",
            self.lookups,
            self.elapsed_s,
            self.success_rate * 100.0
        )?;
        writeln!(
            f,
            "  hop depth   mean {:.2}  p50 {}  p90 {}  p99 {}  max {}   by depth {:?}",
            h.mean, h.p50, h.p90, h.p99, h.max, self.hops_histogram
        )?;
        writeln!(
            f,
            "  rounds      mean {:.2}  p50 {}  p90 {}  max {}   by rounds {:?}",
            r.mean, r.p50, r.p90, r.max, self.rounds_histogram
        )?;
        writeln!(
            f,
            "  requests    {:.1} per lookup (p50 {}, max {}); {} answered, {} nodes silent",
            q.mean, q.p50, q.max, self.answered, self.failed
        )?;
        writeln!(
            f,
            "  latency ms  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            l.p50, l.p90, l.p99, l.max
        )?;
        writeln!(
            f,
            "  rtt ms      p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}   ({} requests)",
            t.p50, t.p90, t.p99, t.max, self.rtt_samples
        )?;
        let e = &self.size_estimate;
        writeln!(
            f,
            "  size        about {:.0} nodes (95% interval {:.0} to {:.0}, from {} lookups)",
            e.nodes, e.low, e.high, e.lookups_used
        )
    }
}
