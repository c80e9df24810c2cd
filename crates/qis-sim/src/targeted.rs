//! Targeted attacks with ground ids (`--attack eclipse-key`, `--attack sybil-table`).
//!
//! An id is costly (`qis_core::work`): it is the hash of an Argon2id evaluation with at least
//! `d` leading zero bits (d = 12 by default), so it comes out of the work and is uniform in the
//! id space. The attacker's fastest measured rate (`bench/grind.rs`) is
//! [`CANDIDATES_PER_CORE_SECOND`] candidates a second per core, one in 2^d of them valid: a
//! budget of B CPU-hours buys `B * 3600 * 3279 / 4096` (about 2,882 B) valid ids, uniformly
//! random, and the attacker keeps those that suit its target. The simulator draws that many
//! ids from a stream of the seed (modelled ids: blake3 of a random key, as every simulated id
//! is "drawn as if solved") and keeps the best; the grinding itself costs it a hash each.
//!
//! The attacker's nodes are extra nodes beyond `--nodes`, one per address it has (the address
//! model has no ports: one id per IPv4 address; a real attacker could run a second id behind
//! another port of the same address, as the table allows 2 per IP, so this under-models it by
//! up to 2x). Their keys, addresses and sites come from streams of their own, so the honest
//! nodes keep the ids, addresses and sites they have without the attack. They join once the
//! honest network has formed, during the settle time (lengthened if they need more), before
//! any value is published, and they never churn (an attacker keeps its servers up).
//!
//! * `eclipse-key`: the target is the keys of the first `--eclipse-keys` values (every value
//!   is published at the start of the window, after the attacker nodes are in). Its nodes hold
//!   the ids of the grind closest to those keys, split evenly between them; they acknowledge
//!   and discard stores of the keys, answer FIND_VALUE of them and FIND_NODE near them with
//!   the colluders closest to the target, and are honest otherwise (so they earn table places).
//! * `sybil-table`: the target is one honest node's routing table (the first honest slot
//!   after the bootstrap node, slot 1 unless `--adversaries` drew it). Ids of the grind fall
//!   into the victim's bucket `b` with probability 2^-(b+1); the attacker keeps up to k for
//!   each bucket and runs them deepest bucket first while it has addresses. Its nodes
//!   bootstrap through the victim (so it meets them all), answer the victim's lookups with
//!   colluders, and are honest toward everyone else: a stealthy attacker gives nobody else a
//!   reason to drop it, and the run's overall figures stay a control for the victim's.

use super::addresses::{Addresses, random_slash_24, slash_24};
use super::adversary::Attack;
use super::engine::Action;
use super::random::{SimRng, stream};
use super::report::round3;
use super::workload::{Collector, Job, Step};
use super::world::{NOT_JOINED, Simulation, Slot};
use qis_core::{Duration, Id, LookupReport, PublicKey, SimAddr, Time};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Id-work candidates a second per core of the attacker's fastest measured grinder
/// (`bench/grind.rs`).
pub const CANDIDATES_PER_CORE_SECOND: f64 = 3279.0;

/// The id difficulty the budget is priced at (the default: 12 leading zero bits).
pub const PRICED_DIFFICULTY_BITS: u32 = 12;

/// The largest budget a run grinds (about 29 million valid ids, a few seconds of hashing).
pub const MAX_GRIND_CPU_HOURS: f64 = 10_000.0;

/// Addresses a one-prefix attacker can have (one /24).
pub const ONE_PREFIX_ADDRESSES: usize = 256;

/// Valid ids a budget of `cpu_hours` buys at the measured rate and the priced difficulty.
pub fn valid_ids_for(cpu_hours: f64) -> u64 {
    let candidates = cpu_hours.max(0.0) * 3600.0 * CANDIDATES_PER_CORE_SECOND;
    (candidates / f64::from(1u32 << PRICED_DIFFICULTY_BITS)).floor() as u64
}

/// How the attacker's addresses lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPlan {
    /// All in one /24 (at most 256): what a single rented block gives.
    OnePrefix,
    /// Each in a different /24: what a botnet or many cloud regions give.
    Spread,
}

