//! The simulated world: every node's core, the event loop that feeds them datagrams and
//! timeouts in virtual time, and the bookkeeping of what the workload started.

use super::addresses::Addresses;
use super::adversary::{Adversaries, Attack, is_adversary};
use super::calendar::{Calendar, NodeEvent, SLOT_MICROS, slot_of, slot_start};
use super::config::{Formation, SimConfig, SimIdentities};
use super::engine::{Action, EventQueue};
use super::network::{Network, Site};
use super::pool::Pool;
use super::random::{SimRng, mix, stream};
use super::truth::LiveIndex;
use super::window::{self, Out, Shared, run_partition};
use super::workload::{Collector, Job, Step, ValueSet};
use indicatif::ProgressBar;
use qis_core::PublicKey;
use qis_core::SimAddr;
use qis_core::TableConfig;
use qis_core::{Config, Node};
use qis_core::{Credentials, Difficulty, IdWork, Identity, NodeSecret, WorkHasher};
use qis_core::{Duration, Time};
use rand::RngExt;
use std::collections::{BTreeMap, VecDeque};

/// A time later than any event.
pub(super) const NEVER: Time = Time::from_micros(u64::MAX);

/// Fewer node events than this in a window run on one thread: waking the others would cost
/// more than it saves.
const PARALLEL_MIN_EVENTS: usize = 64;

/// Chunks a window is cut into per thread (see `Pool`).
const CHUNKS_PER_THREAD: usize = 4;

/// Marks a slot that is not among the joined nodes.
pub(super) const NOT_JOINED: u32 = u32::MAX;

/// One address of the simulated network and the node behind it, if it is up.
#[derive(Debug)]
pub(super) struct Slot {
    pub node: Option<Node<SimAddr>>,
    pub key: PublicKey,
    /// Datagrams sent (wrapping): a datagram's number orders it among those arriving at the
    /// same time and seeds its jitter and loss draws.
    pub sent: u32,
    /// The one wake-up in the queue that is current; others are stale.
    pub next_wake: Time,
    /// Position in `joined`, or [`NOT_JOINED`].
    pub joined_pos: u32,
    /// Times this slot has been started.
    pub incarnation: u32,
    /// Gilbert–Elliott loss state of the link toward this node.
    pub burst_bad: bool,
    /// The attack this slot's node runs, if it is an adversary.
    pub attack: Option<Attack>,
    /// Behind a NAT (`SimConfig::unreachable`): the endpoints (see [`nat_key`]) its node has
    /// sent to since it started, the only ones whose datagrams reach it. `None`: reachable.
    pub nat: Option<Box<std::collections::BTreeSet<u64>>>,
}

/// The key of endpoint (`slot`, `via`) in a NAT's set of destinations.
pub(crate) fn nat_key(slot: u32, via: qis_core::Endpoint) -> u64 {
    u64::from(slot) << 1 | u64::from(via == qis_core::Endpoint::Audit)
}

/// The random stream that decides which slots are behind a NAT.
const NAT_STREAM: u64 = 0x6e61_74;

impl Slot {
    /// A slot not yet started: its key and attack, nothing else yet.
    pub(super) fn new(key: PublicKey, attack: Option<Attack>) -> Slot {
        Slot {
            attack,
            node: None,
            key,
            sent: 0,
            next_wake: NEVER,
            joined_pos: NOT_JOINED,
            incarnation: 0,
            burst_bad: false,
            nat: None,
        }
    }
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The initial nodes are joining.
    Forming,
    /// All joined; waiting before measurements.
    Settling,
    /// The workload runs (and churn, if configured).
    Measuring,
    /// Finished.
    Done,
}

/// Network traffic counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Traffic {
    pub datagrams: u64,
    pub bytes: u64,
    pub lost: u64,
    pub to_dead: u64,
    /// Sent to an address no slot has (a simulator bug: see `SimReport::datagrams_unaddressed`).
    pub unaddressed: u64,
    /// Dropped by the NAT of a node behind one: from an endpoint it never sent to.
    pub filtered: u64,
    /// The bytes sent, by cause (`SimReport::bytes_by_cause`).
    pub causes: qis_core::wire::ByteCauses,
}

impl Traffic {
    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &Traffic) {
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
        self.lost += other.lost;
        self.to_dead += other.to_dead;
        self.unaddressed += other.unaddressed;
        self.filtered += other.filtered;
        self.causes += other.causes;
    }
}

