//! CPU time, attributed to a system by the names of its threads.
//!
//! Both networks live in one process, so process-wide rusage would charge one system's idle
//! polling to the other's lookups. Instead each thread's on-CPU nanoseconds
//! (/proc/self/task/TID/schedstat) are summed per thread-name prefix. Process-wide rusage is
//! kept as a cross-check.

use std::collections::HashMap;
use std::fs;

/// Remembers each thread's name, so a snapshot reads one small file per thread.
#[derive(Default)]
pub struct ThreadCpu {
    names: HashMap<u32, String>,
}

impl ThreadCpu {
    /// An empty name cache.
    pub fn new() -> ThreadCpu {
        ThreadCpu::default()
    }

    /// Total on-CPU nanoseconds of the live threads whose name starts with `prefix`.
    ///
    /// Threads that exited since an earlier snapshot drop out of the sum, so take the two
    /// snapshots of a window while the system's threads stay alive.
    pub fn snapshot(&mut self, prefix: &str) -> u64 {
        let Ok(dir) = fs::read_dir("/proc/self/task") else {
            return 0;
        };
        let mut total = 0;
        for entry in dir.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let name = self.names.entry(tid).or_insert_with(|| {
                fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim_end().to_string())
                    .unwrap_or_default()
            });
            if !name.starts_with(prefix) {
                continue;
            }
            total += fs::read_to_string(entry.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
        total
    }

    /// How many live threads have a name starting with `prefix`.
    pub fn count(&mut self, prefix: &str) -> usize {
        let Ok(dir) = fs::read_dir("/proc/self/task") else {
            return 0;
        };
        dir.flatten()
            .filter(|e| {
                fs::read_to_string(e.path().join("comm"))
                    .map(|s| s.starts_with(prefix))
                    .unwrap_or(false)
            })
            .count()
    }
}

/// User plus system CPU nanoseconds of the whole process (getrusage RUSAGE_SELF).
pub fn process_cpu_ns() -> u64 {
    // SAFETY: getrusage writes only into the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}
