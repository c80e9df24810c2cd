//! The simulator's own memory use, from `/proc/self/status` (Linux; zero elsewhere).

/// A field of `/proc/self/status` in bytes (`VmHWM`: peak resident, `VmRSS`: resident now).
fn status_field(name: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Peak resident memory of the process in bytes.
pub(crate) fn peak_rss() -> u64 {
    status_field("VmHWM")
}

/// Resident memory of the process now, in bytes.
pub(crate) fn current_rss() -> u64 {
    status_field("VmRSS")
}

/// Resets the peak to the current value (Linux 4.0 and later), so each run of a sweep reports
/// its own peak. Failure is harmless: the peak then covers earlier runs too.
pub(crate) fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