/// Independent random streams.
#[derive(Debug)]
pub(super) struct Rngs {
    pub work: SimRng,
    pub churn: SimRng,
    pub sites: SimRng,
    pub keys: SimRng,
}

/// The whole simulated network.
pub struct Simulation {
    pub(super) config: SimConfig,
    pub(super) node_config: Config,
    /// The simulation's own actions (joins, session ends, the workload timer).
    pub(super) queue: EventQueue,
    /// The nodes' events: datagrams in flight and timer marks.
    pub(super) calendar: Calendar,
    pub(super) slots: Vec<Slot>,
    /// Every slot's place in the latency model (read by all partitions of a window).
    pub(super) sites: Vec<Site>,
    pub(super) network: Network,
    pub(super) addresses: Addresses,
    pub(super) rng: Rngs,
    pub(super) live: LiveIndex,
    pub(super) joined: Vec<u32>,
    pub(super) tracked: BTreeMap<(u32, u64), (Job, Time)>,
    /// What crashed nodes held, kept until they restart (see `ChurnConfig::crash_keeps_store`),
    /// and when they crashed.
    pub(super) kept_stores: BTreeMap<u32, (Time, Vec<qis_core::HeldRecord>)>,
    /// The workload values crashed nodes had published, put again once they are back.
    pub(super) kept_publications: BTreeMap<u32, Vec<usize>>,
    /// What the simulation's own actions made the nodes do, and the merged output of a window.
    pub(super) out: Out,
    /// One output per partition of a window.
    pub(super) parts: Vec<Out>,
    /// Threads a window runs on (`SimConfig::threads`), if more than one.
    pub(super) pool: Option<Pool>,
    /// Node events processed (datagrams delivered, timers run).
    pub(super) node_events: u64,
    /// How the engine ran (see [`crate::EngineStats`]).
    pub(super) engine: crate::EngineStats,
    pub(super) collector: Collector,
    pub(super) phase: Phase,
    pub(super) plan: VecDeque<(Time, Step)>,
    pub(super) values: ValueSet,
    pub(super) published: Vec<usize>,
    pub(super) traffic: Traffic,
    pub(super) traffic_at_start: Traffic,
    pub(super) progress: ProgressBar,
    pub(super) window_end: Time,
    pub(super) pending_work: usize,
    pub(super) stats: RunStats,
    /// The adversaries, if the run has any.
    pub(super) adversaries: Adversaries,
    /// The targeted attack, once it has started.
    pub(super) targeted: Option<super::targeted::Targeted>,
}

/// Counters filled in as the run goes.
#[derive(Debug, Default, Clone)]
pub(super) struct RunStats {
    pub joins_completed: u64,
    pub initial_joined: u64,
    pub join_retries: u64,
    pub join_table_sum: u64,
    pub formation_done: Option<Time>,
    pub table_at_start_mean: f64,
    pub crashes: u64,
    /// Records crashed nodes restarted with.
    pub records_kept: u64,
    pub leaves: u64,
    pub abandoned: u64,
    pub live_samples: u64,
    pub live_sum: u64,
    pub rss_before: u64,
    pub rss_formed: u64,
    /// Adversaries drawn so far (to hand out the attacks in turn).
    pub adversaries: u64,
    /// Offers refused by the prefix limits at node incarnations that have ended.
    pub refused_prefix_departed: u64,
}

/// The random stream node sites (and the network model's calibration) are drawn from.
pub(crate) fn sites_stream(seed: u64) -> SimRng {
    stream(seed, 4)
}

