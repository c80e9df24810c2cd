//! Runs the measurements: per network size, build each system's network, then alternate
//! batches of lookups between the systems over the same (origin, target) sequence; finally
//! the single-node throughput test.

use crate::loadgen::{self, LoadConfig, LoadResult};
use crate::measure::cpu::{self, ThreadCpu};
use crate::measure::mem;
use crate::measure::net::NetCounters;
use crate::rng::Rng;
use crate::system::{ProofCounters, Result, System};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Settings shared by every measurement of a run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Measured lookups per system and size.
    pub lookups: usize,
    /// Unmeasured lookups per system before measuring.
    pub warmup: usize,
    /// Lookups per system between two switches of system.
    pub batch: usize,
    /// Seed of origins, targets and load-generator requests.
    pub seed: u64,
    /// Seconds of idle time over which idle CPU is measured after a build.
    pub idle_secs: f64,
    /// Header bytes `lo` counts per packet beyond the UDP payload.
    pub lo_overhead: u64,
    /// Values put and fetched per system and size (0 skips the value test).
    pub values: usize,
}

/// Everything measured for one system at one network size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SizeResult {
    pub system: String,
    pub nodes: usize,
    pub build_secs: f64,
    /// RSS growth while building the network, per node.
    pub rss_per_node_bytes: f64,
    /// CPU the idle network burns, per node.
    pub idle_cpu_ms_per_node_per_s: f64,
    /// Datagrams per second all the networks of this size sent while idle: taken out of the
    /// per-operation counts (see `Background` in runner.rs).
    pub background_datagrams_per_s: f64,
    pub lookups: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// UDP datagrams sent (requests and answers) per lookup.
    pub datagrams_per_lookup: f64,
    /// UDP payload bytes sent per lookup.
    pub payload_bytes_per_lookup: f64,
    /// Bytes on `lo` per lookup, headers included.
    pub wire_bytes_per_lookup: f64,
    /// CPU of the system's own threads per 1,000 lookups.
    pub cpu_s_per_1000: f64,
    /// Whole-process CPU (rusage) per 1,000 lookups: cross-check, includes the harness and the
    /// other system's idle threads.
    pub process_cpu_s_per_1000: f64,
    /// Share of the true `recall_k` closest nodes (origin excluded) that the lookup returned.
    pub recall: f64,
    /// Size of the true closest set `recall` is measured against: the number of closest
    /// nodes the system's lookups aim for (at most n - 1).
    pub recall_k: usize,
    pub returned_per_lookup: f64,
    /// Requests per lookup as the system itself reports them, when it does.
    pub requests_sent_per_lookup: Option<f64>,
    /// Identity proofs checked per lookup, over every node (qis only).
    pub proofs_checked_per_lookup: Option<f64>,
    /// Of those, proofs whose id work was evaluated per lookup: first meetings, one Argon2id
    /// evaluation each (qis only). Falls as nodes meet each other (`--warmup`).
    pub id_work_evaluations_per_lookup: Option<f64>,
    /// Puts and gets of values, for a system that stores values.
    pub values: Option<ValueResult>,
}

/// One kind of operation's figures (a put or a get), per operation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OpStats {
    pub ops: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// UDP datagrams sent (requests and answers) per operation.
    pub datagrams_per_op: f64,
    /// UDP payload bytes sent per operation.
    pub payload_bytes_per_op: f64,
    /// CPU of the system's own threads per 1,000 operations.
    pub cpu_s_per_1000: f64,
}

/// Values stored at one node and fetched at another.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ValueResult {
    /// Values in the plan.
    pub values: usize,
    /// Bytes of each value.
    pub value_bytes: usize,
    pub put: OpStats,
    pub get: OpStats,
    /// Share of gets that returned the value put.
    pub found: f64,
}

/// The single-node throughput of one system.
#[derive(Clone, Debug, Serialize)]
pub struct ThroughputResult {
    pub system: String,
    /// Size of the network the node under load joined.
    pub network: usize,
    pub load: LoadResult,
    /// CPU of the system's threads during the load, in cores (1.0 = one core busy).
    pub node_cores: f64,
}

/// The traffic every built network makes on its own while idle (keep-alives, pings, table
/// maintenance), per second. The counters are the namespace's, so during one system's batch
/// the others' idle traffic is counted too; this rate times a batch's duration is taken out of
/// every batch (the system's own idle traffic with it, so per-operation figures are the
/// operation's own).
#[derive(Clone, Copy, Debug, Default)]
struct Background {
    udp_out_per_s: f64,
    udp_in_per_s: f64,
    lo_bytes_per_s: f64,
    lo_packets_per_s: f64,
}

