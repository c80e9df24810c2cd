//! Id-work benchmark: what the Argon2id id puzzle ([`qis_core::work`]) costs an attacker who
//! grinds ids near a key, an honest node creating one id, and a node checking a peer's.
//! `cargo bench --bench grind` (about 90 s on 2 cores), `-- --quick` (about 20 s).
//! Knobs: `QIS_GRIND_SAMPLES` (honest ids per mode; default 40, quick 10),
//! `QIS_GRIND_ROUNDS` (attacker rounds; default 5, quick 3), `QIS_GRIND_ROUND_MS` (length of
//! one round; default 1000, quick 500). Prints a human table, PASS/MISS lines for the issue's
//! targets, and one JSON line (starting `{"bench":"grind"`).
//!
//! # What is measured
//!
//! (a) **The attacker's candidate rate**, by the fastest method available to it: every core
//! runs its own [`WorkHasher`] (its 1 MiB reused, nothing allocated per candidate) over one
//! fixed public key, the nonces split into disjoint ranges per thread; no key generation and
//! no signature per candidate (the key is fixed, and a proof is signed only for the few ids
//! kept). Each candidate is one Argon2id evaluation, then, for the `2^-d` that meet the
//! difficulty, a blake3 for the id and a distance comparison. The rate is measured with one
//! thread alone and with every core busy (shared caches, memory bandwidth and clock), in
//! rounds; the fastest round is the attacker's rate (other processes on the machine can only
//! slow a round down, and the cost table should err on the attacker's side), the median
//! round is printed beside it.
//!
//! (b) **One honest id**: the node's own path ([`qis_udp::solve_id_work`]) from a fresh key
//! (keys derived from a fixed seed, so runs compare), on one thread and on every core, median
//! and p95. The count of evaluations is geometric with mean `2^d` (median `ln 2 × 2^d`, p95
//! `ln 20 × 2^d`), so the model figures from the measured rate are printed beside the samples,
//! which are few.
//!
//! (c) **The cost to take positions near a key.** Honest ids are uniform; in a network of `N`
//! nodes the honest `j`-th closest to a key sits at about `j/N` of the id space. An attacker
//! holding `a` of the `k` closest positions needs `a` valid ids closer than the honest
//! `(k−a+1)`-th, each landing there with probability `(k−a+1)/N`: about `a·N/(k−a+1)` valid
//! ids, each costing `2^d` evaluations. Two points of that curve are tabled:
//! - `N × 2^d` evaluations (`a ≈ k/2`: about half of the 20 closest, the attacker's ids
//!   interleaved with honest ones): the conservative figure, the target is read on it;
//! - `k × N × 2^d` (`a = k`: all 20 closest, every one closer than the closest honest node):
//!   the quantity the "0.2 s at 100k" baseline counts (one blake3 per candidate).
//!
//! CPU time is evaluations ÷ the per-core rate (the faster of one thread alone and one core
//! among all busy); "this machine" divides by that rate times its cores; a GPU-class attacker is taken as 100× this machine's per-core rate per
//! device. Argon2id at 1 MiB is bandwidth-bound on a GPU: each evaluation moves about 3 MiB
//! (every block written once, its reference block read), so a 1 TB/s card tops out near
//! 300k evaluations/s, about 100× one core here; 100× is therefore the order of a single
//! high-end card, and the table says what difficulty would hold such an attacker to a day.
//!
//! (d) **Verification**: one work check with a kept hasher (a node's [`ProofChecker`] keeps
//! one), with a fresh one (1 MiB allocated, as [`Credentials::real`] does), a first-contact
//! proof check (ed25519 `verify_strict` and the work) and a repeat contact (work cached).
//!
//! # A small ARM board (estimated, not run)
//!
//! The Argon2 compression is 64-bit multiply–add–rotate work on 1 KiB blocks (the `argon2`
//! crate runs it with AVX2 here, plain or NEON-autovectorised code on ARM). Single-core speed
//! relative to this machine's Zen-class EPYC core, from published single-core scores and
//! clock × IPC: a Raspberry Pi 4 (Cortex-A72, 1.8 GHz) about 8× slower, a Pi 5 (Cortex-A76,
//! 2.4 GHz) about 3× slower. Memory: four 1 MiB working sets do not fit the Pi 4's 1 MiB
//! shared L2, so its four cores share LPDDR4 (~4 GB/s, about 2 MiB of traffic per evaluation
//! once out of cache): counted as 3 effective cores; the Pi 5 (512 KiB L2 per core, 2 MiB L3,
//! faster LPDDR4X) as 3.5. The estimates scale this machine's measured single-thread rate by
//! those factors.

