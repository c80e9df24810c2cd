//! Who is in the network: joins in waves while it forms, churn (crashes, departures and
//! arrivals) while it is measured, and the optional pre-filled formation.
//!
//! The protocol has no goodbye message, so a crash and a departure look the same to other
//! nodes: the node falls silent. They differ in what follows: a crashed node comes back later
//! with the same id and address (a restart) and, as a `qis node` does from its journal, the
//! records it held for others (unless `crash_keeps_store` is off); a departed node never
//! does and a new node with a new id takes its place. Each departure is matched by one arrival after an
//! exponential delay, so the population stays near its size.

use super::engine::Action;
use super::random::{exponential, weibull};
use super::workload::Job;
use super::world::{NOT_JOINED, Phase, Simulation};
use qis_core::BootstrapReport;
use qis_core::Id;
use qis_core::SimAddr;
use qis_core::{Duration, Time};
use rand::RngExt;

/// Pause before a node whose bootstrap node did not answer tries another.
const JOIN_RETRY: Duration = Duration::from_secs(1);

/// Nodes a joiner bootstraps through (see `Simulation::bootstrap_seeds`).
const JOIN_SEEDS: usize = 3;

impl Simulation {
    /// Schedules the initial joins at the configured rate; node 0 is up from the start.
    pub(super) fn schedule_joins(&mut self) {
        let step = 1.0 / self.config.join_rate.max(1e-6);
        for i in 0..self.config.nodes as u32 {
            let at = Time::ZERO + Duration::from_secs_f64(step * f64::from(i));
            self.queue.push(at, Action::Join { node: i });
        }
    }

    /// Starts slot `index` if it is down, then bootstraps it through a node already in.
    pub(super) fn join(&mut self, index: u32) {
        let now = self.queue.now();
        if self.slots[index as usize].node.is_none() {
            self.start_node(index);
            if self.phase == Phase::Measuring {
                self.schedule_session_end(index);
            }
        }
        if self.slots[index as usize].joined_pos != NOT_JOINED {
            return;
        }
        let through = if self.is_targeted_slot(index) {
            let Some(through) = self.targeted_bootstrap() else {
                self.queue
                    .push(now + JOIN_RETRY, Action::Join { node: index });
                return;
            };
            Some(through)
        } else if self.phase == Phase::Forming
            && (index as usize) < self.config.first_through_node_zero
            && index != 0
        {
            Some(0)
        } else {
            self.random_joined(false, index)
        };
        let Some(through) = through else {
            // The first node (or the only one left): it is the network.
            self.mark_joined(index);
            self.on_joined(index, 0);
            return;
        };
        let seeds = self.bootstrap_seeds(index, through);
        let node = self.slots[index as usize]
            .node
            .as_mut()
            .expect("started above");
        let op = node.bootstrap(now, &seeds);
        self.tracked.insert((index, op.0), (Job::Bootstrap, now));
        self.drain(index);
    }

    /// The addresses slot `index` joins through: `through`, and up to `JOIN_SEEDS - 1` other
    /// random joined nodes, as an operator lists several bootstrap nodes. A joiner that knows
    /// only one node is at its mercy: through an adversary that names only its colluders, its
    /// self-lookup and every refresh find nothing else, and the joiner's table, and then the
    /// answers it gives others, are the adversaries' (20% misrouters took 68% of honest tables
    /// through single-seed joins; 30% with three seeds).
    fn bootstrap_seeds(&mut self, index: u32, through: u32) -> Vec<SimAddr> {
        let mut seeds = vec![self.addresses.of(through)];
        if through == 0 && self.phase == Phase::Forming {
            return seeds;
        }
        for _ in 1..JOIN_SEEDS {
            if let Some(other) = self.random_joined(false, index) {
                let addr = self.addresses.of(other);
                if !seeds.contains(&addr) {
                    seeds.push(addr);
                }
            }
        }
        seeds
    }

