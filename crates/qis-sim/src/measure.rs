//! The measurement window: starting the workload steps, collecting finished commands, and
//! turning the counters into a [`SimReport`].

use super::adversary::AttackCounts;
use super::engine::Action;
use super::report::{AdversaryReport, ChurnCounts, Joins, SimReport, round3};
use super::workload::{Collector, Job, Step, plan};
use super::world::{Phase, Simulation};
use qis_core::Id;
use qis_core::SimAddr;
use qis_core::{Duration, Time};
use qis_core::{OpId, OpResult};

/// Samples of the live population taken over the window (for the mean).
const LIVE_SAMPLE_EVERY: Duration = Duration::from_secs(60);

impl Simulation {
    /// The workload timer: starts measurements when due, then runs the steps now due.
    pub(super) fn workload(&mut self) {
        let now = self.queue.now();
        if self.phase == Phase::Settling {
            self.begin_measuring(now);
        }
        while let Some(&(at, step)) = self.plan.front() {
            if at > now {
                self.queue.push(at, Action::Workload);
                break;
            }
            self.plan.pop_front();
            self.run_step(step);
        }
        if now >= self.next_live_sample() {
            self.stats.live_samples += 1;
            self.stats.live_sum += self.joined.len() as u64;
            if self.plan.is_empty() && now < self.window_end {
                self.queue.push(
                    self.next_live_sample().min(self.window_end),
                    Action::Workload,
                );
            }
        }
    }

    fn next_live_sample(&self) -> Time {
        let start = self.window_end - self.config.window();
        start + LIVE_SAMPLE_EVERY * self.stats.live_samples as u32
    }

    fn begin_measuring(&mut self, now: Time) {
        self.phase = Phase::Measuring;
        self.window_end = now + self.config.window();
        // On-off adversaries behave for the first quarter of the window, then turn.
        self.adversaries.turn_at = Some(now + self.config.window() / 4);
        self.plan = plan(&self.config, now);
        let extra = self.targeted_steps(now);
        if !extra.is_empty() {
            let mut all: Vec<(Time, Step)> = self.plan.drain(..).collect();
            all.extend(extra);
            // Stable: at equal times the workload's own steps stay first, in their order.
            all.sort_by_key(|&(at, _)| at);
            self.plan = all.into();
        }
        self.traffic_at_start = self.traffic;
        let sizes: u64 = self
            .slots
            .iter()
            .filter_map(|s| s.node.as_ref())
            .map(|n| n.table().len() as u64)
            .sum();
        self.stats.table_at_start_mean = round3(sizes as f64 / self.joined.len().max(1) as f64);
        self.start_churn();
        // Live-population samples ride on the workload timer.
        self.queue.push(now + LIVE_SAMPLE_EVERY, Action::Workload);
    }

    fn run_step(&mut self, step: Step) {
        if matches!(step, Step::EclipseGet(_) | Step::VictimLookup) {
            self.run_targeted_step(step);
            return;
        }
        let now = self.queue.now();
        let Some(index) = self.random_joined(true, u32::MAX) else {
            return;
        };
        let node = self.slots[index as usize]
            .node
            .as_mut()
            .expect("joined nodes are up");
        let (op, purpose) = match step {
            Step::Lookup => {
                let mut target = [0u8; 32];
                rand::RngExt::fill(&mut self.rng.work, &mut target[..]);
                (node.find_node(now, Id::from_bytes(target)), Job::Lookup)
            }
            Step::Put(i) => {
                let (key, record) = self.values.items[i].clone();
                (node.publish(now, key, record), Job::Put(i))
            }
            Step::Get => {
                if self.published.is_empty() {
                    return;
                }
                let i =
                    self.published[Collector::pick_value(&mut self.rng.work, self.published.len())];
                (node.get(now, self.values.items[i].0), Job::Get(i))
            }
            Step::EclipseGet(_) | Step::VictimLookup => return,
        };
        if let Step::Put(i) = step {
            self.note_publication(i);
        }
        self.tracked.insert((index, op.0), (purpose, now));
        self.pending_work += 1;
        self.drain(index);
    }

