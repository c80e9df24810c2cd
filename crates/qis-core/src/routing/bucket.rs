//! One k-bucket: up to k live entries in least-recently-seen order, plus a small replacement
//! cache of nodes that answered while the bucket was full.

use crate::addr::PeerAddr;
use crate::constants::REPLACEMENT_CACHE;
use crate::id::Id;
use crate::time::{CoarseTime, Time};
use crate::wire::Token;

/// A node in the routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<A> {
    /// Its id.
    pub id: Id,
    /// Where it answered from.
    pub addr: A,
    /// When it last answered one of our requests (to the second).
    pub last_seen: CoarseTime,
    /// Requests it failed to answer (after retries) since it last answered.
    pub failures: u8,
    /// The latest address token it gave us.
    pub token: Option<Token>,
    /// When it gave us that token (to the second, rounded down, so its age is never
    /// underestimated).
    pub token_at: CoarseTime,
}

impl<A: PeerAddr> Entry<A> {
    /// A node that has just answered.
    pub fn answered(id: Id, addr: A, now: Time, token: Option<Token>) -> Entry<A> {
        Entry {
            id,
            addr,
            last_seen: CoarseTime::from_time(now),
            failures: 0,
            token,
            token_at: CoarseTime::from_time(now),
        }
    }
}

/// A k-bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket<A> {
    /// Live entries, least recently seen first.
    pub entries: Vec<Entry<A>>,
    /// Nodes waiting for a place, most recent last.
    pub replacements: Vec<Entry<A>>,
    /// Last time a lookup targeted this bucket or one of its nodes answered.
    pub last_activity: Time,
}

impl<A: PeerAddr> Bucket<A> {
    pub(super) fn new(now: Time) -> Bucket<A> {
        Bucket {
            entries: Vec::new(),
            replacements: Vec::new(),
            last_activity: now,
        }
    }

    pub(super) fn position(&self, id: &Id) -> Option<usize> {
        self.entries.iter().position(|e| e.id == *id)
    }

    /// Marks `entries[at]` as just seen: it moves to the most-recently-seen end.
    pub(super) fn refresh(&mut self, at: usize, addr: A, now: Time, token: Option<Token>) {
        let mut entry = self.entries.remove(at);
        entry.last_seen = CoarseTime::from_time(now);
        entry.failures = 0;
        entry.addr = addr;
        if let Some(t) = token {
            entry.token = Some(t);
            entry.token_at = CoarseTime::from_time(now);
        }
        self.entries.push(entry);
        self.last_activity = now;
    }

    /// Remembers `entry` as a replacement (deduplicated, newest kept).
    pub(super) fn add_replacement(&mut self, entry: Entry<A>) {
        self.replacements.retain(|r| r.id != entry.id);
        if self.replacements.len() >= REPLACEMENT_CACHE {
            self.replacements.remove(0);
        }
        push_bounded(&mut self.replacements, entry, REPLACEMENT_CACHE);
    }

    /// Removes `entries[at]` and promotes `replacements[promote]` into its place, if given
    /// (the table chooses it: only it can count entries per address across buckets).
    pub(super) fn evict(&mut self, at: usize, promote: Option<usize>) {
        self.entries.remove(at);
        if let Some(chosen) = promote {
            self.promote(chosen);
        }
    }

    /// Moves `replacements[at]` into the live entries (most recently seen end).
    pub(super) fn promote(&mut self, at: usize) {
        let replacement = self.replacements.remove(at);
        self.entries.push(replacement);
    }
}

/// Pushes onto a vector that never holds more than `limit` items, growing its allocation no
/// further than `limit`: a doubling `Vec` would leave a full 20-entry bucket with room for 32,
/// and a simulator holding a million routing tables pays for that slack in gigabytes.
pub(crate) fn push_bounded<T>(items: &mut Vec<T>, item: T, limit: usize) {
    if items.len() == items.capacity() {
        // Not `clamp(4, limit)`: that panics for a limit below 4 (a bucket size of 1 to 3 is a
        // legitimate setting).
        let wanted = (items.capacity() * 2).max(4).min(limit.max(1));
        items.reserve_exact(wanted.saturating_sub(items.len()).max(1));
    }
    items.push(item);
}

#[cfg(test)]
mod tests {
    use super::push_bounded;

    #[test]
    fn bounded_pushes_never_reserve_past_small_limits() {
        for limit in 1..=6 {
            let mut items = Vec::new();
            for n in 0..limit {
                push_bounded(&mut items, n, limit);
            }
            assert_eq!(items.len(), limit);
            assert!(items.capacity() <= limit.max(4), "limit {limit}");
        }
    }
}