    /// A bootstrap finished: the node is in, or tries again through another node.
    pub(super) fn on_bootstrap(&mut self, index: u32, report: &BootstrapReport<SimAddr>) {
        // A bootstrap node that answers pings but not lookups (an adversary that drops) would
        // leave the joiner knowing it alone: a join whose self-lookup got no answer has not
        // joined, and is tried again through another node, as an operator would.
        if report.bootstrap_answered == 0 || report.table_size == 0 || report.lookup.answered == 0 {
            self.stats.join_retries += 1;
            let at = self.queue.now() + JOIN_RETRY;
            self.queue.push(at, Action::Join { node: index });
            return;
        }
        self.mark_joined(index);
        self.on_joined(index, report.table_size);
        self.republish_kept(index);
    }

    /// A crashing node keeps what a `qis node` keeps on disk: the records it held for others
    /// (its journal) and those it published (its `published/` folder).
    fn keep_store(&mut self, index: u32, node: &qis_core::Node<SimAddr>) {
        let now = self.queue.now();
        let held = node.held_records(now);
        if !held.is_empty() {
            self.kept_stores.insert(index, (now, held));
        }
        let published: Vec<usize> = node
            .published_records()
            .filter_map(|(key, record)| {
                self.values
                    .items
                    .iter()
                    .position(|(k, r)| k == key && r == record)
            })
            .collect();
        if !published.is_empty() {
            self.kept_publications.insert(index, published);
        }
    }

    /// A restarted node that has joined puts what it published again, as `qis node` does
    /// from its `published/` folder at start.
    fn republish_kept(&mut self, index: u32) {
        let Some(values) = self.kept_publications.remove(&index) else {
            return;
        };
        let now = self.queue.now();
        for i in values {
            let (key, record) = self.values.items[i].clone();
            let Some(node) = self.slots[index as usize].node.as_mut() else {
                return;
            };
            let op = node.publish(now, key, record);
            self.tracked.insert((index, op.0), (Job::Republish(i), now));
        }
        self.drain(index);
    }

    fn on_joined(&mut self, index: u32, table_size: usize) {
        if self.is_targeted_slot(index) {
            // The attacker's joins are not the honest network's.
            self.note_attacker_joined();
            return;
        }
        self.stats.joins_completed += 1;
        self.stats.join_table_sum += table_size as u64;
        if self.phase != Phase::Forming {
            return;
        }
        self.stats.initial_joined += 1;
        self.progress.inc(1);
        if self.stats.initial_joined as usize >= self.config.nodes {
            self.formation_done();
        }
    }

    /// Every initial node is in: measurements start after the settle time.
    pub(super) fn formation_done(&mut self) {
        let now = self.queue.now();
        self.stats.formation_done = Some(now);
        self.stats.rss_formed = super::memory::current_rss();
        self.phase = Phase::Settling;
        // A targeted attack starts now: its nodes join while the network settles.
        self.place_attackers();
        self.queue.push(now + self.settle_time(), Action::Workload);
    }

    /// Schedules the end of the session of slot `index`, if there is churn.
    pub(super) fn schedule_session_end(&mut self, index: u32) {
        let Some(churn) = self.config.churn else {
            return;
        };
        // A targeted attacker keeps its nodes up, and the sybil's victim is kept up so its
        // table is the one measured at the end.
        if self.is_targeted_slot(index) || self.is_victim(index) {
            return;
        }
        let secs = weibull(
            &mut self.rng.churn,
            churn.median_session.as_secs_f64(),
            churn.shape,
        );
        let at = self.queue.now() + Duration::from_secs_f64(secs.min(1e9));
        self.queue.push(at, Action::SessionEnd { node: index });
    }

    /// Starts churn for every node up when measurements begin.
    pub(super) fn start_churn(&mut self) {
        if self.config.churn.is_none() {
            return;
        }
        for index in 0..self.slots.len() as u32 {
            if self.slots[index as usize].node.is_some() {
                self.schedule_session_end(index);
            }
        }
    }