impl AddressPlan {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            AddressPlan::OnePrefix => "one-prefix",
            AddressPlan::Spread => "spread",
        }
    }

    /// The plan called `name`.
    pub fn from_name(name: &str) -> Option<AddressPlan> {
        [AddressPlan::OnePrefix, AddressPlan::Spread]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// A targeted attack.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetedConfig {
    /// [`Attack::EclipseKey`] or [`Attack::SybilTable`].
    pub attack: Attack,
    /// CPU-hours of id grinding.
    pub grind_cpu_hours: f64,
    /// Addresses the attacker has (one node each, at most).
    pub addresses: usize,
    /// How they lie.
    pub plan: AddressPlan,
    /// Eclipse: how many values' keys (the first ones published).
    pub eclipse_keys: usize,
    /// Eclipse: dedicated gets of each eclipsed key by random honest nodes, over the window.
    pub eclipse_gets: usize,
    /// Sybil: lookups of random targets by the victim, over the window.
    pub victim_lookups: usize,
}

impl TargetedConfig {
    /// `attack` with the defaults: 1 CPU-hour, 256 spread addresses, 1 key, 100 gets of it,
    /// 100 victim lookups.
    pub fn new(attack: Attack) -> TargetedConfig {
        TargetedConfig {
            attack,
            grind_cpu_hours: 1.0,
            addresses: 256,
            plan: AddressPlan::Spread,
            eclipse_keys: 1,
            eclipse_gets: 100,
            victim_lookups: 100,
        }
    }

    /// Why the attack cannot run in a network of `nodes` publishing `values`, if it cannot:
    /// the flag at fault (without its dashes) and what is wrong.
    pub fn check(&self, nodes: usize, values: usize) -> Result<(), (&'static str, String)> {
        if !self.attack.is_targeted() {
            let reason = format!("{} is not a targeted attack", self.attack.name());
            return Err(("attack", reason));
        }
        let h = self.grind_cpu_hours;
        if !(h.is_finite() && (0.0..=MAX_GRIND_CPU_HOURS).contains(&h)) {
            let reason =
                format!("{h} is not a number of CPU-hours from 0 to {MAX_GRIND_CPU_HOURS}");
            return Err(("grind-cpu-hours", reason));
        }
        if self.addresses == 0 || self.addresses > 65_536 {
            let reason = format!("{} is not 1 to 65536", self.addresses);
            return Err(("attacker-addresses", reason));
        }
        if self.plan == AddressPlan::OnePrefix && self.addresses > ONE_PREFIX_ADDRESSES {
            let reason = format!(
                "{} addresses with --attack-addresses one-prefix: a /24 holds at most {ONE_PREFIX_ADDRESSES}",
                self.addresses
            );
            return Err(("attacker-addresses", reason));
        }
        if self.attack == Attack::EclipseKey {
            if self.eclipse_keys == 0 {
                return Err(("eclipse-keys", "must be at least 1".into()));
            }
            if self.eclipse_keys > values {
                let reason = format!(
                    "{} keys to eclipse, but the run publishes {values} values (--values)",
                    self.eclipse_keys
                );
                return Err(("eclipse-keys", reason));
            }
            if self.eclipse_keys > self.addresses {
                let reason = format!(
                    "{} keys need at least one attacker address each (--attacker-addresses {})",
                    self.eclipse_keys, self.addresses
                );
                return Err(("eclipse-keys", reason));
            }
        }
        if self.attack == Attack::SybilTable && nodes < 2 {
            let reason = "sybil-table needs a victim besides the bootstrap node (2 or more)";
            return Err(("nodes", reason.into()));
        }
        Ok(())
    }
}

/// One eclipsed key, as it went.
#[derive(Debug, Clone)]
pub(crate) struct KeyState {
    pub value: usize,
    pub key: Id,
    pub nodes: usize,
    pub at_publication: Option<u64>,
    pub put_acks: Option<u64>,
    pub gets: u64,
    pub found: u64,
}

/// A targeted attack under way.
#[derive(Debug)]
pub(crate) struct Targeted {
    pub config: TargetedConfig,
    pub valid_ids: u64,
    /// Bootstrap picks, get initiators, victim lookup targets.
    pub rng: SimRng,
    /// The attacker's slots.
    pub slots: Vec<u32>,
    /// Their ids.
    pub ids: BTreeSet<Id>,
    pub slash_24s: u64,
    pub joined: u64,
    pub keys: Vec<KeyState>,
    /// Sybil: the victim's slot and id, and the ground nodes per bucket.
    pub victim: Option<(u32, Id)>,
    pub nodes_per_bucket: BTreeMap<usize, u64>,
    pub victim_lookups: Collector,
}