    /// A command of slot `index` finished.
    pub(super) fn finished(&mut self, index: u32, op: OpId, outcome: OpResult<SimAddr>) {
        let Some((purpose, _started)) = self.tracked.remove(&(index, op.0)) else {
            return;
        };
        if purpose.is_workload() {
            self.pending_work -= 1;
            self.progress.inc(1);
        }
        match (purpose, outcome) {
            (Job::Bootstrap, OpResult::Bootstrap(report)) => self.on_bootstrap(index, &report),
            (Job::Lookup, OpResult::FindNode(report)) => {
                let slot = &self.slots[index as usize];
                // The node's own id: with real identities it comes out of the id work, not
                // the key alone.
                let initiator = slot.node.as_ref().map_or(slot.key.id(), |n| n.id());
                self.collector.on_lookup(&report, initiator, &self.live);
            }
            (Job::Put(i), OpResult::Put(report)) => {
                self.collector.on_put(report.acks, report.verified);
                self.note_put(i, report.acks);
                self.mark_published(i);
            }
            (Job::Republish(i), OpResult::Put(_)) => self.mark_published(i),
            (Job::Get(i), OpResult::Get(report)) => {
                let found = report.records.contains(&self.values.items[i].1);
                self.collector.on_get(found);
                self.note_get(i, found);
            }
            (Job::EclipseGet(j), OpResult::Get(report)) => {
                let found = report.records.contains(&self.values.items[j].1);
                self.note_get(j, found);
            }
            (Job::VictimLookup, OpResult::FindNode(report)) => self.note_victim_lookup(&report),
            _ => {}
        }
    }

    /// Value `i`'s publisher finished a put of it: from now on gets may ask for it. A put cut
    /// short by its publisher's departure stored the value nowhere it could be found, so gets
    /// of it would measure the publisher, not the network; a publisher that restarts puts it
    /// again (see `Simulation::republish_kept`).
    fn mark_published(&mut self, i: usize) {
        if !self.published.contains(&i) {
            self.published.push(i);
        }
    }

    /// The share of honest nodes' routing-table entries that are adversaries.
    fn adversary_table_share(&self) -> f64 {
        let (mut entries, mut adversarial) = (0u64, 0u64);
        for slot in self.slots.iter().filter(|s| s.attack.is_none()) {
            let Some(node) = slot.node.as_ref() else {
                continue;
            };
            for entry in node.table().entries() {
                entries += 1;
                adversarial += u64::from(self.adversaries.is_adversary_id(&entry.id));
            }
        }
        round3(adversarial as f64 / entries.max(1) as f64)
    }

    /// Who attacked and how, if anyone did.
    fn adversary_report(&self) -> Option<AdversaryReport> {
        let targeted = self.config.targeted.as_ref();
        if self.config.adversaries.is_none() && targeted.is_none() {
            return None;
        }
        let drawn = self.config.adversaries.as_ref();
        let mut attacks: Vec<String> = drawn
            .map(|a| {
                a.attacks
                    .iter()
                    .filter(|x| !x.is_targeted())
                    .map(|x| x.name().to_string())
                    .collect()
            })
            .unwrap_or_default();
        attacks.extend(targeted.map(|t| t.attack.name().to_string()));
        Some(AdversaryReport {
            fraction: drawn.map_or(0.0, |a| a.fraction),
            attacks,
            nodes: self.stats.adversaries + self.targeted_nodes(),
            counts: AttackCounts {
                table_share: self.adversary_table_share(),
                ..self.adversaries.counts
            },
            eclipse: self.eclipse_report(),
            sybil_table: self.sybil_report(),
        })
    }

