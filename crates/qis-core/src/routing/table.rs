//! The routing table proper. Only nodes that answered one of our requests are admitted, at most
//! `max_per_host` per IP address; a full bucket keeps its old entries (long-lived nodes are the
//! most likely to stay) and parks newcomers in a replacement cache until an entry fails.

use super::bucket::{Bucket, Entry, push_bounded};
use crate::addr::PeerAddr;
use crate::constants::{DEFAULT_MAX_PER_IP, K};
use crate::id::{Distance, Id};
use crate::time::{Duration, Time};
use crate::wire::{Contact, Token};

/// Failures after which an entry is skipped when choosing nodes to ask or to tell others about.
const UNRELIABLE_FAILURES: u8 = 2;

/// Routing-table settings.
#[derive(Debug, Clone, Copy)]
pub struct TableConfig {
    /// Entries per bucket (k).
    pub bucket_size: usize,
    /// Entries that may share one IP address; 0 means no limit.
    pub max_per_host: usize,
}

impl Default for TableConfig {
    fn default() -> TableConfig {
        TableConfig {
            bucket_size: K,
            max_per_host: DEFAULT_MAX_PER_IP,
        }
    }
}

/// What happened when a node that answered was offered to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission<A> {
    /// It was already there and is now most recently seen.
    Refreshed,
    /// It took a free place.
    Inserted,
    /// The bucket is full; it waits in the replacement cache. The caller should ping
    /// `least_recent` and report a failure if it does not answer (ping-before-evict).
    Parked {
        /// The least recently seen entry of the full bucket.
        least_recent: Contact<A>,
        /// When it last answered us.
        least_recent_seen: Time,
    },
    /// Refused: our own id, or too many entries for its IP address.
    Refused,
}

/// k-buckets indexed by common prefix length with the local id.
#[derive(Debug, Clone)]
pub struct RoutingTable<A> {
    local: Id,
    config: TableConfig,
    buckets: Vec<Bucket<A>>,
    len: usize,
}