/// The attacker's keys for an eclipse of `targets`, `per_target[j]` for target `j`: of `m`
/// ids drawn from `rng`, each goes to the target it is closest to, and each target keeps its
/// closest. Closest first.
pub(crate) fn grind_closest(
    rng: &mut SimRng,
    targets: &[Id],
    per_target: &[usize],
    m: u64,
) -> Vec<Vec<PublicKey>> {
    let mut heaps: Vec<BinaryHeap<(qis_core::Distance, [u8; 32])>> =
        targets.iter().map(|_| BinaryHeap::new()).collect();
    for _ in 0..m {
        let mut key = [0u8; 32];
        rng.fill(&mut key[..]);
        let id = Id::hash(&key);
        let Some((j, d)) = targets
            .iter()
            .enumerate()
            .map(|(j, t)| (j, id.distance(t)))
            .min_by_key(|&(_, d)| d)
        else {
            return Vec::new();
        };
        let heap = &mut heaps[j];
        if heap.len() < per_target[j] {
            heap.push((d, key));
        } else if heap.peek().is_some_and(|(worst, _)| d < *worst) {
            heap.pop();
            heap.push((d, key));
        }
    }
    heaps
        .into_iter()
        .map(|h| {
            h.into_sorted_vec()
                .into_iter()
                .map(|(_, k)| PublicKey(k))
                .collect()
        })
        .collect()
}

/// The attacker's keys against the table of `victim`: of `m` ids drawn from `rng`, up to `k`
/// per bucket of the victim's table (ids sharing exactly `b` leading bits with it), then the
/// deepest buckets first, at most `nodes` in all. (key, bucket) pairs.
pub(crate) fn grind_buckets(
    rng: &mut SimRng,
    victim: &Id,
    k: usize,
    m: u64,
    nodes: usize,
) -> Vec<(PublicKey, usize)> {
    let mut per_bucket: BTreeMap<usize, Vec<PublicKey>> = BTreeMap::new();
    for _ in 0..m {
        let mut key = [0u8; 32];
        rng.fill(&mut key[..]);
        let id = Id::hash(&key);
        if id == *victim {
            continue;
        }
        let bucket = id.common_prefix_len(victim);
        let kept = per_bucket.entry(bucket).or_default();
        if kept.len() < k {
            kept.push(PublicKey(key));
        }
    }
    per_bucket
        .into_iter()
        .rev()
        .flat_map(|(b, keys)| keys.into_iter().map(move |key| (key, b)))
        .take(nodes)
        .collect()
}

/// `count` attacker addresses under `plan`, in /24s that hold no node of `taken`.
pub(crate) fn attacker_addresses(
    plan: AddressPlan,
    count: usize,
    rng: &mut SimRng,
    taken: &Addresses,
) -> Vec<SimAddr> {
    let honest: BTreeSet<u32> = taken.slots_per_slash_24().keys().copied().collect();
    let mut used = BTreeSet::new();
    let mut fresh_block = |rng: &mut SimRng| loop {
        let base = random_slash_24(rng);
        let block = slash_24(SimAddr(base));
        if !honest.contains(&block) && used.insert(block) {
            return base;
        }
    };
    match plan {
        AddressPlan::OnePrefix => {
            let base = fresh_block(rng);
            (0..count as u32)
                .map(|i| SimAddr(base + (i + 1) % 256))
                .collect()
        }
        AddressPlan::Spread => (0..count)
            .map(|_| {
                let base = fresh_block(rng);
                SimAddr(base + rng.random_range(1..=254u32))
            })
            .collect(),
    }
}

/// The first honest slot after the bootstrap node: the sybil's victim.
pub(crate) fn victim_slot(attacks: &[Option<Attack>]) -> Option<u32> {
    (1..attacks.len())
        .find(|&i| attacks[i].is_none())
        .map(|i| i as u32)
}

/// The prefix length whose id range around a key holds about k to 2k of `nodes` honest nodes
/// (floor of log2(nodes / k)): a FIND_NODE target sharing that many bits with an eclipsed key
/// is "near" it.
pub(crate) fn near_bits(nodes: usize, k: usize) -> usize {
    let ratio = nodes as f64 / k.max(1) as f64;
    if ratio <= 1.0 {
        0
    } else {
        ratio.log2().floor() as usize
    }
}

/// Expected attackers among the k closest live nodes to a key: of `n` honest and `m` uniform
/// attacker ids, each of the k closest is the attacker's with probability m/(n+m); the
/// attacker runs only `nodes` of them.
pub(crate) fn expected_in_closest(n: usize, m: u64, k: usize, nodes: usize) -> f64 {
    let share = m as f64 / (n as f64 + m as f64).max(1.0);
    round3((k as f64 * share).min(nodes as f64))
}