impl Background {
    /// Reads the counters across `secs` of idle time (at least 0.5 s).
    fn measure(secs: f64) -> Background {
        let secs = secs.max(0.5);
        let n0 = NetCounters::read();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(secs));
        let d = NetCounters::read().since(&n0);
        let s = t0.elapsed().as_secs_f64();
        Background {
            udp_out_per_s: d.udp_out as f64 / s,
            udp_in_per_s: d.udp_in as f64 / s,
            lo_bytes_per_s: d.lo_bytes as f64 / s,
            lo_packets_per_s: d.lo_packets as f64 / s,
        }
    }
}

/// Running sums of one kind of operation (lookup, put or get) on one system.
struct Accum {
    hist: Histogram<u64>,
    net: NetCounters,
    /// Wall seconds spent inside this accumulator's batches, for the background correction.
    secs: f64,
    cpu_ns: u64,
    process_ns: u64,
    ok: usize,
    failed: usize,
}

impl Accum {
    fn new() -> Accum {
        Accum {
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            net: NetCounters::default(),
            secs: 0.0,
            cpu_ns: 0,
            process_ns: 0,
            ok: 0,
            failed: 0,
        }
    }

    /// Operations attempted, at least 1 (a divisor).
    fn attempted(&self) -> f64 {
        (self.ok + self.failed).max(1) as f64
    }

    /// Runs `ops` operations through `op` with the counters around them, recording each
    /// operation's wall time; returns every result, in order.
    fn run<T>(
        &mut self,
        sys: &mut dyn System,
        cpu: &mut ThreadCpu,
        ops: usize,
        mut op: impl FnMut(&mut dyn System, usize) -> Result<T>,
    ) -> Vec<Result<T>> {
        let mut results = Vec::with_capacity(ops);
        let net0 = NetCounters::read();
        let cpu0 = system_cpu_ns(cpu, &*sys);
        let proc0 = cpu::process_cpu_ns();
        let started = Instant::now();
        for i in 0..ops {
            let t = Instant::now();
            let r = op(sys, i);
            let us = t.elapsed().as_micros().max(1) as u64;
            match &r {
                Ok(_) => {
                    self.ok += 1;
                    let _ = self.hist.record(us);
                }
                Err(e) => {
                    self.failed += 1;
                    eprintln!("{}: operation failed: {e}", sys.name());
                }
            }
            results.push(r);
        }
        let proc1 = cpu::process_cpu_ns();
        let cpu1 = system_cpu_ns(cpu, &*sys);
        let net = NetCounters::read().since(&net0);
        self.secs += started.elapsed().as_secs_f64();
        self.net.add(&net);
        self.cpu_ns += cpu1.saturating_sub(cpu0);
        self.process_ns += proc1.saturating_sub(proc0);
        results
    }

    /// This accumulator's counters less the idle networks' own traffic over its batches.
    fn own_net(&self, bg: &Background) -> NetCounters {
        let less = |v: u64, per_s: f64| v.saturating_sub((per_s * self.secs).round() as u64);
        NetCounters {
            udp_out: less(self.net.udp_out, bg.udp_out_per_s),
            udp_in: less(self.net.udp_in, bg.udp_in_per_s),
            lo_bytes: less(self.net.lo_bytes, bg.lo_bytes_per_s),
            lo_packets: less(self.net.lo_packets, bg.lo_packets_per_s),
        }
    }

    /// The per-operation figures, background traffic taken out.
    fn stats(&self, overhead: u64, bg: &Background) -> OpStats {
        let attempted = self.attempted();
        let net = self.own_net(bg);
        OpStats {
            ops: self.ok,
            failed: self.failed,
            p50_ms: self.hist.value_at_quantile(0.5) as f64 / 1e3,
            p99_ms: self.hist.value_at_quantile(0.99) as f64 / 1e3,
            mean_ms: self.hist.mean() / 1e3,
            datagrams_per_op: net.udp_out as f64 / attempted,
            payload_bytes_per_op: net.payload_bytes(overhead) as f64 / attempted,
            cpu_s_per_1000: self.cpu_ns as f64 / 1e9 / attempted * 1000.0,
        }
    }
}

