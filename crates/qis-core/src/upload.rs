//! A node's upload budget (`Config::max_upload`): a token bucket over the UDP payload it
//! sends, holding at most one second of the rate, so that no window of `T` seconds carries
//! more than `rate × (T + 1)` bytes (at most 10% over the budget in any 10 s window).
//! Maintenance (refreshes, verification pings, re-replication, republishing) yields first:
//! it sends only while the bucket holds more than half a second of the rate, leaving the rest
//! to answers and to the node's own lookups, gets and puts. A datagram over the budget is not
//! sent (counted in `Metrics::upload_shed`); for the protocol it is a lost datagram, which
//! retries and timeouts already handle.

use crate::time::{Duration, Time};

/// Micro-units per byte: the bucket refills `rate` micro-units per microsecond.
const SCALE: u64 = 1_000_000;

/// The share of the bucket (in halves) maintenance must leave untouched.
const MAINTENANCE_RESERVE_HALVES: u64 = 1;

/// What a datagram is for, as far as the budget is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadClass {
    /// Keeping the network up: yields first.
    Maintenance,
    /// Answers, and the lookups, gets and puts the node was asked to make.
    Foreground,
}

/// The token bucket.
#[derive(Debug, Clone)]
pub struct UploadBudget {
    rate: u64,
    tokens: u64,
    last: Option<Time>,
}

impl UploadBudget {
    /// A full bucket for `bytes_per_s` (at least 1).
    pub fn new(bytes_per_s: u64) -> UploadBudget {
        let rate = bytes_per_s.max(1);
        UploadBudget {
            rate,
            tokens: rate * SCALE,
            last: None,
        }
    }

    /// The budget in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    fn capacity(&self) -> u64 {
        self.rate.saturating_mul(SCALE)
    }

    fn refill(&mut self, now: Time) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_since(last).min(Duration::from_secs(1));
            let add = (elapsed.as_micros() as u64).saturating_mul(self.rate);
            self.tokens = self.tokens.saturating_add(add).min(self.capacity());
        }
        self.last = Some(now);
    }

    /// Takes `bytes` from the bucket at `now` if `class` may send them; false if not (and
    /// nothing is taken).
    pub fn try_spend(&mut self, now: Time, bytes: usize, class: UploadClass) -> bool {
        self.refill(now);
        let cost = (bytes as u64).saturating_mul(SCALE);
        let reserve = match class {
            UploadClass::Foreground => 0,
            UploadClass::Maintenance => self.capacity() / 2 * MAINTENANCE_RESERVE_HALVES,
        };
        if self.tokens < cost.saturating_add(reserve) {
            return false;
        }
        self.tokens -= cost;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers `offered` datagrams of `size` bytes per second, for `secs` seconds, half of
    /// them maintenance; returns the bytes sent per 10 ms tick.
    fn run(rate: u64, size: usize, offered: u64, secs: u64) -> (Vec<u64>, u64, u64) {
        let mut budget = UploadBudget::new(rate);
        let mut sent = Vec::new();
        let (mut maintenance, mut foreground) = (0, 0);
        let per_tick = offered / 100;
        for tick in 0..secs * 100 {
            let now = Time::from_micros(tick * 10_000);
            let mut bytes = 0;
            for i in 0..per_tick {
                let class = if i % 2 == 0 {
                    UploadClass::Maintenance
                } else {
                    UploadClass::Foreground
                };
                if budget.try_spend(now, size, class) {
                    bytes += size as u64;
                    match class {
                        UploadClass::Maintenance => maintenance += 1,
                        UploadClass::Foreground => foreground += 1,
                    }
                }
            }
            sent.push(bytes);
        }
        (sent, maintenance, foreground)
    }

    #[test]
    fn no_ten_second_window_exceeds_the_budget_by_more_than_ten_percent() {
        // 10 kB/s offered 5x over (500-byte datagrams, 100 a second), for a minute.
        let (sent, _, _) = run(10_000, 500, 10_000, 60);
        let window = 1000; // ticks of 10 ms
        for start in 0..=sent.len() - window {
            let bytes: u64 = sent[start..start + window].iter().sum();
            assert!(bytes <= 110_000, "window at {start}: {bytes} bytes");
        }
        // And the budget is used, not starved.
        let total: u64 = sent.iter().sum();
        assert!(total >= 10_000 * 59, "{total}");
    }

    #[test]
    fn maintenance_yields_to_foreground_traffic() {
        let (_, maintenance, foreground) = run(10_000, 500, 10_000, 60);
        assert!(
            foreground > 2 * maintenance,
            "{foreground} vs {maintenance}"
        );
        // Under the budget everything goes.
        let (_, maintenance, foreground) = run(200_000, 500, 200, 10);
        assert_eq!((maintenance, foreground), (1000, 1000));
    }
}