/// What an eclipse did (`adversaries.eclipse` in the report).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EclipseReport {
    /// The grinding budget in CPU-hours.
    pub cpu_hours: f64,
    /// Candidates per core-second it is priced at.
    pub candidates_per_core_second: f64,
    /// The id difficulty it is priced at.
    pub difficulty_bits: u32,
    /// Valid ids the budget buys (drawn, the best kept).
    pub valid_ids: u64,
    /// Addresses the attacker has.
    pub attacker_addresses: u64,
    /// `one-prefix` or `spread`.
    pub address_plan: String,
    /// /24s its addresses span.
    pub attacker_slash_24s: u64,
    /// Nodes it ran (one per address).
    pub attacker_nodes: u64,
    /// Of them, joined by the end.
    pub attacker_nodes_joined: u64,
    /// A FIND_NODE target sharing this many leading bits with an eclipsed key is answered
    /// with colluders.
    pub near_prefix_bits: u64,
    /// The closest positions counted (k).
    pub closest: u64,
    /// Per eclipsed key.
    pub keys: Vec<EclipseKeyReport>,
}

/// One eclipsed key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EclipseKeyReport {
    /// Its value's index in the workload.
    pub value: u64,
    /// The key, hex.
    pub key: String,
    /// Attacker nodes aimed at it.
    pub attacker_nodes: u64,
    /// The model's expectation of `attackers_in_closest_*`: k m / (n + m), at most the nodes.
    pub expected_attackers_in_closest: f64,
    /// Attackers among the k closest live nodes (honest and attacker) when it was published.
    pub attackers_in_closest_at_publication: Option<u64>,
    /// The same at the end of the run.
    pub attackers_in_closest_at_end: u64,
    /// Acknowledgements its put got (attackers' included).
    pub put_acks: Option<u64>,
    /// Gets of it by honest nodes (the dedicated ones and the workload's).
    pub gets: u64,
    /// Of them, those that returned the value.
    pub found: u64,
    /// found / gets (1 when there were none).
    pub retrieval: f64,
}

/// What a sybil attack on one table did (`adversaries.sybil_table` in the report).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SybilReport {
    /// The grinding budget in CPU-hours.
    pub cpu_hours: f64,
    /// Candidates per core-second it is priced at.
    pub candidates_per_core_second: f64,
    /// The id difficulty it is priced at.
    pub difficulty_bits: u32,
    /// Valid ids the budget buys.
    pub valid_ids: u64,
    /// Addresses the attacker has.
    pub attacker_addresses: u64,
    /// `one-prefix` or `spread`.
    pub address_plan: String,
    /// /24s its addresses span.
    pub attacker_slash_24s: u64,
    /// Nodes it ran (ids in the victim's buckets, up to k a bucket, deepest first).
    pub attacker_nodes: u64,
    /// Of them, joined by the end.
    pub attacker_nodes_joined: u64,
    /// The victim's slot.
    pub victim_slot: u64,
    /// Entries of the victim's table at the end.
    pub victim_table_size: u64,
    /// Of them, attackers.
    pub attacker_entries: u64,
    /// attacker_entries / victim_table_size.
    pub attacker_share: f64,
    /// Attacker entries of the /24 that has the most of them.
    pub attacker_entries_max_per_slash_24: u64,
    /// Offers the victim's table refused for the prefix limits (`table_refused_prefix`: every
    /// offer, honest ones too; an offer refused again counts again).
    pub victim_refused_prefix: u64,
    /// Attacker nodes not in the victim's table although their bucket there has room (what
    /// the prefix limits, or never meeting, kept out).
    pub attackers_kept_out: u64,
    /// Per bucket of the victim's table, down to the deepest one used or targeted.
    pub buckets: Vec<SybilBucket>,
    /// Lookups of random targets by the victim.
    pub victim_lookups: u64,
    /// Of them, those that found the honest node closest to the target.
    pub victim_success_rate: f64,
    /// Their mean recall of the k closest honest nodes.
    pub victim_recall_k: f64,
}

/// One bucket of the victim's table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SybilBucket {
    /// Its index (leading bits shared with the victim).
    pub bucket: u64,
    /// Entries at the end.
    pub entries: u64,
    /// Of them, attackers.
    pub attacker_entries: u64,
    /// Attacker nodes with ids in it.
    pub attacker_nodes: u64,
}