/// Lookup sums plus what only lookups have: recall and returned-set size.
struct LookupAccum {
    ops: Accum,
    recall_sum: f64,
    returned: usize,
    requests: Option<u64>,
}

/// Measures every system at network size `n`, alternating lookup batches between them, then
/// (when `cfg.values` > 0) value batches: puts at one node, gets of the same keys at another.
pub fn measure_size(
    systems: &mut [Box<dyn System>],
    n: usize,
    cfg: &RunConfig,
) -> Result<Vec<SizeResult>> {
    let mut cpu = ThreadCpu::new();
    let mut ids = vec![Vec::new(); systems.len()];
    let mut built: Vec<Option<SizeResult>> = vec![None; systems.len()];
    let mut order: Vec<usize> = (0..systems.len()).collect();
    order.sort_by_key(|&s| !systems[s].build_first());
    for s in order {
        let sys = &mut systems[s];
        mem::trim();
        let rss0 = mem::rss_bytes();
        let t0 = Instant::now();
        sys.build(n)?;
        let build_secs = t0.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(200));
        let rss1 = mem::rss_bytes();
        let c0 = system_cpu_ns(&mut cpu, &**sys);
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(cfg.idle_secs));
        let idle_ns = system_cpu_ns(&mut cpu, &**sys).saturating_sub(c0);
        let idle_s = t1.elapsed().as_secs_f64();
        built[s] = Some(SizeResult {
            system: sys.name().to_string(),
            nodes: n,
            build_secs,
            rss_per_node_bytes: rss1.saturating_sub(rss0) as f64 / n as f64,
            idle_cpu_ms_per_node_per_s: idle_ns as f64 / 1e6 / n as f64 / idle_s,
            recall_k: sys.recall_k().min(n - 1),
            ..SizeResult::default()
        });
        ids[s] = sys.node_ids();
    }
    let mut results: Vec<SizeResult> = built.into_iter().flatten().collect();
    let bg = Background::measure(cfg.idle_secs);
    for r in results.iter_mut() {
        r.background_datagrams_per_s = bg.udp_out_per_s;
    }

    // The same (origin, target) sequence for every system.
    let mut rng = Rng::new(cfg.seed ^ n as u64);
    let plan: Vec<(usize, [u8; 32])> = (0..cfg.warmup + cfg.lookups)
        .map(|_| (rng.below(n), rng.target()))
        .collect();
    let (warm, measured) = plan.split_at(cfg.warmup);
    for (s, sys) in systems.iter_mut().enumerate() {
        for &(origin, target) in warm {
            sys.lookup(origin, target)
                .map_err(|e| format!("{} warm-up: {e}", results[s].system))?;
        }
    }

    let mut acc: Vec<LookupAccum> = systems
        .iter()
        .map(|_| LookupAccum {
            ops: Accum::new(),
            recall_sum: 0.0,
            returned: 0,
            requests: Some(0),
        })
        .collect();
    let proofs_before: Vec<Option<ProofCounters>> =
        systems.iter_mut().map(|s| s.proof_counters()).collect();
    for (b, batch) in measured.chunks(cfg.batch.max(1)).enumerate() {
        for k in 0..systems.len() {
            let s = (k + b) % systems.len();
            run_lookups(&mut *systems[s], batch, &ids[s], &mut acc[s], &mut cpu);
        }
    }
    for (s, (r, a)) in results.iter_mut().zip(acc).enumerate() {
        finish(r, a, cfg.lo_overhead, &bg);
        if let (Some(before), Some(after)) = (proofs_before[s], systems[s].proof_counters()) {
            let lookups = measured.len().max(1) as f64;
            let per = |a: u64, b: u64| Some(a.saturating_sub(b) as f64 / lookups);
            r.proofs_checked_per_lookup = per(after.checked, before.checked);
            r.id_work_evaluations_per_lookup = per(after.work_evaluated, before.work_evaluated);
        }
    }

    if cfg.values > 0 {
        let values = value_plan(cfg, n);
        let mut puts: Vec<Accum> = systems.iter().map(|_| Accum::new()).collect();
        let mut gets: Vec<Accum> = systems.iter().map(|_| Accum::new()).collect();
        let mut found = vec![0usize; systems.len()];
        for (b, batch) in values.chunks(cfg.batch.max(1)).enumerate() {
            for k in 0..systems.len() {
                let s = (k + b) % systems.len();
                let sys = &mut *systems[s];
                if !sys.has_values() {
                    continue;
                }
                puts[s].run(sys, &mut cpu, batch.len(), |sys, i| {
                    let v = &batch[i];
                    sys.put(v.put_origin, v.key, &v.value)
                });
                let got = gets[s].run(sys, &mut cpu, batch.len(), |sys, i| {
                    sys.get(batch[i].get_origin, batch[i].key)
                });
                found[s] += got
                    .iter()
                    .zip(batch)
                    .filter(|(g, v)| matches!(g, Ok(Some(x)) if *x == v.value))
                    .count();
            }
        }
        for (s, sys) in systems.iter().enumerate() {
            if sys.has_values() {
                results[s].values = Some(ValueResult {
                    values: values.len(),
                    value_bytes: VALUE_BYTES,
                    put: puts[s].stats(cfg.lo_overhead, &bg),
                    get: gets[s].stats(cfg.lo_overhead, &bg),
                    found: found[s] as f64 / values.len().max(1) as f64,
                });
            }
        }
    }

    for sys in systems.iter_mut() {
        sys.teardown();
    }
    mem::trim();
    Ok(results)
}