#[path = "harness.rs"]
mod harness;

use harness::{measure, versus};
use qis_core::constants::{DEFAULT_ID_DIFFICULTY, K};
use qis_core::wire::NetworkId;
use qis_core::{
    Challenge, Credentials, Difficulty, Distance, Id, IdWork, Identity, IdentityScheme,
    ProofChecker, PublicKey, WorkHasher,
};
use serde::Serialize;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Seconds in a day, the unit of the attack-cost target.
const DAY_S: f64 = 86_400.0;
/// Network sizes the cost table is computed for.
const NETWORK_SIZES: [f64; 3] = [10_000.0, 100_000.0, 1_000_000.0];
/// The network size the target is stated at.
const TARGET_NODES: f64 = 100_000.0;
/// How much faster than one core here a GPU-class attacker is taken to be, per device.
const GPU_SPEEDUP: f64 = 100.0;
/// Target: taking positions near a key at 100k nodes costs at least this many CPU-days.
const TARGET_ATTACK_CPU_DAYS: f64 = 1.0;
/// Target: one honest id (median, on every core of this machine) within this many seconds.
const TARGET_HONEST_S: f64 = 2.0;

/// How long the bench runs.
struct Settings {
    honest_samples: usize,
    attack_rounds: usize,
    round: Duration,
}