impl Simulation {
    /// The settle time: long enough, with a targeted attack, for the attacker's nodes to join
    /// (at the join rate) and look around before the window opens.
    pub(super) fn settle_time(&self) -> Duration {
        match &self.config.targeted {
            Some(t) => self.config.settle.max(
                Duration::from_secs_f64(t.addresses as f64 / self.config.join_rate.max(1e-6))
                    + Duration::from_secs(30),
            ),
            None => self.config.settle,
        }
    }

    /// The attack starts (the honest network has formed): grinds the attacker's ids, gives
    /// them its addresses, and schedules their joins.
    pub(super) fn place_attackers(&mut self) {
        let Some(config) = self.config.targeted.clone() else {
            return;
        };
        let now = self.queue.now();
        let seed = self.config.seed;
        let mut grind = stream(seed, 21);
        let mut address_rng = stream(seed, 22);
        let mut sites = stream(seed, 23);
        let valid_ids = valid_ids_for(config.grind_cpu_hours);
        let k = self.node_config.k;
        let mut state = Targeted {
            config: config.clone(),
            valid_ids,
            rng: stream(seed, 20),
            slots: Vec::new(),
            ids: BTreeSet::new(),
            slash_24s: 0,
            joined: 0,
            keys: Vec::new(),
            victim: None,
            nodes_per_bucket: BTreeMap::new(),
            victim_lookups: Collector::default(),
        };
        let ground: Vec<PublicKey> = match config.attack {
            Attack::EclipseKey => {
                let n = config.eclipse_keys.min(self.values.items.len());
                let targets: Vec<Id> = (0..n).map(|i| self.values.items[i].0).collect();
                let per: Vec<usize> = (0..n)
                    .map(|j| config.addresses / n + usize::from(j < config.addresses % n))
                    .collect();
                let kept = grind_closest(&mut grind, &targets, &per, valid_ids);
                state.keys = targets
                    .iter()
                    .zip(&kept)
                    .enumerate()
                    .map(|(value, (key, nodes))| KeyState {
                        value,
                        key: *key,
                        nodes: nodes.len(),
                        at_publication: None,
                        put_acks: None,
                        gets: 0,
                        found: 0,
                    })
                    .collect();
                self.adversaries.eclipsed = targets;
                self.adversaries.near_bits = near_bits(self.config.nodes, k);
                kept.into_iter().flatten().collect()
            }
            _ => {
                let attacks: Vec<_> = self.slots.iter().map(|s| s.attack).collect();
                let Some(victim) = victim_slot(&attacks) else {
                    return;
                };
                let slot = &self.slots[victim as usize];
                let victim_id = slot.node.as_ref().map_or(slot.key.id(), |n| n.id());
                let kept = grind_buckets(&mut grind, &victim_id, k, valid_ids, config.addresses);
                for (_, bucket) in &kept {
                    *state.nodes_per_bucket.entry(*bucket).or_default() += 1;
                }
                state.victim = Some((victim, victim_id));
                self.adversaries.victim = Some(victim);
                kept.into_iter().map(|(key, _)| key).collect()
            }
        };
        let addresses =
            attacker_addresses(config.plan, ground.len(), &mut address_rng, &self.addresses);
        let blocks: BTreeSet<u32> = addresses.iter().map(|a| slash_24(*a)).collect();
        state.slash_24s = blocks.len() as u64;
        let step = 1.0 / self.config.join_rate.max(1e-6);
        for (i, (key, addr)) in ground.into_iter().zip(addresses).enumerate() {
            if !self.addresses.add_fixed(addr) {
                continue;
            }
            let index = self.slots.len() as u32;
            let site = self.network.site(&mut sites);
            self.push_slot(key, site, Some(config.attack));
            state.slots.push(index);
            state.ids.insert(key.id());
            let at = now + Duration::from_secs_f64(step * i as f64);
            self.queue.push(at, Action::Join { node: index });
        }
        self.targeted = Some(state);
    }

    /// True if slot `index` is one of the targeted attack's nodes.
    pub(super) fn is_targeted_slot(&self, index: u32) -> bool {
        self.slots[index as usize]
            .attack
            .is_some_and(Attack::is_targeted)
    }

    /// True if slot `index` is the sybil's victim.
    pub(super) fn is_victim(&self, index: u32) -> bool {
        self.targeted
            .as_ref()
            .and_then(|t| t.victim)
            .is_some_and(|(v, _)| v == index)
    }

    /// The node an attacker node bootstraps through: the victim (sybil), or a random honest
    /// joined node (eclipse).
    pub(super) fn targeted_bootstrap(&mut self) -> Option<u32> {
        let t = self.targeted.as_mut()?;
        if let Some((victim, _)) = t.victim {
            return (self.slots[victim as usize].joined_pos != NOT_JOINED).then_some(victim);
        }
        pick_honest(&mut t.rng, &self.joined, &self.slots)
    }