impl<A: PeerAddr> RoutingTable<A> {
    /// An empty table around `local`.
    pub fn new(local: Id, config: TableConfig) -> RoutingTable<A> {
        RoutingTable {
            local,
            config,
            buckets: Vec::new(),
            len: 0,
        }
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bucket index for `id`: its common prefix length with the local id.
    pub fn bucket_index(&self, id: &Id) -> usize {
        self.local.common_prefix_len(id)
    }

    /// Number of bucket slots in use (one past the deepest bucket touched).
    pub fn depth(&self) -> usize {
        self.buckets.len()
    }

    /// Entries in bucket `index`.
    pub fn bucket_len(&self, index: usize) -> usize {
        self.buckets.get(index).map_or(0, |b| b.entries.len())
    }

    fn bucket_mut(&mut self, index: usize, now: Time) -> &mut Bucket<A> {
        while self.buckets.len() <= index {
            self.buckets.push(Bucket::new(now));
        }
        &mut self.buckets[index]
    }

    /// Looks up an entry.
    pub fn get(&self, id: &Id) -> Option<&Entry<A>> {
        let bucket = self.buckets.get(self.bucket_index(id))?;
        bucket.entries.iter().find(|e| e.id == *id)
    }

    fn host_count(&self, addr: &A) -> usize {
        let host = addr.host_key();
        self.buckets
            .iter()
            .flat_map(|b| &b.entries)
            .filter(|e| e.addr.host_key() == host)
            .count()
    }

    /// Offers a node that has just answered one of our requests from `addr`.
    pub fn on_answer(&mut self, id: Id, addr: A, now: Time, token: Option<Token>) -> Admission<A> {
        if id == self.local {
            return Admission::Refused;
        }
        let index = self.bucket_index(&id);
        let bucket_size = self.config.bucket_size;
        if let Some(at) = self.buckets.get(index).and_then(|b| b.position(&id)) {
            let bucket = &mut self.buckets[index];
            // A known node answering from a new address keeps its old one unless the old one
            // has been failing: an impostor cannot move a live node.
            let addr = if bucket.entries[at].failures == 0 {
                bucket.entries[at].addr
            } else {
                addr
            };
            bucket.refresh(at, addr, now, token);
            return Admission::Refreshed;
        }
        if self.config.max_per_host > 0
            && !addr.exempt_from_host_limit()
            && self.host_count(&addr) >= self.config.max_per_host
        {
            return Admission::Refused;
        }
        let entry = Entry::answered(id, addr, now, token);
        let bucket = self.bucket_mut(index, now);
        bucket.last_activity = now;
        if bucket.entries.len() < bucket_size {
            push_bounded(&mut bucket.entries, entry, bucket_size);
            self.len += 1;
            return Admission::Inserted;
        }
        // Replace a failing entry at once; otherwise park the newcomer and ask the caller to
        // check the least recently seen entry.
        if let Some(at) = bucket
            .entries
            .iter()
            .position(|e| e.failures >= UNRELIABLE_FAILURES)
        {
            bucket.entries.remove(at);
            bucket.entries.push(entry);
            return Admission::Inserted;
        }
        bucket.add_replacement(entry);
        let lrs = bucket.entries[0];
        Admission::Parked {
            least_recent: Contact {
                id: lrs.id,
                addr: lrs.addr,
            },
            least_recent_seen: lrs.last_seen.to_time(),
        }
    }

    /// Records that `id` did not answer a request (after retries). An entry with a waiting
    /// replacement is evicted at once; without one it stays (our own link may be the problem)
    /// but is skipped once unreliable. Returns true if it was evicted.
    pub fn on_failure(&mut self, id: &Id) -> bool {
        let index = self.bucket_index(id);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        let Some(at) = bucket.position(id) else {
            bucket.replacements.retain(|r| r.id != *id);
            return false;
        };
        bucket.entries[at].failures = bucket.entries[at].failures.saturating_add(1);
        if bucket.replacements.is_empty() {
            return false;
        }
        bucket.evict(at);
        true
    }

    /// Removes `id` outright (it proved to be someone else, or left).
    pub fn remove(&mut self, id: &Id) -> bool {
        let index = self.bucket_index(id);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        match bucket.position(id) {
            Some(at) => {
                bucket.evict(at);
                self.recount();
                true
            }
            None => false,
        }
    }

    fn recount(&mut self) {
        self.len = self.buckets.iter().map(|b| b.entries.len()).sum();
    }

    /// Notes that a lookup went through the bucket of `target` (it counts as fresh).
    pub fn touch(&mut self, target: &Id, now: Time) {
        let index = self.bucket_index(target);
        if let Some(bucket) = self.buckets.get_mut(index) {
            bucket.last_activity = now;
        }
    }

    /// The valid token `id` gave us, if it is younger than `max_age`.
    pub fn token_for(&self, id: &Id, now: Time, max_age: Duration) -> Option<Token> {
        let entry = self.get(id)?;
        let token = entry.token?;
        (now.saturating_since(entry.token_at.to_time()) < max_age).then_some(token)
    }

    /// Up to `count` reliable entries closest to `target`, closest first. Walks the buckets in
    /// distance order (the target's own bucket, then deeper ones, then shallower ones), so it
    /// visits only a few buckets instead of the whole table.
    pub fn closest(&self, target: &Id, count: usize) -> Vec<Entry<A>> {
        // Distances and positions only: entries are copied out once, for the chosen few.
        let mut found: Vec<(Distance, u32, u32)> = Vec::with_capacity(count * 2);
        let take = |index: usize, found: &mut Vec<(Distance, u32, u32)>| {
            for (at, e) in self.buckets[index].entries.iter().enumerate() {
                if e.failures < UNRELIABLE_FAILURES {
                    found.push((e.id.distance(target), index as u32, at as u32));
                }
            }
        };
        let home = self.bucket_index(target).min(self.buckets.len());
        // Every node in the home bucket is closer than any node elsewhere.
        if home < self.buckets.len() {
            take(home, &mut found);
        }
        // Deeper buckets all differ from the target first at bit `home`: one group.
        if found.len() < count {
            for index in home + 1..self.buckets.len() {
                take(index, &mut found);
            }
        }
        // Shallower buckets, nearest first; each is farther than everything before it.
        for index in (0..home).rev() {
            if found.len() >= count {
                break;
            }
            take(index, &mut found);
        }
        // Only the `count` closest need ordering: select them first (distances are unique).
        if found.len() > count && count > 0 {
            found.select_nth_unstable_by(count - 1, |a, b| a.0.cmp(&b.0));
        }
        found.truncate(count);
        found.sort_unstable_by_key(|entry| entry.0);
        found
            .into_iter()
            .map(|(_, b, at)| self.buckets[b as usize].entries[at as usize])
            .collect()
    }

    /// Buckets with no activity since `now - max_idle`, shallowest first (their indices).
    pub fn stale_buckets(&self, now: Time, max_idle: Duration) -> Vec<usize> {
        (0..self.buckets.len())
            .filter(|&i| now.saturating_since(self.buckets[i].last_activity) >= max_idle)
            .collect()
    }

    /// Every live entry (bucket order).
    pub fn entries(&self) -> impl Iterator<Item = &Entry<A>> {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }
}

#[cfg(test)]
mod tests;