/// One value of the value plan: stored from one node, fetched from another.
struct PlannedValue {
    put_origin: usize,
    get_origin: usize,
    key: [u8; 32],
    value: Vec<u8>,
}

/// The same values, keys and origins for every system (a seed apart from the lookup plan's).
fn value_plan(cfg: &RunConfig, n: usize) -> Vec<PlannedValue> {
    let mut rng = Rng::new(cfg.seed ^ n as u64 ^ VALUE_PLAN_SALT);
    (0..cfg.values)
        .map(|_| {
            let put_origin = rng.below(n);
            let get_origin = (put_origin + 1 + rng.below(n - 1)) % n;
            let key = rng.target();
            let mut value = vec![0u8; VALUE_BYTES];
            rng.fill(&mut value);
            PlannedValue {
                put_origin,
                get_origin,
                key,
                value,
            }
        })
        .collect()
}

/// Keeps the value plan's random stream apart from the lookup plan's.
const VALUE_PLAN_SALT: u64 = 0x7661_6c75_6573;

/// Bytes of every stored value: a typical qis outcome packet payload, under every system's
/// value limit (qis's 512-byte record, mainline's 1000-byte BEP 44 item).
pub const VALUE_BYTES: usize = 200;

/// Runs one batch of lookups on one system, adding timings, counter deltas and recall.
fn run_lookups(
    sys: &mut dyn System,
    batch: &[(usize, [u8; 32])],
    ids: &[Vec<u8>],
    acc: &mut LookupAccum,
    cpu: &mut ThreadCpu,
) {
    let k = sys.recall_k();
    let space: Vec<Vec<u8>> = batch.iter().map(|&(_, t)| sys.recall_target(t)).collect();
    // The closest set is read right after each lookup, outside its timing but inside the
    // batch: a system that reports it separately (OpenDHT's search log) sends nothing for it.
    let outcomes = acc.ops.run(sys, cpu, batch.len(), |sys, i| {
        let (origin, target) = batch[i];
        let mut o = sys.lookup(origin, target)?;
        if o.closest.is_empty() {
            o.closest = sys.found_closest(origin, target).unwrap_or_default();
        }
        Ok(o)
    });
    for ((&(origin, _), target), outcome) in batch.iter().zip(&space).zip(outcomes) {
        if let Ok(o) = outcome {
            acc.returned += o.closest.len();
            acc.recall_sum += recall(ids, origin, target, &o.closest, k);
            acc.requests = acc.requests.zip(o.requests_sent).map(|(a, b)| a + b);
        }
    }
}

/// Turns the sums into per-lookup figures.
fn finish(r: &mut SizeResult, a: LookupAccum, overhead: u64, bg: &Background) {
    let done = a.ops.ok.max(1) as f64;
    let attempted = a.ops.attempted();
    let st = a.ops.stats(overhead, bg);
    r.lookups = st.ops;
    r.failed = st.failed;
    r.p50_ms = st.p50_ms;
    r.p99_ms = st.p99_ms;
    r.mean_ms = st.mean_ms;
    r.datagrams_per_lookup = st.datagrams_per_op;
    r.payload_bytes_per_lookup = st.payload_bytes_per_op;
    r.wire_bytes_per_lookup = a.ops.own_net(bg).lo_bytes as f64 / attempted;
    r.cpu_s_per_1000 = st.cpu_s_per_1000;
    r.process_cpu_s_per_1000 = a.ops.process_ns as f64 / 1e9 / attempted * 1000.0;
    r.recall = a.recall_sum / done;
    r.returned_per_lookup = a.returned as f64 / done;
    r.requests_sent_per_lookup = a.requests.map(|q| q as f64 / done);
}