    /// The targeted attack's own workload steps: dedicated gets of each eclipsed key, and the
    /// victim's lookups, spread over the window starting at `start`.
    pub(super) fn targeted_steps(&self, start: Time) -> Vec<(Time, Step)> {
        let Some(t) = &self.targeted else {
            return Vec::new();
        };
        let window = self.config.window();
        let spread = |i: usize, n: usize, from: Duration, span: Duration| {
            start + from + span.mul_f64((i as f64 + 0.5) / n.max(1) as f64)
        };
        let mut steps = Vec::new();
        let lead = Duration::from_secs(60).min(window / 10);
        for j in 0..t.keys.len() {
            for i in 0..t.config.eclipse_gets {
                let at = spread(i, t.config.eclipse_gets, lead, window - lead)
                    + Duration::from_millis(j as u64);
                steps.push((at, Step::EclipseGet(j)));
            }
        }
        if t.victim.is_some() {
            for i in 0..t.config.victim_lookups {
                let at = spread(i, t.config.victim_lookups, Duration::ZERO, window);
                steps.push((at, Step::VictimLookup));
            }
        }
        steps.sort_by_key(|&(at, _)| at);
        steps
    }

    /// Runs one of [`Simulation::targeted_steps`].
    pub(super) fn run_targeted_step(&mut self, step: Step) {
        let now = self.queue.now();
        let Some(t) = self.targeted.as_mut() else {
            return;
        };
        let (index, op, purpose) = match step {
            Step::EclipseGet(j) => {
                let Some(index) = pick_honest(&mut t.rng, &self.joined, &self.slots) else {
                    return;
                };
                let Some(node) = self.slots[index as usize].node.as_mut() else {
                    return;
                };
                (index, node.get(now, t.keys[j].key), Job::EclipseGet(j))
            }
            Step::VictimLookup => {
                let Some((index, _)) = t.victim else {
                    return;
                };
                let Some(node) = self.slots[index as usize].node.as_mut() else {
                    return;
                };
                let mut target = [0u8; 32];
                t.rng.fill(&mut target[..]);
                (
                    index,
                    node.find_node(now, Id::from_bytes(target)),
                    Job::VictimLookup,
                )
            }
            _ => return,
        };
        self.tracked.insert((index, op.0), (purpose, now));
        self.pending_work += 1;
        self.drain(index);
    }

    /// Attackers among the k closest live nodes (honest joined ones and adversaries up) to
    /// `key`.
    pub(super) fn attackers_in_closest(&self, key: &Id) -> u64 {
        let k = self.node_config.k;
        let mut all = self.live.closest(key, k);
        all.extend(self.adversaries.closest(key, k));
        all.sort_unstable_by_key(|id| id.distance(key));
        all.truncate(k);
        all.iter()
            .filter(|id| self.adversaries.is_adversary_id(id))
            .count() as u64
    }

    /// Value `value` is being published: if its key is eclipsed, counts the attackers among
    /// its closest now.
    pub(super) fn note_publication(&mut self, value: usize) {
        let Some(key) = self.eclipsed_key(value) else {
            return;
        };
        let count = self.attackers_in_closest(&key);
        if let Some(state) = self.key_state(value) {
            state.at_publication = Some(count);
        }
    }

    /// The put of value `value` got `acks`.
    pub(super) fn note_put(&mut self, value: usize, acks: u32) {
        if let Some(state) = self.key_state(value) {
            state.put_acks = Some(u64::from(acks));
        }
    }

    /// A get of value `value` returned it (`found`) or not.
    pub(super) fn note_get(&mut self, value: usize, found: bool) {
        if let Some(state) = self.key_state(value) {
            state.gets += 1;
            state.found += u64::from(found);
        }
    }

    fn eclipsed_key(&self, value: usize) -> Option<Id> {
        let t = self.targeted.as_ref()?;
        t.keys.iter().find(|s| s.value == value).map(|s| s.key)
    }

    fn key_state(&mut self, value: usize) -> Option<&mut KeyState> {
        let t = self.targeted.as_mut()?;
        t.keys.iter_mut().find(|s| s.value == value)
    }

    /// The run ended with `unfinished` victim lookups still going.
    pub(super) fn note_victim_unfinished(&mut self, unfinished: u64) {
        if let Some(t) = self.targeted.as_mut() {
            t.victim_lookups.unfinished += unfinished;
        }
    }

