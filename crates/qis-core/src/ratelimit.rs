//! Load shedding by address prefix, with global budgets shared fairly.
//!
//! Three limits, each in constant memory whatever the number of sources:
//!
//! * **per host** (an IPv4 /32 or an IPv6 /64): a token bucket per source, so one host cannot
//!   take more than [`RateLimit::per_host_per_second`]. Applies to every request; proven
//!   sources and strangers have separate tables, so strangers cannot drain a peer's bucket.
//! * **serving budget** for sources that have *not* proven their address (no valid token) and
//!   are not in our routing table: [`RateLimit::unproven_per_second`] requests per second in
//!   all, shared equally among the wide prefixes (IPv4 /24, IPv6 /48) active in the last
//!   second. A million spoofed or fresh sources in one prefix get one prefix's share; sources
//!   spread over many prefixes get the whole budget between them, never more.
//! * **signature budget** for stores from sources outside our routing table:
//!   [`RateLimit::signatures_per_second`] ed25519 checks per second, shared the same way.
//!   Routing-table peers (whose stores are re-replication) are not charged.
//!
//! Proven sources (a valid address token) and routing-table peers skip the serving budget:
//! they keep being answered however hard unproven sources flood. Buckets live in bounded tables
//! indexed by a keyed hash of the prefix (colliding prefixes share a bucket, which only makes
//! the limit stricter for them); the key is a per-node secret, so collisions cannot be aimed,
//! and a prefix table grows (to at most [`PREFIX_SLOTS_MAX`] buckets) while more than one
//! bucket in eight is active, so a prefix shares its bucket with another active one in about
//! one case in eight at worst, below the bound.

use crate::addr::Prefixes;
use crate::time::Time;

/// Rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per source host (IPv4 /32, IPv6 /64).
    pub per_host_per_second: f64,
    /// Burst size per source host.
    pub per_host_burst: f64,
    /// Requests per second from unproven sources outside the routing table, all together,
    /// shared equally among the active IPv4 /24 and IPv6 /48 prefixes.
    pub unproven_per_second: f64,
    /// Signature checks per second for stores from sources outside the routing table, all
    /// together, shared equally among the active wide prefixes.
    pub signatures_per_second: f64,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            per_host_per_second: 100.0,
            per_host_burst: 200.0,
            // About 5 µs of node CPU each: a fifth of a core at most for strangers.
            unproven_per_second: 40_000.0,
            // About 42 µs each (ed25519 strict verify): a tenth of a core at most.
            signatures_per_second: 2_500.0,
        }
    }
}

/// Buckets in the per-host table (16 bytes each, allocated on the first request).
const HOST_SLOTS: usize = 256;
/// Buckets a fair-share table starts with: a quiet node keeps its memory small.
const PREFIX_SLOTS_MIN: usize = 64;
/// Most buckets a fair-share table grows to (24 bytes each: 96 KiB) as more prefixes are
/// active at once, so that prefixes rarely share a bucket under a flood spread wide.
const PREFIX_SLOTS_MAX: usize = 4096;
/// How long a prefix counts as active after its last request.
const ACTIVITY_WINDOW_US: u64 = 1_000_000;

/// What a request is, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Presented a valid address token, or is in our routing table at this address.
    Proven,
    /// Neither.
    Unproven,
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shed {
    /// Its host is over its own rate.
    Host,
    /// Its prefix is over its share of the unproven-serving budget.
    Budget,
}

/// A token bucket in four bytes of tokens and eight of time.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    tokens: f32,
    last_us: u64,
}

impl Bucket {
    /// Refills at `rate` per second up to `burst` and takes one token if there is one.
    fn take(&mut self, now_us: u64, rate: f64, burst: f64) -> bool {
        let elapsed = now_us.saturating_sub(self.last_us) as f64 / 1e6;
        let tokens = (f64::from(self.tokens) + elapsed * rate).min(burst);
        self.last_us = now_us.max(self.last_us);
        if tokens >= 1.0 {
            self.tokens = (tokens - 1.0) as f32;
            true
        } else {
            self.tokens = tokens as f32;
            false
        }
    }
}

