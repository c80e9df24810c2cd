//! A fixed set of worker threads that share out the chunks of one round of work, once per
//! window.
//!
//! A window lasts about a millisecond of virtual time and a run has hundreds of thousands of
//! them, so starting threads per window (as `std::thread::scope` would) costs more than the
//! window's work; these threads live as long as the simulation and wait between windows
//! (spinning briefly first: the next window usually comes within microseconds).
//!
//! Chunks are claimed, not assigned: the caller works through them too, and a round ends when
//! every chunk is done, not when every worker has woken. On a machine shared with other work a
//! worker that is not scheduled in time costs its share of parallelism, not a stall of the
//! whole window.

// The one unsafe step: a worker calls a closure that borrows the caller's stack. It is sound
// because a chunk can only be claimed while its round is unfinished, and `Pool::run` does not
// return (nor unwind) before every chunk of its round is done.
#![allow(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Most chunks in one round (they are counted in 16 bits); more run on the caller alone.
pub(crate) const MAX_CHUNKS: usize = 0xffff;

/// Spins of a waiting worker before it sleeps.
const SPINS: u32 = 4_000;

/// The closure of a round, its lifetime erased (see [`Pool::run`]).
#[derive(Clone, Copy)]
struct Job(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure is `Sync`, so calling it from other threads through a shared pointer is
// allowed; it is only called for a claimed chunk, while `Pool::run` keeps it alive.
unsafe impl Send for Job {}

/// What a sleeping worker wakes up to.
struct Posted {
    round: u32,
    job: Option<Job>,
    stop: bool,
}

struct Inner {
    posted: Mutex<Posted>,
    wake: Condvar,
    /// The current round in the high 32 bits, the next unclaimed chunk in the next 16 and the
    /// round's number of chunks in the low 16: one word, so that a claim checks all three at
    /// once and a worker late for a round can never claim in the next.
    claim: AtomicU64,
    /// Chunks of the current round done.
    done: AtomicUsize,
    /// Workers asleep on `wake`.
    sleepers: AtomicUsize,
    /// A chunk panicked in the current round.
    panicked: AtomicBool,
}

impl Inner {
    /// Claims and runs chunks of `round` until none is left.
    fn run_chunks(&self, round: u32, job: Job) {
        let mut current = self.claim.load(Ordering::Acquire);
        loop {
            let (r, next, chunks) = (
                (current >> 32) as u32,
                (current >> 16) & 0xffff,
                current & 0xffff,
            );
            if r != round || next >= chunks {
                return;
            }
            match self.claim.compare_exchange_weak(
                current,
                current + (1 << 16),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: chunk `next` of `round` is claimed and not done, so the round is
                    // unfinished and `Pool::run` is still keeping the closure alive.
                    let f = unsafe { &*job.0 };
                    if catch_unwind(AssertUnwindSafe(|| f(next as usize))).is_err() {
                        self.panicked.store(true, Ordering::Release);
                    }
                    self.done.fetch_add(1, Ordering::AcqRel);
                    current = self.claim.load(Ordering::Acquire);
                }
                Err(seen) => current = seen,
            }
        }
    }
}

/// Worker threads that share out a round's chunks with the caller (see the module doc).
pub(crate) struct Pool {
    inner: Arc<Inner>,
    workers: Vec<JoinHandle<()>>,
    round: u32,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl Pool {
    /// A pool of `threads` threads in all, the caller's included (so `threads - 1` workers).
    pub(crate) fn new(threads: usize) -> Pool {
        let inner = Arc::new(Inner {
            posted: Mutex::new(Posted {
                round: 0,
                job: None,
                stop: false,
            }),
            wake: Condvar::new(),
            claim: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        });
        let workers = (1..threads.max(1))
            .map(|id| {
                let inner = Arc::clone(&inner);
                std::thread::Builder::new()
                    .name(format!("qis-sim-{id}"))
                    .spawn(move || work(&inner))
                    .expect("the simulator starts its worker threads")
            })
            .collect();
        Pool {
            inner,
            workers,
            round: 0,
        }
    }

    /// Threads in all, the caller's included.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0)` .. `f(chunks - 1)`, each once, on this thread and the workers, and returns
    /// when all are done. A panic in any of them is raised here.
    pub(crate) fn run(&mut self, chunks: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || chunks <= 1 || chunks > MAX_CHUNKS {
            (0..chunks).for_each(f);
            return;
        }
        // SAFETY: only the lifetime is changed. A chunk can be claimed only while the round is
        // unfinished, and this function waits for every chunk to be done (panics included:
        // each chunk's is caught) before it returns, so the closure outlives every call.
        let job = Job(unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(f)
        });
        self.round = self.round.wrapping_add(1);
        let inner = &*self.inner;
        inner.done.store(0, Ordering::Release);
        {
            let mut posted = inner.posted.lock().unwrap_or_else(|e| e.into_inner());
            posted.round = self.round;
            posted.job = Some(job);
            // Opening the round last: a claim of it finds `chunks` and `job` in place.
            inner.claim.store(
                u64::from(self.round) << 32 | chunks as u64,
                Ordering::Release,
            );
        }
        if inner.sleepers.load(Ordering::Acquire) > 0 {
            inner.wake.notify_all();
        }
        inner.run_chunks(self.round, job);
        let mut spins = 0u32;
        while inner.done.load(Ordering::Acquire) < chunks {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if inner.panicked.swap(false, Ordering::AcqRel) {
            resume_unwind(Box::new("a simulator thread panicked in a window"));
        }
    }
}

/// A worker: waits for each round and helps with its chunks.
fn work(inner: &Inner) {
    let mut seen = 0u32;
    loop {
        let mut spins = 0u32;
        while (inner.claim.load(Ordering::Acquire) >> 32) as u32 == seen && spins < SPINS {
            spins += 1;
            std::hint::spin_loop();
        }
        let (round, job) = {
            let mut posted = inner.posted.lock().unwrap_or_else(|e| e.into_inner());
            while posted.round == seen && !posted.stop {
                inner.sleepers.fetch_add(1, Ordering::AcqRel);
                posted = inner.wake.wait(posted).unwrap_or_else(|e| e.into_inner());
                inner.sleepers.fetch_sub(1, Ordering::AcqRel);
            }
            if posted.stop {
                return;
            }
            (posted.round, posted.job)
        };
        seen = round;
        if let Some(job) = job {
            inner.run_chunks(round, job);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        {
            let mut posted = self.inner.posted.lock().unwrap_or_else(|e| e.into_inner());
            posted.stop = true;
        }
        self.inner.wake.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk of every round runs exactly once, and the caller sees all of it done.
    #[test]
    fn every_chunk_runs_once_per_round() {
        let mut pool = Pool::new(3);
        let counts: Vec<AtomicU64> = (0..7).map(|_| AtomicU64::new(0)).collect();
        for round in 0..2000 {
            let chunks = 1 + round % 7;
            pool.run(chunks, &|i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        let expected = |i: usize| (0..2000).filter(|r| 1 + r % 7 > i).count() as u64;
        for (i, c) in counts.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), expected(i));
        }
    }

    /// A panic in a chunk reaches the caller, and the pool still works afterwards.
    #[test]
    fn a_panicking_chunk_is_raised_to_the_caller() {
        let mut pool = Pool::new(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.run(4, &|i| assert!(i != 2, "chunk 2 fails"));
        }));
        assert!(caught.is_err());
        let ran = AtomicUsize::new(0);
        pool.run(4, &|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 4);
    }
}