impl Simulation {
    /// A network of `config.nodes` addresses, none started yet.
    pub fn new(config: SimConfig, progress: ProgressBar) -> Simulation {
        let mut rng = Rngs {
            work: stream(config.seed, 2),
            churn: stream(config.seed, 3),
            sites: sites_stream(config.seed),
            keys: stream(config.seed, 5),
        };
        let network = Network::new(config.network, &mut rng.sites);
        let addresses = Addresses::new(config.addresses, config.nodes, stream(config.seed, 7));
        let node_config = Config {
            // The simulator has no attackers, and a few busy nodes (bootstrap nodes, the
            // neighbourhood of popular keys) must not be throttled into looking dead.
            rate_limit: None,
            // Every simulated node is its own host, so the per-host cap can never bind; the
            // prefix limits stay on, and the address model decides how often they bind.
            table: TableConfig {
                max_per_host: 0,
                max_per_prefix_in_bucket: config.max_per_prefix_in_bucket,
                max_per_prefix_in_table: config.max_per_prefix_in_table,
                ..TableConfig::default()
            },
            join_refresh: config.join_refresh,
            lookup_paths: config.lookup_paths,
            get_paths: config.get_paths,
            alpha: config.alpha,
            refresh_interval: config.timers.refresh,
            replicate_interval: config.timers.replicate,
            republish_interval: config.timers.republish,
            ..Config::default()
        };
        let values = ValueSet::new(config.values, config.seed);
        let mut sim = Simulation {
            node_config,
            // The simulation's own actions (joins, session ends, workload steps) happen on the
            // windows' millisecond boundaries, at barriers.
            queue: EventQueue::on_grid(SLOT_MICROS),
            calendar: Calendar::default(),
            slots: Vec::with_capacity(config.nodes),
            sites: Vec::with_capacity(config.nodes),
            network,
            addresses,
            rng,
            live: LiveIndex::new(),
            joined: Vec::with_capacity(config.nodes),
            tracked: BTreeMap::new(),
            kept_stores: BTreeMap::new(),
            kept_publications: BTreeMap::new(),
            out: Out::default(),
            parts: Vec::new(),
            pool: None,
            node_events: 0,
            engine: crate::EngineStats {
                threads: 1,
                windows: 0,
                parallel_windows: 0,
            },
            collector: Collector::default(),
            phase: Phase::Forming,
            plan: VecDeque::new(),
            values,
            published: Vec::new(),
            traffic: Traffic::default(),
            traffic_at_start: Traffic::default(),
            progress,
            window_end: NEVER,
            pending_work: 0,
            stats: RunStats::default(),
            adversaries: Adversaries::default(),
            targeted: None,
            config,
        };
        for _ in 0..sim.config.nodes {
            sim.add_slot();
        }
        sim
    }

    /// How the engine ran so far.
    pub fn engine_stats(&self) -> crate::EngineStats {
        self.engine
    }

    /// Adds an address for a new node and returns it.
    pub(super) fn add_slot(&mut self) -> u32 {
        let mut key = [0u8; 32];
        self.rng.keys.fill(&mut key[..]);
        let site = self.network.site(&mut self.rng.sites);
        let index = self.slots.len() as u32;
        let key = match self.config.identities {
            SimIdentities::Modelled => PublicKey(key),
            SimIdentities::Real(_) => real_identity(self.config.seed, index).public_key(),
        };
        let attack = self.draw_attack(index);
        self.addresses.add_slot();
        self.push_slot(key, site, attack);
        index
    }

    /// Appends a slot (its address already added).
    pub(super) fn push_slot(&mut self, key: PublicKey, site: Site, attack: Option<Attack>) {
        let index = self.slots.len() as u32;
        let mut slot = Slot::new(key, attack);
        if self.behind_nat(index) {
            slot.nat = Some(Default::default());
        }
        self.slots.push(slot);
        self.sites.push(site);
    }

    /// Starts the core of slot `index` (a fresh state; same key and address as before).
    pub(super) fn start_node(&mut self, index: u32) {
        let now = self.queue.now();
        let slot = &mut self.slots[index as usize];
        slot.incarnation += 1;
        let secret = node_secret(self.config.seed, index, slot.incarnation);
        let credentials = match self.config.identities {
            SimIdentities::Modelled => Credentials::modelled(slot.key),
            SimIdentities::Real(difficulty) => {
                real_credentials(self.config.seed, index, difficulty)
            }
        };
        if slot.attack.is_some() {
            self.adversaries.up(index, credentials.clone());
        }
        let mut config = self.node_config.clone();
        // With a share behind NATs, every node but the first decides its role by the checks,
        // as `qis node` does by default.
        config.auto_role = self.config.unreachable > 0.0 && index != 0;
        let mut node = Node::new(config, secret, credentials, now);
        crate::set_wall_clock(&mut node, now);
        // A new process: the NAT's flows of the last one are gone.
        if let Some(nat) = &mut slot.nat {
            nat.clear();
        }
        if let Some((crashed_at, mut held)) = self.kept_stores.remove(&index) {
            let down = now.saturating_since(crashed_at);
            for record in &mut held {
                record.age += down;
            }
            self.stats.records_kept += node.restore_held(now, held).restored as u64;
        }
        slot.node = Some(node);
        slot.next_wake = NEVER;
    }