/// A bucket of a fair-share table, with when its prefix was last active.
#[derive(Debug, Clone, Copy, Default)]
struct ShareSlot {
    bucket: Bucket,
    active_until_us: u64,
}

/// A global rate shared equally among the prefixes active in the last second: each active
/// prefix refills at `rate / active` (max-min fairness without a queue). Counting is O(1): a
/// slot becomes active when touched after its window ended, and the active count is corrected
/// as windows lapse, lazily, from a small ring of expiry times.
#[derive(Debug, Clone)]
struct FairShare {
    rate: f64,
    slots: Vec<ShareSlot>,
    /// Ends of the activity windows counted in `active`: one entry per active slot, in the
    /// order they were queued (an extended window is re-queued when its old end comes).
    expiries: std::collections::VecDeque<(u64, u16)>,
    active: usize,
}

impl FairShare {
    fn new(rate: f64) -> FairShare {
        FairShare {
            rate,
            slots: Vec::new(),
            expiries: std::collections::VecDeque::new(),
            active: 0,
        }
    }

    /// Takes one unit for the prefix whose hash is `hash` at `now_us` if its share allows.
    fn take(&mut self, hash: u64, now_us: u64) -> bool {
        if self.slots.is_empty() {
            self.slots = vec![ShareSlot::default(); PREFIX_SLOTS_MIN];
        }
        self.lapse(now_us);
        // More than one bucket in eight busy: prefixes would start sharing them, so grow (the
        // buckets start afresh; a grown table stays grown).
        if self.active * 8 > self.slots.len() && self.slots.len() < PREFIX_SLOTS_MAX {
            self.slots = vec![ShareSlot::default(); self.slots.len() * 4];
            self.expiries.clear();
            self.active = 0;
        }
        let slot = (hash % self.slots.len() as u64) as usize;
        let entry = &mut self.slots[slot];
        if entry.active_until_us <= now_us {
            // Newly active: its bucket starts with one second of its share, and its window's
            // end is queued (once: a window extended later is re-queued when the old end comes).
            self.active += 1;
            let share = self.rate / self.active as f64;
            entry.bucket = Bucket {
                tokens: share.max(1.0) as f32,
                last_us: now_us,
            };
        }
        let newly_active = entry.active_until_us <= now_us;
        entry.active_until_us = now_us + ACTIVITY_WINDOW_US;
        if newly_active {
            self.expiries
                .push_back((entry.active_until_us, slot as u16));
        }
        let share = self.rate / self.active.max(1) as f64;
        entry.bucket.take(now_us, share, share.max(1.0))
    }

    /// Drops the prefixes whose activity window has ended from the active count.
    fn lapse(&mut self, now_us: u64) {
        while let Some(&(until, slot)) = self.expiries.front() {
            if until > now_us {
                break;
            }
            self.expiries.pop_front();
            let latest = self.slots[slot as usize].active_until_us;
            if latest > until {
                // Requests came since: the window was extended, so it ends later.
                self.expiries.push_back((latest, slot));
            } else {
                self.active = self.active.saturating_sub(1);
            }
        }
    }
}

/// The limiter. Allocates its tables on first use, so idle simulated nodes cost nothing.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    key: [u8; 32],
    /// Per-host buckets of proven sources and table peers, apart from strangers' so that a
    /// flood of strangers colliding in a bucket cannot drain a known peer's.
    proven_hosts: Vec<Bucket>,
    /// Per-host buckets of unproven sources.
    unproven_hosts: Vec<Bucket>,
    serving: FairShare,
    signatures: FairShare,
}

impl RateLimiter {
    /// A limiter; `key` (secret, per node) keeps attackers from aiming collisions.
    pub(crate) fn new(limit: RateLimit, key: [u8; 32]) -> RateLimiter {
        RateLimiter {
            limit,
            key,
            proven_hosts: Vec::new(),
            unproven_hosts: Vec::new(),
            serving: FairShare::new(limit.unproven_per_second),
            signatures: FairShare::new(limit.signatures_per_second),
        }
    }

