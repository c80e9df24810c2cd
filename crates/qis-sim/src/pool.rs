//! A fixed set of worker threads that run one closure together, once per window.
//!
//! A window lasts about a millisecond of virtual time and a run has hundreds of thousands of
//! them, so starting threads per window (as `std::thread::scope` would) costs more than the
//! window's work; these threads live as long as the simulation and wait between windows.
//! Each worker spins briefly before it sleeps, because the next window usually comes within
//! microseconds.

// The one unsafe step: a worker calls a closure that borrows the caller's stack. It is sound
// because `Pool::run` does not return (nor unwind) before every worker is done with it.
#![allow(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Spins of a waiting thread before it sleeps.
const SPINS: u32 = 20_000;

/// The closure of the current round, its lifetime erased (see [`Pool::run`]).
#[derive(Clone, Copy)]
struct Job(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure is `Sync`, so calling it from other threads through a shared pointer is
// allowed; the pointer is only dereferenced while `Pool::run` keeps the closure alive.
unsafe impl Send for Job {}

struct State {
    job: Option<Job>,
    stop: bool,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
    /// Rounds started; a worker runs each once.
    round: AtomicU64,
    /// Workers still running the current round.
    running: AtomicUsize,
    /// A worker's closure panicked in the current round.
    panicked: AtomicUsize,
}

/// Worker threads that run a closure together with the caller (see the module doc).
pub(crate) struct Pool {
    inner: Arc<Inner>,
    workers: Vec<JoinHandle<()>>,
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
            state: Mutex::new(State {
                job: None,
                stop: false,
            }),
            wake: Condvar::new(),
            round: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
        });
        let workers = (1..threads.max(1))
            .map(|id| {
                let inner = Arc::clone(&inner);
                std::thread::Builder::new()
                    .name(format!("qis-sim-{id}"))
                    .spawn(move || work(&inner, id))
                    .expect("the simulator starts its worker threads")
            })
            .collect();
        Pool { inner, workers }
    }

    /// Threads in all, the caller's included.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0)` on the caller's thread and `f(1)` .. `f(threads - 1)` on the workers, and
    /// returns when all are done. A panic in any of them is raised here.
    pub(crate) fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() {
            f(0);
            return;
        }
        // SAFETY: only the lifetime is changed. Workers call the closure only during this
        // round, and this function waits for `running` to reach zero (below, panics included:
        // workers catch theirs, and the caller's own is caught) before it returns, so the
        // closure outlives every call.
        let job = Job(unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(f)
        });
        self.inner
            .running
            .store(self.workers.len(), Ordering::SeqCst);
        {
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            state.job = Some(job);
            self.inner.round.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.wake.notify_all();
        let own = catch_unwind(AssertUnwindSafe(|| f(0)));
        let mut spins = 0u32;
        while self.inner.running.load(Ordering::Acquire) > 0 {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if let Err(panic) = own {
            resume_unwind(panic);
        }
        if self.inner.panicked.swap(0, Ordering::SeqCst) > 0 {
            panic!("a simulator worker thread panicked");
        }
    }
}

/// A worker: waits for each round, runs its share, reports done.
fn work(inner: &Inner, id: usize) {
    let mut seen = 0u64;
    loop {
        let mut spins = 0u32;
        while inner.round.load(Ordering::Acquire) == seen && spins < SPINS {
            spins += 1;
            std::hint::spin_loop();
        }
        let job = {
            let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            while inner.round.load(Ordering::Acquire) == seen && !state.stop {
                state = inner.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.stop {
                return;
            }
            seen = inner.round.load(Ordering::Acquire);
            state.job
        };
        if let Some(Job(f)) = job {
            // SAFETY: see `Pool::run`: the closure is alive until `running` reaches zero.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(id) }));
            if result.is_err() {
                inner.panicked.fetch_add(1, Ordering::SeqCst);
            }
        }
        inner.running.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        {
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            state.stop = true;
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
    use std::sync::atomic::AtomicU64;

    /// Every thread runs every round once, and the caller sees all their work done.
    #[test]
    fn every_thread_runs_each_round() {
        let pool = Pool::new(3);
        let counts: Vec<AtomicU64> = (0..3).map(|_| AtomicU64::new(0)).collect();
        for _ in 0..1000 {
            pool.run(&|id| {
                counts[id].fetch_add(1, Ordering::Relaxed);
            });
        }
        assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1000));
    }
}