    /// Runs the event loop to the end and leaves the figures in place.
    pub fn run(&mut self) {
        let targeted_steps = self.config.targeted.as_ref().map_or(0, |t| {
            t.eclipse_keys * t.eclipse_gets * usize::from(t.attack == Attack::EclipseKey)
                + t.victim_lookups * usize::from(t.attack == Attack::SybilTable)
        });
        self.progress.set_length(
            (self.config.nodes + self.config.lookups + self.config.gets + targeted_steps) as u64,
        );
        match self.config.formation {
            Formation::Protocol => self.schedule_joins(),
            Formation::Prefill => self.prefill(),
        }
        let threads = match self.config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // Adversaries' interceptions share one state: such runs take one partition (the
        // report is the same either way; only the speed differs).
        let shared_state = self.config.adversaries.is_some() || self.config.targeted.is_some();
        if threads > 1 && !shared_state {
            self.pool = Some(Pool::new(threads));
            self.engine.threads = threads;
        }
        let hard_stop = self.hard_stop();
        let mut batch: Vec<NodeEvent> = Vec::new();
        loop {
            let action_at = self.queue.peek_time();
            let node_slot = self.calendar.next_slot(action_at.map(slot_of));
            let node_at = node_slot.map(|slot| slot_start(slot).max(self.queue.now()));
            let Some(next) = action_at.into_iter().chain(node_at).min() else {
                break;
            };
            if next > hard_stop {
                break;
            }
            // The simulation's own actions come before the nodes' events at the same time.
            let at = if action_at.is_some_and(|a| node_at.is_none_or(|n| a <= n)) {
                let (at, action) = self.queue.pop().expect("peeked");
                self.dispatch(action);
                at
            } else {
                let slot = node_slot.expect("a node event is next");
                // A window: the rest of this millisecond, cut short by the next action.
                let end = slot_start(slot + 1).min(action_at.unwrap_or(NEVER));
                batch.clear();
                self.calendar.take(end, &mut batch);
                self.run_window(&mut batch, end);
                end
            };
            if self.phase == Phase::Measuring
                && self.plan.is_empty()
                && self.pending_work == 0
                && at >= self.window_end
            {
                break;
            }
            if self.phase == Phase::Measuring && at > self.window_end + Duration::from_secs(600) {
                break;
            }
        }
        self.pool = None;
        self.collector.unfinished += self
            .tracked
            .values()
            .filter(|(p, _)| *p == Job::Lookup)
            .count() as u64;
        let victim_unfinished = self
            .tracked
            .values()
            .filter(|(p, _)| *p == Job::VictimLookup)
            .count() as u64;
        self.note_victim_unfinished(victim_unfinished);
        self.phase = Phase::Done;
    }

    /// A bound on virtual time, so a run that cannot form (say, 100% loss) still ends.
    fn hard_stop(&self) -> Time {
        let formation = Duration::from_secs_f64(self.config.nodes as f64 / self.config.join_rate)
            + Duration::from_secs(3600);
        Time::ZERO
            + formation
            + self.settle_time()
            + self.config.window()
            + Duration::from_secs(600)
    }

    fn dispatch(&mut self, action: Action) {
        match action {
            Action::Join { node } => self.join(node),
            Action::SessionEnd { node } => self.session_end(node),
            Action::Workload => self.workload(),
            // The nodes' events live in the calendar, not in this queue.
            Action::Deliver { .. } | Action::Wake { .. } | Action::Pause => {}
        }
    }

    /// Runs one window: the nodes' `events` (all before `end`), cut into partitions of whole
    /// nodes when there are threads and enough events, then the barrier: new events filed,
    /// counts added, finished commands taken up in (time, node) order.
    fn run_window(&mut self, events: &mut [NodeEvent], end: Time) {
        self.engine.windows += 1;
        events.sort_unstable_by_key(NodeEvent::order);
        let shared = Shared {
            addresses: &self.addresses,
            network: &self.network,
            sites: &self.sites,
            seed: self.config.seed,
            network_id: self.node_config.network,
            k: self.node_config.k,
        };
        let threads = self.pool.as_ref().map_or(1, Pool::threads);
        if threads == 1 || events.len() < PARALLEL_MIN_EVENTS {
            let adversaries = (self.config.adversaries.is_some() || self.config.targeted.is_some())
                .then_some(&mut self.adversaries);
            run_partition(
                &mut self.slots,
                0,
                events,
                end,
                &shared,
                &mut self.out,
                adversaries,
            );
        } else {
            let pool = self.pool.as_mut().expect("threads > 1");
            // More chunks than threads, claimed in turn: a thread that is late (the machine
            // is shared) leaves its chunks to the others instead of stalling the window.
            let chunks = (threads * CHUNKS_PER_THREAD).min(events.len() / PARALLEL_MIN_EVENTS);
            self.parts.resize_with(chunks.max(1), Out::default);
            self.engine.parallel_windows += 1;
            let parts = &mut self.parts[..chunks.max(1)];
            let jobs = partition(&mut self.slots, events, parts);
            let jobs: Vec<std::sync::Mutex<Part<'_>>> =
                jobs.into_iter().map(std::sync::Mutex::new).collect();
            pool.run(jobs.len(), &|id| {
                if let Some(job) = jobs.get(id) {
                    let mut job = job.lock().unwrap_or_else(|e| e.into_inner());
                    let Part {
                        slots,
                        base,
                        events,
                        out,
                    } = &mut *job;
                    run_partition(slots, *base, events, end, &shared, out, None);
                }
            });
            drop(jobs);
            for part in &mut self.parts {
                self.out.absorb(part);
            }
        }
        self.queue.set_now(end);
        self.take_up_out();
    }

