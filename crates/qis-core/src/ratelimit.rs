//! Per-source request rate limiting. A fixed table of token buckets indexed by a keyed hash of
//! the source host: constant memory whatever the number of sources (colliding hosts share a
//! bucket, which only makes the limit stricter for them).

use crate::time::Time;

/// Rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per source host.
    pub per_second: f64,
    /// Burst size.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            per_second: 100.0,
            burst: 200.0,
        }
    }
}

const SLOTS: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    tokens: f32,
    last_us: u64,
}

/// The limiter. Allocates its table on first use, so idle simulated nodes cost nothing.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    salt: u64,
    slots: Vec<Slot>,
}

impl RateLimiter {
    /// A limiter; `salt` (random per node) keeps attackers from aiming collisions.
    pub(crate) fn new(limit: RateLimit, salt: u64) -> RateLimiter {
        RateLimiter {
            limit,
            salt,
            slots: Vec::new(),
        }
    }

    /// True if a request from `host` may be served now (and charges it).
    pub(crate) fn allow(&mut self, host: u128, now: Time) -> bool {
        if self.slots.is_empty() {
            let full = Slot {
                tokens: self.limit.burst as f32,
                last_us: now.as_micros(),
            };
            self.slots = vec![full; SLOTS];
        }
        let index = slot_of(host, self.salt);
        let slot = &mut self.slots[index];
        let elapsed = now.as_micros().saturating_sub(slot.last_us) as f64 / 1e6;
        let tokens =
            (f64::from(slot.tokens) + elapsed * self.limit.per_second).min(self.limit.burst);
        slot.last_us = now.as_micros().max(slot.last_us);
        if tokens >= 1.0 {
            slot.tokens = (tokens - 1.0) as f32;
            true
        } else {
            slot.tokens = tokens as f32;
            false
        }
    }
}

fn slot_of(host: u128, salt: u64) -> usize {
    let mixed = (host as u64) ^ ((host >> 64) as u64).rotate_left(29) ^ salt;
    // A multiplicative hash (Fibonacci hashing) spreads nearby hosts over the table.
    (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_the_sustained_rate() {
        let mut limiter = RateLimiter::new(
            RateLimit {
                per_second: 10.0,
                burst: 5.0,
            },
            42,
        );
        let allowed = (0..20).filter(|_| limiter.allow(1, Time::ZERO)).count();
        assert_eq!(allowed, 5);
        // One second later, ten more.
        let later = Time::from_millis(1000);
        let allowed = (0..20).filter(|_| limiter.allow(1, later)).count();
        assert_eq!(allowed, 5, "refill is capped by the burst");
        let much_later = Time::from_millis(1500);
        assert_eq!((0..20).filter(|_| limiter.allow(1, much_later)).count(), 5);
        assert!(
            limiter.allow(2, much_later) || limiter.allow(3, much_later),
            "other hosts are unaffected"
        );
    }
}
