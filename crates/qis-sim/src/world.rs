//! The simulated world: every node's core, the event loop that feeds them datagrams and
//! timeouts in virtual time, and the bookkeeping of what the workload started.

use super::addresses::Addresses;
use super::adversary::{Adversaries, Attack, Intercept, Verdict, is_adversary};
use super::config::{Formation, SimConfig, SimIdentities};
use super::engine::{Action, EventQueue};
use super::network::{Network, Site};
use super::random::{SimRng, stream};
use super::truth::LiveIndex;
use super::workload::{Collector, Job, Step, ValueSet};
use indicatif::ProgressBar;
use qis_core::PublicKey;
use qis_core::SimAddr;
use qis_core::TableConfig;
use qis_core::{Config, Endpoint, Event, Node, Transmit};
use qis_core::{Credentials, Difficulty, IdWork, Identity, NodeSecret, WorkHasher};
use qis_core::{Duration, Time};
use rand::RngExt;
use std::collections::{BTreeMap, VecDeque};

/// A time later than any event.
pub(super) const NEVER: Time = Time::from_micros(u64::MAX);

/// Marks a slot that is not among the joined nodes.
pub(super) const NOT_JOINED: u32 = u32::MAX;

/// One address of the simulated network and the node behind it, if it is up.
#[derive(Debug)]
pub(super) struct Slot {
    pub node: Option<Node<SimAddr>>,
    pub key: PublicKey,
    pub site: Site,
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
}