    /// Whether a request from a source with `prefixes` and `standing` may be served now
    /// (charging it), or why not.
    pub(crate) fn admit(
        &mut self,
        prefixes: Prefixes,
        standing: Standing,
        now: Time,
    ) -> Result<(), Shed> {
        let host = (self.hash(prefixes.host) % HOST_SLOTS as u64) as usize;
        let (rate, burst) = (self.limit.per_host_per_second, self.limit.per_host_burst);
        let hosts = match standing {
            Standing::Proven => &mut self.proven_hosts,
            Standing::Unproven => &mut self.unproven_hosts,
        };
        if hosts.is_empty() {
            let full = Bucket {
                tokens: burst as f32,
                last_us: now.as_micros(),
            };
            *hosts = vec![full; HOST_SLOTS];
        }
        if !hosts[host].take(now.as_micros(), rate, burst) {
            return Err(Shed::Host);
        }
        if standing == Standing::Proven {
            return Ok(());
        }
        if self.serving.take(self.hash(prefixes.wide), now.as_micros()) {
            Ok(())
        } else {
            Err(Shed::Budget)
        }
    }

    /// Whether a signature check for a store from outside our routing table, from a source
    /// with `prefixes`, fits its prefix's share of the signature budget now (charging it).
    pub(crate) fn admit_signature_check(&mut self, prefixes: Prefixes, now: Time) -> bool {
        self.signatures
            .take(self.hash(prefixes.wide), now.as_micros())
    }