impl Settings {
    fn from_args() -> Settings {
        let quick = std::env::args().any(|a| a == "--quick");
        let pick = |name: &str, full: u64, quick_value: u64| {
            env_or(name, if quick { quick_value } else { full })
        };
        Settings {
            honest_samples: pick("QIS_GRIND_SAMPLES", 40, 10).max(1) as usize,
            attack_rounds: pick("QIS_GRIND_ROUNDS", 5, 3).max(1) as usize,
            round: Duration::from_millis(pick("QIS_GRIND_ROUND_MS", 1000, 500)),
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The attacker's measured candidate rates.
#[derive(Debug, Serialize)]
struct AttackerRate {
    cores: usize,
    /// Candidates per second of one thread running alone (the fastest round).
    per_s_one_thread: f64,
    /// The median round of one thread.
    per_s_one_thread_median: f64,
    /// Candidates per second of all cores together (the fastest round).
    per_s_all_cores: f64,
    /// The median round of all cores.
    per_s_all_cores_median: f64,
    /// The same, per core.
    per_s_per_core_loaded: f64,
    /// Share of candidates that met the difficulty (expected `2^-d`).
    valid_share: f64,
}

impl AttackerRate {
    /// The per-core rate the cost table uses: the faster of one thread alone and one core
    /// among all busy, so the table errs on the attacker's side (a core alone may clock
    /// higher; on a shared machine the loaded figure is the one other processes slowed).
    fn per_core_for_costs(&self) -> f64 {
        self.per_s_one_thread.max(self.per_s_per_core_loaded)
    }
}

/// One round's count of one grinding thread.
#[derive(Debug, Default, Clone, Copy)]
struct Ground {
    candidates: u64,
    valid: u64,
}

/// One attacker thread: evaluates nonces from `first` up until `stop`, keeping the closest
/// valid id to `target` as a real grinder would.
fn grind(
    key: PublicKey,
    first: u64,
    target: Id,
    difficulty: Difficulty,
    stop: &AtomicBool,
) -> Ground {
    let mut hasher = WorkHasher::new();
    let mut ground = Ground::default();
    let mut closest: Option<Distance> = None;
    while !stop.load(Ordering::Relaxed) {
        let output = hasher.evaluate(&key, IdWork(first + ground.candidates));
        ground.candidates += 1;
        if output.meets(difficulty) {
            ground.valid += 1;
            let distance = output.id().distance(&target);
            closest = Some(closest.map_or(distance, |c| c.min(distance)));
        }
    }
    std::hint::black_box(closest);
    ground
}

/// One round of `threads` grinders for `length`; returns candidates per second and the total.
fn grind_round(threads: usize, length: Duration, round: u64) -> (f64, Ground) {
    let key = Identity::from_secret_key([0xa7; 32]).public_key();
    let target = Id::hash(b"the key under attack");
    let difficulty = default_difficulty();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (stop, start) = (stop.clone(), start.clone());
            // Disjoint nonce ranges per round and thread.
            let first = (round << 40) | (t << 32);
            std::thread::spawn(move || {
                start.wait();
                grind(key, first, target, difficulty, &stop)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let mut total = Ground::default();
    for worker in workers {
        let ground = worker.join().expect("a grinding thread panicked");
        total.candidates += ground.candidates;
        total.valid += ground.valid;
    }
    (
        total.candidates as f64 / began.elapsed().as_secs_f64(),
        total,
    )
}

/// The fastest and the median rate over `settings.attack_rounds` rounds of `threads` grinders.
fn round_rates(threads: usize, settings: &Settings, totals: &mut Ground) -> (f64, f64) {
    let mut rates: Vec<f64> = (0..settings.attack_rounds as u64)
        .map(|round| {
            let (rate, ground) = grind_round(threads, settings.round, round);
            totals.candidates += ground.candidates;
            totals.valid += ground.valid;
            rate
        })
        .collect();
    let fastest = rates.iter().copied().fold(0.0, f64::max);
    (fastest, median(&mut rates))
}

fn measure_attacker(cores: usize, settings: &Settings) -> AttackerRate {
    let mut totals = Ground::default();
    let (per_s_one_thread, per_s_one_thread_median) = round_rates(1, settings, &mut totals);
    let (per_s_all_cores, per_s_all_cores_median) = round_rates(cores, settings, &mut totals);
    AttackerRate {
        cores,
        per_s_one_thread,
        per_s_one_thread_median,
        per_s_all_cores,
        per_s_all_cores_median,
        per_s_per_core_loaded: per_s_all_cores / cores as f64,
        valid_share: totals.valid as f64 / totals.candidates.max(1) as f64,
    }
}

/// Honest id times on a number of threads.
#[derive(Debug, Serialize)]
struct HonestIds {
    threads: usize,
    samples: usize,
    median_s: f64,
    p95_s: f64,
    mean_s: f64,
    /// Mean evaluations per id (expected `2^d`).
    mean_evaluations: f64,
    /// The geometric model's median and p95 from the attacker's measured rate.
    model_median_s: f64,
    model_p95_s: f64,
}

/// The secret key of the `n`-th honest sample: fresh-looking, but the same in every run.
fn sample_secret(n: usize) -> [u8; 32] {
    *blake3::hash(format!("qis grind bench, honest key {n}").as_bytes()).as_bytes()
}

/// Creates `samples` ids as a node does (a key, then its work) on `threads` threads.
fn honest_ids(samples: usize, threads: usize, rate_per_s: f64) -> HonestIds {
    let difficulty = default_difficulty();
    let on = NonZeroUsize::new(threads).expect("at least one thread");
    let mut evaluations = 0.0;
    let mut seconds: Vec<f64> = (0..samples)
        .map(|n| {
            let began = Instant::now();
            let identity = Identity::from_secret_key(sample_secret(n));
            let (work, _) = qis_udp::solve_id_work(&identity.public_key(), difficulty, on);
            evaluations += (work.0 + 1) as f64;
            began.elapsed().as_secs_f64()
        })
        .collect();
    let mean_s = seconds.iter().sum::<f64>() / samples as f64;
    let expected = difficulty.expected_evaluations() as f64;
    HonestIds {
        threads,
        samples,
        median_s: median(&mut seconds),
        p95_s: percentile(&mut seconds, 0.95),
        mean_s,
        mean_evaluations: evaluations / samples as f64,
        model_median_s: 2f64.ln() * expected / rate_per_s,
        model_p95_s: 20f64.ln() * expected / rate_per_s,
    }
}

/// Verification costs, median nanoseconds.
#[derive(Debug, Serialize)]
struct Verification {
    work_check_kept_hasher_ns: f64,
    work_check_fresh_hasher_ns: f64,
    first_contact_proof_ns: f64,
    repeat_contact_proof_ns: f64,
    old_id_blake3_ns: f64,
}

fn measure_verification() -> Verification {
    let difficulty = default_difficulty();
    let identity = Identity::from_secret_key(sample_secret(0));
    let key = identity.public_key();
    let threads = qis_udp::default_solver_threads();
    let (work, _) = qis_udp::solve_id_work(&key, difficulty, threads);
    let credentials = Credentials::real(&identity, work, difficulty).expect("solved work");
    let scheme = IdentityScheme::Real { difficulty };
    let (network, challenge, verifier) = (NetworkId::MAIN, Challenge([1; 16]), Id::hash(b"me"));
    let proof = credentials.prove(network, &challenge, &verifier);
    let claimed = credentials.id();
    let check_proof = |checker: &mut ProofChecker| {
        checker
            .check(&proof, &claimed, network, &challenge, &verifier)
            .expect("a valid proof")
    };
    let mut hasher = WorkHasher::new();
    let mut kept = ProofChecker::new(scheme);
    check_proof(&mut kept);
    let kept_hasher = measure(
        "work check, hasher kept (a node's checker)",
        100,
        10,
        || hasher.check(&key, work, difficulty),
    );
    let fresh_hasher = measure("work check, fresh 1 MiB hasher", 100, 5, || {
        WorkHasher::new().check(&key, work, difficulty)
    });
    let first_contact = measure("first-contact proof check (ed25519 + work)", 100, 5, || {
        check_proof(&mut ProofChecker::new(scheme))
    });
    let repeat_contact = measure("repeat-contact proof check (work cached)", 100, 100, || {
        check_proof(&mut kept)
    });
    let old_id = measure(
        "  peer: an id before id work (blake3 of the key)",
        100,
        10_000,
        || key.id(),
    );
    versus(&kept_hasher, &old_id);
    Verification {
        work_check_kept_hasher_ns: kept_hasher.median_ns,
        work_check_fresh_hasher_ns: fresh_hasher.median_ns,
        first_contact_proof_ns: first_contact.median_ns,
        repeat_contact_proof_ns: repeat_contact.median_ns,
        old_id_blake3_ns: old_id.median_ns,
    }
}

/// The cost to take positions near one key in a network of `nodes`.
#[derive(Debug, Serialize)]
struct Cost {
    nodes: f64,
    /// `N × 2^d`: about half of the k closest.
    evaluations_half: f64,
    cpu_days_half: f64,
    this_machine_days_half: f64,
    gpu_hours_half: f64,
    /// `k × N × 2^d`: all k closest.
    evaluations_all: f64,
    cpu_days_all: f64,
    gpu_hours_all: f64,
    /// The same attack before id work: one blake3 per candidate, all k closest.
    before_cpu_s_all: f64,
}

fn cost_table(rate: &AttackerRate, blake3_ns: f64) -> Vec<Cost> {
    let per_candidate_s = 1.0 / rate.per_core_for_costs();
    let machine_rate = rate.per_core_for_costs() * rate.cores as f64;
    let expected = default_difficulty().expected_evaluations() as f64;
    NETWORK_SIZES
        .iter()
        .map(|&nodes| {
            let half = nodes * expected;
            let all = K as f64 * half;
            Cost {
                nodes,
                evaluations_half: half,
                cpu_days_half: half * per_candidate_s / DAY_S,
                this_machine_days_half: half / machine_rate / DAY_S,
                gpu_hours_half: half * per_candidate_s / GPU_SPEEDUP / 3600.0,
                evaluations_all: all,
                cpu_days_all: all * per_candidate_s / DAY_S,
                gpu_hours_all: all * per_candidate_s / GPU_SPEEDUP / 3600.0,
                before_cpu_s_all: K as f64 * nodes * blake3_ns * 1e-9,
            }
        })
        .collect()
}

/// The difficulty that would hold a GPU-class attacker to a day (device time) for half the
/// closest positions at [`TARGET_NODES`], and what one honest id costs on this machine then.
#[derive(Debug, Serialize)]
struct GpuDefence {
    difficulty: u8,
    honest_median_s_this_machine: f64,
}

fn gpu_defence(rate: &AttackerRate) -> GpuDefence {
    let gpu_rate = rate.per_core_for_costs() * GPU_SPEEDUP;
    let machine_rate = rate.per_core_for_costs() * rate.cores as f64;
    let needed = (DAY_S * gpu_rate / TARGET_NODES).log2().ceil().max(0.0) as u8;
    GpuDefence {
        difficulty: needed,
        honest_median_s_this_machine: 2f64.ln() * 2f64.powi(needed.into()) / machine_rate,
    }
}

/// An estimated honest id on a small ARM board.
#[derive(Debug, Serialize)]
struct BoardEstimate {
    board: &'static str,
    /// How much slower one of its cores is than one here, single-threaded.
    core_slowdown: f64,
    /// Cores that count once its memory is shared (four physical).
    effective_cores: f64,
    candidates_per_s: f64,
    median_s: f64,
    p95_s: f64,
    median_s_one_core: f64,
}

fn board_estimates(rate: &AttackerRate) -> Vec<BoardEstimate> {
    let expected = default_difficulty().expected_evaluations() as f64;
    [("Raspberry Pi 4", 8.0, 3.0), ("Raspberry Pi 5", 3.0, 3.5)]
        .into_iter()
        .map(|(board, core_slowdown, effective_cores)| {
            let per_core = rate.per_s_one_thread / core_slowdown;
            let candidates_per_s = per_core * effective_cores;
            BoardEstimate {
                board,
                core_slowdown,
                effective_cores,
                candidates_per_s,
                median_s: 2f64.ln() * expected / candidates_per_s,
                p95_s: 20f64.ln() * expected / candidates_per_s,
                median_s_one_core: 2f64.ln() * expected / per_core,
            }
        })
        .collect()
}

fn default_difficulty() -> Difficulty {
    Difficulty::new(DEFAULT_ID_DIFFICULTY).expect("the default difficulty is in bounds")
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 0.5)
}

/// The `q` quantile (nearest rank) of `values`.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn print_attacker(rate: &AttackerRate) {
    println!(
        "  one thread alone        {:>9.0} candidates/s ({} each; median round {:.0}/s)",
        rate.per_s_one_thread,
        harness::human(1e9 / rate.per_s_one_thread),
        rate.per_s_one_thread_median
    );
    println!(
        "  all {} cores            {:>9.0} candidates/s, {:.0} per core (median round {:.0}/s)",
        rate.cores, rate.per_s_all_cores, rate.per_s_per_core_loaded, rate.per_s_all_cores_median
    );
    println!(
        "  valid share             {:>9.5} (expected 2^-{DEFAULT_ID_DIFFICULTY} = {:.5})",
        rate.valid_share,
        1.0 / default_difficulty().expected_evaluations() as f64
    );
}

fn print_honest(ids: &HonestIds) {
    println!(
        "  {} thread(s), {} ids: median {:.2} s, p95 {:.2} s, mean {:.2} s ({:.0} evaluations; model median {:.2} s, p95 {:.2} s)",
        ids.threads,
        ids.samples,
        ids.median_s,
        ids.p95_s,
        ids.mean_s,
        ids.mean_evaluations,
        ids.model_median_s,
        ids.model_p95_s
    );
}

fn print_costs(costs: &[Cost], rate: &AttackerRate, gpu: &GpuDefence) {
    println!(
        "\n(c) taking positions near one key at d = {DEFAULT_ID_DIFFICULTY} ({:.0} candidates/s per core; GPU-class = {GPU_SPEEDUP}x a core)",
        rate.per_core_for_costs()
    );
    println!(
        "  {:>9} | {:>9} {:>9} {:>12} {:>10} | {:>9} {:>9} {:>10} | {:>12}",
        "nodes",
        "N*2^d",
        "CPU-days",
        "this machine",
        "GPU hours",
        "k*N*2^d",
        "CPU-days",
        "GPU hours",
        "before (CPU)"
    );
    for c in costs {
        println!(
            "  {:>9.0} | {:>9.2e} {:>9.2} {:>10.2} d {:>10.1} | {:>9.2e} {:>9.1} {:>10.1} | {:>10.2} s",
            c.nodes,
            c.evaluations_half,
            c.cpu_days_half,
            c.this_machine_days_half,
            c.gpu_hours_half,
            c.evaluations_all,
            c.cpu_days_all,
            c.gpu_hours_all,
            c.before_cpu_s_all
        );
    }
    println!(
        "  (N*2^d: about half of the 20 closest; k*N*2^d: all 20. \"before\": all 20 at one blake3 per candidate)"
    );
    println!(
        "  to hold a GPU-class attacker to 1 device-day for N*2^d at 100k nodes: d = {} (one honest id then: median {:.0} s on this machine's cores)",
        gpu.difficulty, gpu.honest_median_s_this_machine
    );
}

fn print_boards(boards: &[BoardEstimate]) {
    println!("\nsmall ARM boards (estimated from this machine's single-thread rate, not run):");
    for b in boards {
        println!(
            "  {:<15} core {:.0}x slower, {:.1} effective cores: {:>5.0} candidates/s; one id median {:.1} s, p95 {:.1} s (one core: median {:.1} s)",
            b.board,
            b.core_slowdown,
            b.effective_cores,
            b.candidates_per_s,
            b.median_s,
            b.p95_s,
            b.median_s_one_core
        );
    }
}

/// The machine's and this process's CPU time at one moment (Linux), in clock ticks.
#[derive(Debug, Clone, Copy)]
struct CpuSnapshot {
    machine_busy: u64,
    machine_total: u64,
    ours: u64,
}

fn cpu_snapshot() -> Option<CpuSnapshot> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let machine_total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
    let ours = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(CpuSnapshot {
        machine_busy: machine_total - idle,
        machine_total,
        ours,
    })
}

/// Runs one phase of the bench and says how many cores other processes kept busy meanwhile:
/// near 0 on a quiet machine; more means the phase's figures are too slow by about that share.
fn phase<T>(cores: usize, run: impl FnOnce() -> T) -> (T, Option<f64>) {
    let before = cpu_snapshot();
    let result = run();
    let others = before.zip(cpu_snapshot()).map(|(b, a)| {
        let total = a.machine_total.saturating_sub(b.machine_total).max(1) as f64;
        let busy = a.machine_busy.saturating_sub(b.machine_busy);
        let theirs = busy.saturating_sub(a.ours.saturating_sub(b.ours)) as f64;
        cores as f64 * theirs / total
    });
    if let Some(others) = others {
        println!("  (other processes kept {others:.2} of {cores} cores busy meanwhile)");
    }
    (result, others)
}

fn verdict(target: &str, measured: String, met: bool) -> serde_json::Value {
    println!(
        "{:<4} {target:<58} {measured}",
        if met { "PASS" } else { "MISS" }
    );
    serde_json::json!({ "target": target, "measured": measured, "met": met })
}

fn main() {
    let settings = Settings::from_args();
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    println!(
        "qis id-work grind bench (release; d = {DEFAULT_ID_DIFFICULTY}, {cores} cores, {} honest ids per mode)",
        settings.honest_samples
    );
    println!(
        "\n(a) attacker, Argon2id {} KiB, {} rounds of {:?} on 1 thread, then on {cores}:",
        qis_core::constants::ID_WORK_MEMORY_KIB,
        settings.attack_rounds,
        settings.round
    );
    let (rate, attacker_others) = phase(cores, || measure_attacker(cores, &settings));
    print_attacker(&rate);
    println!("\n(b) one honest id (fresh key, then its work):");
    let (single, single_others) = phase(cores, || {
        honest_ids(settings.honest_samples, 1, rate.per_s_one_thread)
    });
    print_honest(&single);
    let (multi, multi_others) = phase(cores, || {
        honest_ids(settings.honest_samples, cores, rate.per_s_all_cores)
    });
    print_honest(&multi);
    println!("\n(d) verification:");
    let (verification, verification_others) = phase(cores, measure_verification);
    let costs = cost_table(&rate, verification.old_id_blake3_ns);
    let gpu = gpu_defence(&rate);
    print_costs(&costs, &rate, &gpu);
    let boards = board_estimates(&rate);
    print_boards(&boards);
    println!();
    let at_target = costs
        .iter()
        .find(|c| c.nodes == TARGET_NODES)
        .expect("the target size is tabled");
    let verdicts = [
        verdict(
            "half the 20 closest at 100k nodes >= 1 CPU-day (N*2^d)",
            format!("{:.2} CPU-days", at_target.cpu_days_half),
            at_target.cpu_days_half >= TARGET_ATTACK_CPU_DAYS,
        ),
        verdict(
            "one honest id <= 2 s on this machine (median, all cores)",
            format!("{:.2} s (p95 {:.2} s)", multi.median_s, multi.p95_s),
            multi.median_s <= TARGET_HONEST_S,
        ),
    ];
    let json = serde_json::json!({
        "bench": "grind",
        "difficulty": DEFAULT_ID_DIFFICULTY,
        "memory_kib": qis_core::constants::ID_WORK_MEMORY_KIB,
        "other_processes_cores": {
            "attacker": attacker_others,
            "honest_single_thread": single_others,
            "honest_all_cores": multi_others,
            "verification": verification_others,
        },
        "attacker": rate,
        "honest_single_thread": single,
        "honest_all_cores": multi,
        "verification": verification,
        "costs": costs,
        "gpu_defence": gpu,
        "boards": boards,
        "verdicts": verdicts,
    });
    println!("{json}");
}