    /// The report of the finished run; `wall_s` is measured by the caller.
    pub(super) fn report(&mut self, wall_s: f64) -> SimReport {
        let (hops, rounds, requests, latency) = self.collector.spreads();
        let lookups = self.collector.lookups();
        let window = Traffic2 {
            datagrams: self.traffic.datagrams - self.traffic_at_start.datagrams,
            bytes: self.traffic.bytes - self.traffic_at_start.bytes,
        };
        let per_lookup = |x: u64| {
            if lookups == 0 {
                0.0
            } else {
                round3(x as f64 / lookups as f64)
            }
        };
        let mut sample_rng = super::random::stream(self.config.seed, 6);
        let (rtt50, rtt99) = self
            .network
            .rtt_percentiles(&self.sites, 20_000, &mut sample_rng);
        let events = self.queue.processed() + self.node_events;
        let s = &self.stats;
        let nodes = self.config.nodes as u64;
        let formed_rss = s.rss_formed.saturating_sub(s.rss_before);
        SimReport {
            nodes,
            lookups,
            seed: self.config.seed,
            formation: match self.config.formation {
                super::config::Formation::Protocol => "protocol".into(),
                super::config::Formation::Prefill => "prefill".into(),
            },
            join_refresh: self.config.join_refresh,
            lookup_paths: self.config.lookup_paths,
            get_paths: self.config.get_paths,
            identities: match self.config.identities {
                super::config::SimIdentities::Modelled => "modelled".into(),
                super::config::SimIdentities::Real(_) => "real".into(),
            },
            loss: self.config.network.loss,
            burst: self.config.network.burst,
            churn_median_s: self.config.churn.map(|c| c.median_session.as_secs_f64()),
            rtt_model_ms: [round3(rtt50), round3(rtt99)],
            success_rate: self.collector.success_rate(),
            hops,
            rounds,
            requests_per_lookup: requests,
            recall_k: self.collector.recall(),
            latency_ms: latency,
            datagrams_per_lookup: per_lookup(window.datagrams),
            bytes_per_lookup: per_lookup(window.bytes),
            bytes_by_cause: self
                .traffic
                .causes
                .since(&self.traffic_at_start.causes)
                .per(lookups.max(1)),
            bytes_per_node_s: {
                let live = if s.live_samples == 0 {
                    self.config.nodes as f64
                } else {
                    s.live_sum as f64 / s.live_samples as f64
                };
                let secs = self.config.window().as_secs_f64();
                round3(window.bytes as f64 / live.max(1.0) / secs.max(1e-9))
            },
            bytes_per_node_hour: {
                let live = if s.live_samples == 0 {
                    self.config.nodes as f64
                } else {
                    s.live_sum as f64 / s.live_samples as f64
                };
                let hours = self.config.window().as_secs_f64() / 3600.0;
                round3(window.bytes as f64 / live.max(1.0) / hours.max(1e-9))
            },
            loss_observed: if self.traffic.datagrams == 0 {
                0.0
            } else {
                round3(self.traffic.lost as f64 / self.traffic.datagrams as f64)
            },
            joins: Joins {
                completed: s.joins_completed,
                retried: s.join_retries,
                formation_s: round3(s.formation_done.map_or(0.0, |t| t.as_micros() as f64 / 1e6)),
                table_mean: round3(s.join_table_sum as f64 / s.joins_completed.max(1) as f64),
                table_at_start_mean: s.table_at_start_mean,
            },
            churn: ChurnCounts {
                crashes: s.crashes,
                records_kept: s.records_kept,
                leaves: s.leaves,
                abandoned: s.abandoned,
                live_mean: round3(s.live_sum as f64 / s.live_samples.max(1) as f64),
            },
            values: self.collector.values(),
            adversaries: self.adversary_report(),
            prefixes: self.prefix_report(),
            reachability: self.reachability_report(),
            datagrams_unaddressed: self.traffic.unaddressed,
            virtual_s: round3(self.queue.now().as_micros() as f64 / 1e6),
            events,
            wall_s: round3(wall_s),
            events_per_s: round3(events as f64 / wall_s.max(1e-9)),
            peak_rss_bytes: super::memory::peak_rss(),
            bytes_per_node: formed_rss / nodes.max(1),
        }
    }
}

/// Traffic in the measurement window.
struct Traffic2 {
    datagrams: u64,
    bytes: u64,
}
