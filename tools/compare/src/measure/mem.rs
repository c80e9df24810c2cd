//! Resident memory of the process, for memory per node as an RSS delta.

use std::fs;

/// Resident set size of this process in bytes (from /proc/self/statm), 0 if unreadable.
pub fn rss_bytes() -> u64 {
    let pages = fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}

/// Returns freed heap memory to the OS, so that the next network's RSS delta is not hidden by
/// pages the allocator kept from the previous one.
pub fn trim() {
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}