    /// A keyed hash of a prefix: without the node's key, nobody can pick prefixes that share
    /// a bucket with a chosen victim's.
    fn hash(&self, prefix: u128) -> u64 {
        let hash = blake3::keyed_hash(&self.key, &prefix.to_le_bytes());
        let bytes: [u8; 8] = hash.as_bytes()[..8].try_into().expect("32 bytes hold 8");
        u64::from_le_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(host: f64, burst: f64, unproven: f64) -> RateLimit {
        RateLimit {
            per_host_per_second: host,
            per_host_burst: burst,
            unproven_per_second: unproven,
            signatures_per_second: 100.0,
        }
    }

    fn source(host: u128) -> Prefixes {
        Prefixes {
            host,
            wide: host >> 8,
        }
    }

    #[test]
    fn a_host_gets_its_burst_then_its_sustained_rate() {
        let mut limiter = RateLimiter::new(limit(10.0, 5.0, 1e9), [42; 32]);
        let at = |ms| Time::from_millis(ms);
        let allowed = |l: &mut RateLimiter, t| {
            (0..20)
                .filter(|_| l.admit(source(1), Standing::Proven, t).is_ok())
                .count()
        };
        assert_eq!(allowed(&mut limiter, at(0)), 5);
        assert_eq!(
            allowed(&mut limiter, at(1000)),
            5,
            "refill is capped by the burst"
        );
        assert_eq!(allowed(&mut limiter, at(1500)), 5);
        assert_eq!(
            limiter.admit(source(1), Standing::Proven, at(1500)),
            Err(Shed::Host)
        );
        assert!(
            limiter
                .admit(source(0x1_00), Standing::Proven, at(1500))
                .is_ok()
        );
    }

    /// 1,000 hosts of one /24 flood as unproven sources; a proven source and an unproven
    /// host in another prefix keep being served.
    #[test]
    fn a_flooding_prefix_gets_one_share_of_the_unproven_budget() {
        let mut limiter = RateLimiter::new(limit(1e6, 1e6, 1000.0), [7; 32]);
        let (mut flood_served, mut other_served, mut proven_served) = (0, 0, 0);
        for ms in 0..2000u64 {
            let now = Time::from_millis(ms);
            for i in 0..50u128 {
                // Hosts 0xAA00..0xAAFF: one /24 (wide = 0xAA).
                let host = 0xAA00 | ((u128::from(ms as u32) * 50 + i) % 256);
                if limiter.admit(source(host), Standing::Unproven, now).is_ok() {
                    flood_served += 1;
                }
            }
            if ms % 10 == 0 {
                other_served += limiter
                    .admit(source(0xBB01), Standing::Unproven, now)
                    .is_ok() as u32;
                proven_served +=
                    limiter.admit(source(0xAA05), Standing::Proven, now).is_ok() as u32;
            }
        }
        // Two prefixes share 1,000/s: the flood gets about half over the 2 s (plus the first
        // second's allowance it got while alone), never the 50,000/s it sends.
        assert!((900..=2000).contains(&flood_served), "{flood_served}");
        assert_eq!(
            other_served, 200,
            "the quiet prefix is always within its share"
        );
        assert_eq!(proven_served, 200, "proven sources skip the budget");
    }

    #[test]
    fn many_prefixes_share_the_budget_and_never_exceed_it() {
        let mut limiter = RateLimiter::new(limit(1e6, 1e6, 1000.0), [9; 32]);
        let mut served = 0;
        for ms in 0..3000u64 {
            let now = Time::from_millis(ms);
            for p in 0..200u128 {
                if limiter
                    .admit(source(p << 8), Standing::Unproven, now)
                    .is_ok()
                {
                    served += 1;
                }
            }
        }
        // 200 prefixes × 200 requests/s each, against a 1,000/s budget for 3 s (plus the
        // first second's allowance as prefixes become active).
        assert!(served <= 4_500, "{served}");
        assert!(served >= 2_500, "{served}");
    }

    #[test]
    fn a_table_grows_as_prefixes_become_active_and_stays_bounded() {
        let mut limiter = RateLimiter::new(limit(1e6, 1e6, 1e6), [5; 32]);
        let _ = limiter.admit(source(1), Standing::Unproven, Time::ZERO);
        assert_eq!(limiter.serving.slots.len(), PREFIX_SLOTS_MIN);
        for p in 0..10_000u128 {
            let _ = limiter.admit(source(p << 8), Standing::Unproven, Time::ZERO);
        }
        assert_eq!(limiter.serving.slots.len(), PREFIX_SLOTS_MAX);
        assert!(limiter.serving.expiries.len() <= PREFIX_SLOTS_MAX);
        assert_eq!(limiter.unproven_hosts.len(), HOST_SLOTS);
        assert!(limiter.proven_hosts.is_empty(), "allocated on first use");
    }

    #[test]
    fn the_signature_budget_is_shared_by_prefix() {
        let budget = RateLimit {
            signatures_per_second: 1000.0,
            ..limit(1e6, 1e6, 1e6)
        };
        // A node key under which the light prefix shares no bucket with the flood's (hashing
        // makes that the common case, not a certainty: see the module notes).
        let flood = |p: u128| (p + 1) << 8;
        let honest_prefix = 0x00FF_FF00;
        let key = (0..=255u8)
            .map(|k| [k; 32])
            .find(|key| {
                let l = RateLimiter::new(budget, *key);
                // 51 active prefixes grow the table to 1,024 buckets (64 -> 256 -> 1,024).
                let slot = |p: u128| l.hash(p >> 8) % 1024;
                (0..50).all(|p| slot(flood(p)) != slot(honest_prefix))
            })
            .expect("some key separates them");
        let mut limiter = RateLimiter::new(budget, key);
        let mut honest = 0;
        for ms in 0..1000u64 {
            let now = Time::from_millis(ms);
            for p in 0..50u128 {
                limiter.admit_signature_check(source(flood(p)), now);
            }
            if ms % 100 == 0 {
                honest += limiter.admit_signature_check(source(honest_prefix), now) as u32;
            }
        }
        assert_eq!(
            honest, 10,
            "a light prefix is checked every time despite the flood"
        );
    }
}