/// On-CPU nanoseconds of `sys`'s own threads (named by its prefixes), live now.
fn system_cpu_ns(cpu: &mut ThreadCpu, sys: &dyn System) -> u64 {
    cpu.snapshot(sys.thread_prefix()) + sys.helper_thread_prefix().map_or(0, |p| cpu.snapshot(p))
}

/// Share of the true `k` closest ids to `target` (origin excluded) found in `returned`.
fn recall(ids: &[Vec<u8>], origin: usize, target: &[u8], returned: &[Vec<u8>], k: usize) -> f64 {
    let distance = |id: &[u8]| -> Vec<u8> { id.iter().zip(target).map(|(a, b)| a ^ b).collect() };
    let mut truth: Vec<(Vec<u8>, usize)> = ids
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != origin)
        .map(|(i, id)| (distance(id), i))
        .collect();
    truth.sort();
    let k = truth.len().min(k);
    if k == 0 {
        return 1.0;
    }
    let hits = truth[..k]
        .iter()
        .filter(|(_, i)| returned.iter().any(|r| *r == ids[*i]))
        .count();
    hits as f64 / k as f64
}

/// Puts one system's single node under the load generator for `secs`.
pub fn measure_throughput(
    sys: &mut dyn System,
    network: usize,
    secs: f64,
    window: usize,
    sources: usize,
    seed: u64,
) -> Result<Option<ThroughputResult>> {
    let Some(mut proto) = sys.load_protocol() else {
        return Ok(None);
    };
    let target = sys.serve_single(network)?;
    let cfg = LoadConfig {
        target,
        duration: Duration::from_secs_f64(secs),
        window,
        sources,
        timeout: Duration::from_millis(500),
        max_requests: 50_000_000,
        seed,
    };
    let mut cpu = ThreadCpu::new();
    let c0 = system_cpu_ns(&mut cpu, &*sys);
    let t0 = Instant::now();
    let load = std::thread::Builder::new()
        .name("loadgen".into())
        .spawn(move || loadgen::run(&mut *proto, &cfg))
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "load generator panicked".to_string())?
        .map_err(|e| format!("load generator: {e}"));
    let node_ns = system_cpu_ns(&mut cpu, &*sys).saturating_sub(c0);
    let wall = t0.elapsed().as_secs_f64();
    let name = sys.name().to_string();
    sys.teardown();
    mem::trim();
    Ok(Some(ThroughputResult {
        system: name,
        network,
        load: load?,
        node_cores: node_ns as f64 / 1e9 / wall,
    }))
}

#[cfg(test)]
mod tests {
    use super::{RunConfig, VALUE_BYTES, recall, value_plan};

    #[test]
    fn value_plan_fetches_each_value_at_another_node_and_repeats_per_seed() {
        let cfg = RunConfig {
            lookups: 0,
            warmup: 0,
            batch: 10,
            seed: 3,
            idle_secs: 0.0,
            lo_overhead: 28,
            values: 200,
        };
        let plan = value_plan(&cfg, 2);
        assert_eq!(plan.len(), 200);
        for v in &plan {
            assert!(v.put_origin < 2 && v.get_origin < 2);
            assert_ne!(v.put_origin, v.get_origin);
            assert_eq!(v.value.len(), VALUE_BYTES);
        }
        let again = value_plan(&cfg, 2);
        assert!(
            plan.iter()
                .zip(&again)
                .all(|(a, b)| a.key == b.key && a.value == b.value)
        );
    }

    #[test]
    fn recall_counts_true_closest_and_skips_origin() {
        // Ids 0..30 as one byte; the target is 0, so the true closest are 1..=20 once the
        // origin (index 0, id 0) is left out.
        let ids: Vec<Vec<u8>> = (0u8..30).map(|i| vec![i]).collect();
        let target = [0u8; 32];
        let all: Vec<Vec<u8>> = (1u8..=20).map(|i| vec![i]).collect();
        assert_eq!(recall(&ids, 0, &target, &all, 20), 1.0);
        let half: Vec<Vec<u8>> = (1u8..=10).chain(21..=30).map(|i| vec![i]).collect();
        assert_eq!(recall(&ids, 0, &target, &half, 20), 0.5);
    }
}