    /// An attacker node joined.
    pub(super) fn note_attacker_joined(&mut self) {
        if let Some(t) = self.targeted.as_mut() {
            t.joined += 1;
        }
    }

    /// The victim's lookup finished.
    pub(super) fn note_victim_lookup(&mut self, report: &LookupReport<SimAddr>) {
        let Some(t) = self.targeted.as_mut() else {
            return;
        };
        if let Some((_, victim_id)) = t.victim {
            t.victim_lookups.on_lookup(report, victim_id, &self.live);
        }
    }

    /// Attacker nodes the attack ran.
    pub(super) fn targeted_nodes(&self) -> u64 {
        self.targeted.as_ref().map_or(0, |t| t.slots.len() as u64)
    }

    /// The eclipse's figures, if one ran.
    pub(super) fn eclipse_report(&self) -> Option<EclipseReport> {
        let t = self.targeted.as_ref()?;
        if t.config.attack != Attack::EclipseKey {
            return None;
        }
        let k = self.node_config.k;
        let keys = t
            .keys
            .iter()
            .map(|s| EclipseKeyReport {
                value: s.value as u64,
                key: s.key.to_hex(),
                attacker_nodes: s.nodes as u64,
                expected_attackers_in_closest: expected_in_closest(
                    self.config.nodes,
                    t.valid_ids,
                    k,
                    s.nodes,
                ),
                attackers_in_closest_at_publication: s.at_publication,
                attackers_in_closest_at_end: self.attackers_in_closest(&s.key),
                put_acks: s.put_acks,
                gets: s.gets,
                found: s.found,
                retrieval: if s.gets == 0 {
                    1.0
                } else {
                    round6(s.found as f64 / s.gets as f64)
                },
            })
            .collect();
        Some(EclipseReport {
            cpu_hours: t.config.grind_cpu_hours,
            candidates_per_core_second: CANDIDATES_PER_CORE_SECOND,
            difficulty_bits: PRICED_DIFFICULTY_BITS,
            valid_ids: t.valid_ids,
            attacker_addresses: t.config.addresses as u64,
            address_plan: t.config.plan.name().into(),
            attacker_slash_24s: t.slash_24s,
            attacker_nodes: t.slots.len() as u64,
            attacker_nodes_joined: t.joined,
            near_prefix_bits: self.adversaries.near_bits as u64,
            closest: k as u64,
            keys,
        })
    }

    /// The sybil attack's figures, if one ran.
    pub(super) fn sybil_report(&self) -> Option<SybilReport> {
        let t = self.targeted.as_ref()?;
        let (victim, victim_id) = t.victim?;
        let node = self.slots[victim as usize].node.as_ref()?;
        let table = node.table();
        let k = self.node_config.k;
        let deepest_targeted = t.nodes_per_bucket.keys().max().map_or(0, |b| b + 1);
        let depth = table.depth().max(deepest_targeted);
        let mut buckets: Vec<SybilBucket> = (0..depth)
            .map(|b| SybilBucket {
                bucket: b as u64,
                entries: table.bucket_len(b) as u64,
                attacker_entries: 0,
                attacker_nodes: t.nodes_per_bucket.get(&b).copied().unwrap_or(0),
            })
            .collect();
        let mut per_block: BTreeMap<u32, u64> = BTreeMap::new();
        let mut attacker_entries = 0u64;
        for entry in table.entries() {
            if t.ids.contains(&entry.id) {
                attacker_entries += 1;
                *per_block.entry(slash_24(entry.addr)).or_default() += 1;
                if let Some(b) = buckets.get_mut(table.bucket_index(&entry.id)) {
                    b.attacker_entries += 1;
                }
            }
        }
        let kept_out = t
            .slots
            .iter()
            .filter_map(|&i| self.slots[i as usize].node.as_ref())
            .filter(|n| {
                let id = n.id();
                table.get(&id).is_none() && table.bucket_len(table.bucket_index(&id)) < k
            })
            .count() as u64;
        let size = table.len() as u64;
        let lookups = &t.victim_lookups;
        let _ = victim_id;
        Some(SybilReport {
            cpu_hours: t.config.grind_cpu_hours,
            candidates_per_core_second: CANDIDATES_PER_CORE_SECOND,
            difficulty_bits: PRICED_DIFFICULTY_BITS,
            valid_ids: t.valid_ids,
            attacker_addresses: t.config.addresses as u64,
            address_plan: t.config.plan.name().into(),
            attacker_slash_24s: t.slash_24s,
            attacker_nodes: t.slots.len() as u64,
            attacker_nodes_joined: t.joined,
            victim_slot: u64::from(victim),
            victim_table_size: size,
            attacker_entries,
            attacker_share: round6(attacker_entries as f64 / size.max(1) as f64),
            attacker_entries_max_per_slash_24: per_block.values().copied().max().unwrap_or(0),
            victim_refused_prefix: node.metrics().table_refused_prefix,
            attackers_kept_out: kept_out,
            buckets,
            victim_lookups: lookups.lookups() + lookups.unfinished,
            victim_success_rate: lookups.success_rate(),
            victim_recall_k: lookups.recall(),
        })
    }
}