impl Slot {
    /// A slot not yet started: its key, site and attack, nothing else yet.
    pub(super) fn new(key: PublicKey, site: Site, attack: Option<Attack>) -> Slot {
        Slot {
            attack,
            node: None,
            key,
            site,
            next_wake: NEVER,
            joined_pos: NOT_JOINED,
            incarnation: 0,
            burst_bad: false,
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
pub(super) struct Traffic {
    pub datagrams: u64,
    pub bytes: u64,
    pub lost: u64,
    pub to_dead: u64,
    /// Sent to an address no slot has (a simulator bug: see `SimReport::datagrams_unaddressed`).
    pub unaddressed: u64,
    /// The bytes sent, by cause (`SimReport::bytes_by_cause`).
    pub causes: qis_core::wire::ByteCauses,
}

/// Independent random streams.
#[derive(Debug)]
pub(super) struct Rngs {
    pub net: SimRng,
    pub work: SimRng,
    pub churn: SimRng,
    pub sites: SimRng,
    pub keys: SimRng,
}

/// The whole simulated network.
pub struct Simulation {
    pub(super) config: SimConfig,
    pub(super) node_config: Config,
    pub(super) queue: EventQueue,
    pub(super) slots: Vec<Slot>,
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
    pub(super) outbox: Vec<Transmit<SimAddr>>,
    pub(super) inbox: Vec<qis_core::Event<SimAddr>>,
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
            net: stream(config.seed, 1),
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
            queue: EventQueue::new(),
            slots: Vec::with_capacity(config.nodes),
            network,
            addresses,
            rng,
            live: LiveIndex::new(),
            joined: Vec::with_capacity(config.nodes),
            tracked: BTreeMap::new(),
            kept_stores: BTreeMap::new(),
            kept_publications: BTreeMap::new(),
            outbox: Vec::new(),
            inbox: Vec::new(),
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
        self.slots.push(Slot::new(key, site, attack));
        index
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
        let mut node = Node::new(self.node_config.clone(), secret, credentials, now);
        crate::set_wall_clock(&mut node, now);
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
        let hard_stop = self.hard_stop();
        while let Some((at, action)) = self.queue.pop() {
            if at > hard_stop {
                break;
            }
            self.dispatch(action);
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
            Action::Deliver {
                to,
                from,
                payload,
                to_via,
                from_via,
            } => {
                let now = self.queue.now();
                let source = self.addresses.of_endpoint(from, from_via);
                if to_via == Endpoint::Main && self.adversary_handles(to, from, source, &payload) {
                    return;
                }
                match self.slots[to as usize].node.as_mut() {
                    Some(node) => {
                        match to_via {
                            Endpoint::Main => node.handle_datagram(now, source, &payload),
                            Endpoint::Audit => node.handle_audit_datagram(now, source, &payload),
                        }
                        self.drain(to);
                    }
                    None => self.traffic.to_dead += 1,
                }
            }
            Action::Wake { node } => {
                let now = self.queue.now();
                let slot = &mut self.slots[node as usize];
                if slot.next_wake != now {
                    return;
                }
                slot.next_wake = NEVER;
                if let Some(core) = slot.node.as_mut() {
                    core.handle_timeout(now);
                    self.drain(node);
                }
            }
            Action::Join { node } => self.join(node),
            Action::SessionEnd { node } => self.session_end(node),
            Action::Workload => self.workload(),
            Action::Pause => {}
        }
    }

    /// Hands everything slot `index` produced to the network and the bookkeeping, and
    /// schedules its next wake-up if its deadline moved earlier.
    pub(super) fn drain(&mut self, index: u32) {
        let now = self.queue.now();
        let slot = &mut self.slots[index as usize];
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let mut outbox = std::mem::take(&mut self.outbox);
        let mut inbox = std::mem::take(&mut self.inbox);
        while let Some(t) = node.poll_transmit() {
            outbox.push(t);
        }
        while let Some(e) = node.poll_event() {
            inbox.push(e);
        }
        if let Some(deadline) = node.poll_timeout() {
            let deadline = deadline.max(now);
            if deadline < slot.next_wake {
                slot.next_wake = deadline;
                self.queue.push(deadline, Action::Wake { node: index });
            }
        }
        for t in outbox.drain(..) {
            self.send(index, t);
        }
        for e in inbox.drain(..) {
            if let Event::Finished { op, result } = e {
                self.finished(index, op, result);
            }
        }
        self.outbox = outbox;
        self.inbox = inbox;
    }

    /// Puts a datagram on the network: lost, or delivered after the modelled delay.
    fn send(&mut self, from: u32, t: Transmit<SimAddr>) {
        self.traffic.datagrams += 1;
        self.traffic.bytes += t.payload.len() as u64;
        // Decoded once more only to split the bytes by cause: every datagram was encoded by a
        // core of this run, so it decodes.
        if let Ok(message) = qis_core::wire::decode::<SimAddr>(&t.payload, self.node_config.network)
        {
            self.traffic.causes += qis_core::wire::byte_causes(&message);
        }
        let Some((to, to_via)) = self.addresses.endpoint(t.to) else {
            self.traffic.unaddressed += 1;
            return;
        };
        let Some(receiver) = self.slots.get_mut(to as usize) else {
            self.traffic.to_dead += 1;
            return;
        };
        if self
            .network
            .lost(&mut receiver.burst_bad, &mut self.rng.net)
        {
            self.traffic.lost += 1;
            return;
        }
        let delay = self.network.delay_us(
            &self.slots[from as usize].site,
            &self.slots[to as usize].site,
            &mut self.rng.net,
        );
        let at = self.queue.now() + Duration::from_micros(delay);
        self.queue.push(
            at,
            Action::Deliver {
                to,
                from,
                payload: t.payload,
                to_via,
                from_via: t.via,
            },
        );
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

    /// Passes a datagram for adversary `to` through its attack; true if the attack dealt with
    /// it (dropped it, or answered with a lie).
    fn adversary_handles(&mut self, to: u32, from: u32, source: SimAddr, payload: &[u8]) -> bool {
        let Some(attack) = self.slots[to as usize].attack else {
            return false;
        };
        if self.slots[to as usize].node.is_none() {
            return false;
        }
        let at = Intercept {
            slot: to,
            from,
            source,
            payload,
            network: self.node_config.network,
            k: self.node_config.k,
            now: self.queue.now(),
            addresses: &self.addresses,
        };
        match self.adversaries.intercept(attack, &at) {
            Verdict::Pass => false,
            Verdict::Drop => true,
            Verdict::Answer(bytes) => {
                self.send(
                    to,
                    Transmit {
                        to: source,
                        payload: bytes,
                        via: Endpoint::Main,
                    },
                );
                true
            }
        }
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
        // The truth lookups are judged by is the honest nodes: a lookup succeeds when it finds
        // the honest node closest to its target.
        if slot.attack.is_none() {
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