    /// Files what the nodes produced (new events, counts) and takes up their finished
    /// commands, in (time, node) order: each node's in the order it finished them.
    fn take_up_out(&mut self) {
        for event in self.out.events.drain(..) {
            self.calendar.push(event);
        }
        self.traffic.add(&self.out.traffic);
        self.out.traffic = Traffic::default();
        self.node_events += std::mem::take(&mut self.out.processed);
        if self.out.finished.is_empty() {
            return;
        }
        let mut finished = std::mem::take(&mut self.out.finished);
        finished.sort_by_key(|f| (f.at, f.node));
        for f in finished.drain(..) {
            self.finished(f.node, f.op, f.result);
        }
        if self.out.finished.is_empty() {
            // Keep the buffer's memory for the next window.
            self.out.finished = finished;
        }
    }

    /// Hands everything slot `index` produced (by one of the simulation's own actions) to
    /// the network and the bookkeeping, and files its next wake-up if it moved earlier.
    pub(super) fn drain(&mut self, index: u32) {
        let now = self.queue.now();
        let shared = Shared {
            addresses: &self.addresses,
            network: &self.network,
            sites: &self.sites,
            seed: self.config.seed,
            network_id: self.node_config.network,
            k: self.node_config.k,
        };
        let slot = &mut self.slots[index as usize];
        let before = slot.next_wake;
        window::drain(slot, index, now, &shared, &mut self.out);
        window::note_wake(slot, index, before, &mut self.out);
        self.take_up_out();
    }

    /// A random joined node other than `except`, if any. The workload's draws
    /// (`rng_is_work`) are honest nodes only: lookups, puts and gets are what honest users do;
    /// a joining node may bootstrap through anyone.
    pub(super) fn random_joined(&mut self, rng_is_work: bool, except: u32) -> Option<u32> {
        let n = self.joined.len();
        if n == 0 || (n == 1 && self.joined[0] == except) {
            return None;
        }
        let rng = if rng_is_work {
            &mut self.rng.work
        } else {
            &mut self.rng.churn
        };
        // Bounded: with adversaries at most a fraction below 1, an honest pick comes quickly.
        for _ in 0..10_000 {
            let pick = self.joined[rng.random_range(0..n)];
            let honest = self.slots[pick as usize].attack.is_none();
            if pick != except && (honest || !rng_is_work) {
                return Some(pick);
            }
        }
        None
    }

    /// The attack slot `index` runs: adversaries are drawn from the seed and the index, and
    /// take the configured attacks in turn.
    /// True if slot `index` is behind a NAT: a seeded draw per slot (node 0, the first
    /// bootstrap node, never is).
    pub(super) fn behind_nat(&self, index: u32) -> bool {
        index != 0
            && self.config.unreachable > 0.0
            && crate::random::unit_of(mix(self.config.seed, NAT_STREAM), u64::from(index), 0)
                < self.config.unreachable
    }

    fn draw_attack(&mut self, index: u32) -> Option<Attack> {
        let config = self.config.adversaries.as_ref()?;
        // The targeted attacks are run by nodes of their own (`targeted`), not by drawn slots.
        let drawn = config.attacks.iter().filter(|a| !a.is_targeted()).count();
        if drawn == 0 || !is_adversary(self.config.seed, index, config.fraction) {
            return None;
        }
        let nth = self.stats.adversaries as usize;
        self.stats.adversaries += 1;
        config
            .attacks
            .iter()
            .copied()
            .filter(|a| !a.is_targeted())
            .nth(nth % drawn)
    }