/// A random honest joined node, drawn from `rng`.
fn pick_honest(rng: &mut SimRng, joined: &[u32], slots: &[Slot]) -> Option<u32> {
    if joined.is_empty() {
        return None;
    }
    // Bounded: the attacker's nodes are a small part of the joined ones.
    for _ in 0..10_000 {
        let pick = joined[rng.random_range(0..joined.len())];
        if slots[pick as usize].attack.is_none() {
            return Some(pick);
        }
    }
    None
}

/// Rounds to six decimals.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_hour_buys_about_2882_ids() {
        assert_eq!(valid_ids_for(1.0), 2_881);
        assert_eq!(valid_ids_for(100.0), 288_193);
        assert_eq!(valid_ids_for(-1.0), 0);
    }

    #[test]
    fn the_grind_keeps_the_closest_ids_to_each_target() {
        let targets = [Id::hash(b"a"), Id::hash(b"b")];
        let kept = grind_closest(&mut stream(1, 9), &targets, &[5, 3], 10_000);
        assert_eq!((kept[0].len(), kept[1].len()), (5, 3));
        // 10,000 uniform ids: the 5th closest to a target shares about log2(10000/5) bits.
        let last = kept[0][4].id();
        assert!(last.common_prefix_len(&targets[0]) >= 7, "{last:?}");
        let first = kept[0][0].id().distance(&targets[0]);
        assert!(first <= last.distance(&targets[0]));
    }

    #[test]
    fn bucket_ids_fill_deep_buckets_first_up_to_k() {
        let victim = Id::hash(b"victim");
        let got = grind_buckets(&mut stream(2, 9), &victim, 20, 2_881, 256);
        let mut per: BTreeMap<usize, usize> = BTreeMap::new();
        for (key, b) in &got {
            assert_eq!(key.id().common_prefix_len(&victim), *b);
            *per.entry(*b).or_default() += 1;
        }
        assert!(per.values().all(|&n| n <= 20));
        assert_eq!(per.get(&0), Some(&20));
        assert!(per.keys().max().copied().unwrap() >= 8, "{per:?}");
        let few = grind_buckets(&mut stream(2, 9), &victim, 20, 2_881, 10);
        assert_eq!(few.len(), 10);
        assert!(few.iter().all(|(_, b)| *b >= 7));
    }

    #[test]
    fn address_plans_share_one_slash_24_or_none() {
        let taken = Addresses::new(Default::default(), 0, stream(3, 7));
        let one = attacker_addresses(AddressPlan::OnePrefix, 256, &mut stream(3, 8), &taken);
        let blocks: BTreeSet<u32> = one.iter().map(|a| slash_24(*a)).collect();
        let distinct: BTreeSet<SimAddr> = one.iter().copied().collect();
        assert_eq!((blocks.len(), distinct.len()), (1, 256));
        let spread = attacker_addresses(AddressPlan::Spread, 300, &mut stream(3, 8), &taken);
        let blocks: BTreeSet<u32> = spread.iter().map(|a| slash_24(*a)).collect();
        assert_eq!(blocks.len(), 300);
    }

    #[test]
    fn bad_budgets_and_plans_are_refused() {
        let mut c = TargetedConfig::new(Attack::EclipseKey);
        assert!(c.check(1000, 10).is_ok());
        for h in [-1.0, f64::NAN, f64::INFINITY, 1e9] {
            c.grind_cpu_hours = h;
            assert!(c.check(1000, 10).is_err(), "{h}");
        }
        c.grind_cpu_hours = 1.0;
        c.plan = AddressPlan::OnePrefix;
        c.addresses = 257;
        assert!(c.check(1000, 10).is_err());
        c.addresses = 256;
        assert!(c.check(1000, 0).is_err(), "no values to eclipse");
        assert!(TargetedConfig::new(Attack::Drop).check(1000, 10).is_err());
    }
}