    /// Slot `index` falls silent: it crashed (and will restart) or left (and is replaced).
    pub(super) fn session_end(&mut self, index: u32) {
        let Some(churn) = self.config.churn else {
            return;
        };
        if self.slots[index as usize].node.is_none() || self.phase != Phase::Measuring {
            return;
        }
        self.mark_gone(index);
        let node = self.slots[index as usize].node.take();
        if let Some(node) = &node {
            self.stats.refused_prefix_departed += node.metrics().table_refused_prefix;
        }
        let ops: Vec<(u32, u64)> = self
            .tracked
            .range((index, 0)..=(index, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in ops {
            if let Some((purpose, _)) = self.tracked.remove(&key)
                && purpose.is_workload()
            {
                self.stats.abandoned += 1;
                self.pending_work -= 1;
                self.progress.inc(1);
            }
        }
        let delay = Duration::from_secs_f64(exponential(
            &mut self.rng.churn,
            churn.mean_arrival_delay.as_secs_f64(),
        ));
        let at = self.queue.now() + delay;
        if self
            .rng
            .churn
            .random_bool(churn.crash_fraction.clamp(0.0, 1.0))
        {
            self.stats.crashes += 1;
            if churn.crash_keeps_store
                && let Some(node) = &node
            {
                self.keep_store(index, node);
            }
            self.queue.push(at, Action::Join { node: index });
        } else {
            self.stats.leaves += 1;
            let fresh = self.add_slot();
            self.queue.push(at, Action::Join { node: fresh });
        }
    }

    /// Builds the network without joining traffic: every node starts at once and its table
    /// gets up to k random nodes in each bucket (as a converged table would hold), then
    /// measurements start.
    pub(super) fn prefill(&mut self) {
        let now = self.queue.now();
        let n = self.config.nodes;
        for index in 0..n as u32 {
            self.start_node(index);
        }
        let mut sorted: Vec<(Id, u32)> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.node.as_ref().map_or(s.key.id(), |n| n.id()), i as u32))
            .collect();
        sorted.sort_unstable();
        let k = self.node_config.k;
        let mut picks: Vec<usize> = Vec::with_capacity(k);
        for at in 0..n {
            let (own, index) = sorted[at];
            let mut contacts = Vec::new();
            for bucket in 0..255 {
                // Ids sharing exactly `bucket` leading bits with `own`: a contiguous range.
                let (lo, hi) = sibling_range(&own, bucket);
                let start = sorted.partition_point(|(id, _)| *id < lo);
                let end = sorted.partition_point(|(id, _)| *id <= hi);
                let size = end - start;
                if size <= k {
                    contacts.extend(sorted[start..end].iter().copied());
                } else {
                    picks.clear();
                    while picks.len() < k {
                        let p = start + self.rng.keys.random_range(0..size);
                        if !picks.contains(&p) {
                            picks.push(p);
                        }
                    }
                    contacts.extend(picks.iter().map(|&p| sorted[p]));
                }
                // Deeper buckets lie inside the range sharing `bucket + 1` bits: stop once only
                // this node is left there.
                let (lo, hi) = super::truth::prefix_range(&own, bucket + 1);
                let own_start = sorted.partition_point(|(id, _)| *id < lo);
                let own_end = sorted.partition_point(|(id, _)| *id <= hi);
                if own_end - own_start <= 1 {
                    break;
                }
            }
            let node = self.slots[index as usize].node.as_mut().expect("started");
            for (id, slot) in contacts {
                node.add_contact(now, id, self.addresses.of(slot));
            }
        }
        for index in 0..n as u32 {
            self.mark_joined(index);
            self.on_joined(
                index,
                self.slots[index as usize]
                    .node
                    .as_ref()
                    .map_or(0, |node| node.table().len()),
            );
            self.drain(index);
        }
    }
}

/// The ids that share exactly `prefix` leading bits with `id` (bit `prefix` differs).
pub(super) fn sibling_range(id: &Id, prefix: usize) -> (Id, Id) {
    let mut flipped = *id.as_bytes();
    flipped[prefix / 8] ^= 0x80u8 >> (prefix % 8);
    super::truth::prefix_range(&Id::from_bytes(flipped), prefix + 1)
}