    /// Enters slot `index` among the joined nodes.
    pub(super) fn mark_joined(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if slot.joined_pos != NOT_JOINED {
            return;
        }
        let Some(node) = slot.node.as_ref() else {
            return;
        };
        slot.joined_pos = self.joined.len() as u32;
        // The truth lookups are judged by is the honest nodes that serve: a lookup succeeds
        // when it finds the honest node closest to its target. A node behind a NAT is a client
        // (its checks make it one), which no table holds and no lookup can find.
        if slot.attack.is_none() && slot.nat.is_none() {
            self.live.insert(node.id());
        }
        self.joined.push(index);
    }

    /// Takes slot `index` out of the joined nodes.
    pub(super) fn mark_gone(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let pos = slot.joined_pos;
        if pos == NOT_JOINED {
            return;
        }
        slot.joined_pos = NOT_JOINED;
        if let Some(node) = slot.node.as_ref() {
            self.live.remove(&node.id());
        }
        if slot.attack.is_some() {
            self.adversaries.down(index);
        }
        self.joined.swap_remove(pos as usize);
        if let Some(&moved) = self.joined.get(pos as usize) {
            self.slots[moved as usize].joined_pos = pos;
        }
    }
}

/// The real ed25519 key of slot `index` (with `--real-identities`), derived from the seed.
fn real_identity(seed: u64, index: u32) -> Identity {
    let mut input = [0u8; 12];
    input[..8].copy_from_slice(&seed.to_le_bytes());
    input[8..].copy_from_slice(&index.to_le_bytes());
    Identity::from_secret_key(blake3::derive_key("qis-sim 2026-12 real node key", &input))
}

/// Real credentials of slot `index`: its key with the first work that meets `difficulty`
/// (solved again at each start: real identities are for small runs).
fn real_credentials(seed: u64, index: u32, difficulty: Difficulty) -> Credentials {
    let identity = real_identity(seed, index);
    let (work, _) = WorkHasher::new()
        .solve(&identity.public_key(), difficulty, IdWork(0), u64::MAX)
        .expect("an unbounded search finds work");
    Credentials::real(&identity, work, difficulty).expect("solved work meets its difficulty")
}

/// The secret of one incarnation of a simulated node, derived from the run seed: a simulation
/// must be reproducible, and it has no attacker to keep secrets from.
fn node_secret(seed: u64, index: u32, incarnation: u32) -> NodeSecret {
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(&seed.to_le_bytes());
    input[8..12].copy_from_slice(&index.to_le_bytes());
    input[12..].copy_from_slice(&incarnation.to_le_bytes());
    NodeSecret::from_bytes(blake3::derive_key("qis-sim 2026-12 node secret", &input))
}

/// One partition of a window: a range of slots and their events.
struct Part<'a> {
    slots: &'a mut [Slot],
    base: u32,
    events: &'a mut [NodeEvent],
    out: &'a mut Out,
}

/// Cuts a window's `events` (sorted by node) into one job per output in `outs`, of whole
/// nodes and near-equal numbers of events, with the slots each job's nodes occupy.
fn partition<'a>(
    slots: &'a mut [Slot],
    events: &'a mut [NodeEvent],
    outs: &'a mut [Out],
) -> Vec<Part<'a>> {
    let parts = outs.len();
    let mut jobs = Vec::with_capacity(parts);
    let (mut slots, mut events) = (slots, events);
    let mut base = 0u32;
    let mut left = events.len();
    for (p, out) in outs.iter_mut().enumerate() {
        let share = if p + 1 == parts {
            events.len()
        } else {
            let want = left.div_ceil(parts - p).min(events.len());
            // Extend to the end of the node at the cut, so that no node is split.
            let mut cut = want;
            if cut > 0 {
                let node = events[cut - 1].to;
                while cut < events.len() && events[cut].to == node {
                    cut += 1;
                }
            }
            cut
        };
        let (mine, rest) = std::mem::take(&mut events).split_at_mut(share);
        events = rest;
        left -= share;
        // This job's slots run up to the first node of the next job (or to the end).
        let until = events.first().map_or(base + slots.len() as u32, |e| e.to);
        let (own, others) = std::mem::take(&mut slots).split_at_mut((until - base) as usize);
        jobs.push(Part {
            slots: own,
            base,
            events: mine,
            out,
        });
        slots = others;
        base = until;
    }
    jobs
}
