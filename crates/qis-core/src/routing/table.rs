//! The routing table proper. Only nodes that answered one of our requests are admitted, at most
//! `max_per_host` per IP address and, per wide prefix (IPv4 /24, IPv6 /48),
//! `max_per_prefix_in_bucket` per bucket and `max_per_prefix_in_table` in all; a full bucket
//! keeps its old entries (long-lived nodes are the most likely to stay) and parks newcomers in
//! a replacement cache until an entry fails. A replacement is promoted only if the limits
//! still admit it then.
//!
//! A prefix that holds its share of the table keeps it in the buckets closest to us: a node of
//! it with room in a deeper bucket than one of its entries takes that entry's place, and the
//! shallow bucket refills from its replacements. Deep buckets have the fewest candidates (a
//! node's neighbourhood), shallow ones many; in the simulator's clustered address model this
//! halves the tables left short by the limits and brings lookup success back to what it is
//! without them. The prefix's count never exceeds its share, and only its own entries move.

use super::bucket::{Bucket, Entry, push_bounded};
use crate::addr::PeerAddr;
use crate::constants::{
    DEFAULT_MAX_PER_IP, DEFAULT_MAX_PER_PREFIX_IN_BUCKET, DEFAULT_MAX_PER_PREFIX_IN_TABLE, K,
};
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
    /// Entries of one bucket that may share one wide prefix (IPv4 /24, IPv6 /48); 0 means no
    /// limit.
    pub max_per_prefix_in_bucket: usize,
    /// Entries of the whole table that may share one wide prefix; 0 means no limit.
    pub max_per_prefix_in_table: usize,
    /// Apply the limits to loopback addresses too. Off by default: nodes on loopback are all on
    /// this machine (a local test network), never Sybils from afar. Tests that mount an attack
    /// from many loopback addresses turn it on, to meet the limits as a real network would.
    pub limit_local: bool,
}

impl TableConfig {
    /// True when no address limit is set, so admissions need not count anything.
    fn unlimited(&self) -> bool {
        self.max_per_host == 0
            && self.max_per_prefix_in_bucket == 0
            && self.max_per_prefix_in_table == 0
    }
}

impl Default for TableConfig {
    fn default() -> TableConfig {
        TableConfig {
            bucket_size: K,
            max_per_host: DEFAULT_MAX_PER_IP,
            max_per_prefix_in_bucket: DEFAULT_MAX_PER_PREFIX_IN_BUCKET,
            max_per_prefix_in_table: DEFAULT_MAX_PER_PREFIX_IN_TABLE,
            limit_local: false,
        }
    }
}

impl TableConfig {
    /// True if the address limits apply to a node at `addr`: any address but a local one,
    /// and local ones too when `limit_local` is set.
    pub fn limits<A: crate::addr::PeerAddr>(&self, addr: &A) -> bool {
        self.limit_local || !addr.exempt_from_host_limit()
    }
}

/// Why the table refused a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It has our own id.
    OwnId,
    /// Its IP address has `max_per_host` entries already.
    HostLimit,
    /// Its wide prefix has `max_per_prefix_in_bucket` entries in its bucket, or
    /// `max_per_prefix_in_table` in the table, already.
    PrefixLimit,
}

/// Which address limit a newcomer is over (the first, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Host,
    PrefixInBucket,
    PrefixInTable,
}

impl Limit {
    fn refusal(self) -> Refusal {
        match self {
            Limit::Host => Refusal::HostLimit,
            Limit::PrefixInBucket | Limit::PrefixInTable => Refusal::PrefixLimit,
        }
    }
}

/// How many entries share a candidate's IP address and wide prefix.
#[derive(Debug, Clone, Copy, Default)]
struct Crowding {
    host: usize,
    prefix_in_bucket: usize,
    prefix_in_table: usize,
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
    /// Refused: our own id, or too many entries for its IP address or wide prefix.
    Refused(Refusal),
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

    /// Counts the entries other than `except` that share `addr`'s IP address, and its wide
    /// prefix in bucket `index` and in the whole table (one pass over the table).
    fn crowding(&self, addr: &A, index: usize, except: Option<&Id>) -> Crowding {
        let (host, prefix) = (addr.host_key(), addr.prefixes().wide);
        let mut count = Crowding::default();
        for (at, bucket) in self.buckets.iter().enumerate() {
            for e in bucket.entries.iter().filter(|e| Some(&e.id) != except) {
                count.host += usize::from(e.addr.host_key() == host);
                if e.addr.prefixes().wide == prefix {
                    count.prefix_in_table += 1;
                    count.prefix_in_bucket += usize::from(at == index);
                }
            }
        }
        count
    }

    /// The limit a node at `addr` is over for a place in bucket `index` now (not counting the
    /// entry `except`, which is about to leave), if any. Loopback addresses are exempt unless
    /// the configuration says otherwise: they are all on this machine, never a Sybil from afar.
    fn limit_over(&self, addr: &A, index: usize, except: Option<&Id>) -> Option<Limit> {
        let limits = &self.config;
        if limits.unlimited() || !limits.limits(addr) {
            return None;
        }
        let count = self.crowding(addr, index, except);
        let over = |limit: usize, count: usize| limit > 0 && count >= limit;
        if over(limits.max_per_host, count.host) {
            Some(Limit::Host)
        } else if over(limits.max_per_prefix_in_bucket, count.prefix_in_bucket) {
            Some(Limit::PrefixInBucket)
        } else if over(limits.max_per_prefix_in_table, count.prefix_in_table) {
            Some(Limit::PrefixInTable)
        } else {
            None
        }
    }

    /// For a newcomer at `addr` whose wide prefix holds its share of the table, the place of
    /// that prefix's entry in the shallowest bucket above `index` (bucket, position), if any:
    /// a deeper bucket has fewer candidates to fill it, so the prefix's share goes to the
    /// entries closest to us, and the shallow bucket refills from its many candidates.
    fn shallower_of_prefix(&self, addr: &A, index: usize) -> Option<(usize, usize)> {
        let prefix = addr.prefixes().wide;
        self.buckets
            .iter()
            .take(index)
            .enumerate()
            .find_map(|(at, bucket)| {
                let position = bucket
                    .entries
                    .iter()
                    .position(|e| e.addr.prefixes().wide == prefix);
                position.map(|position| (at, position))
            })
    }

    /// Checks a newcomer at `addr` for bucket `index` against the address limits. One over its
    /// prefix's share of the table only, with room in its bucket, displaces that prefix's
    /// entry in the shallowest bucket above: the bucket to refill once the newcomer is in.
    fn clear_limits(&mut self, addr: &A, index: usize) -> Result<Option<usize>, Refusal> {
        match self.limit_over(addr, index, None) {
            None => Ok(None),
            Some(Limit::PrefixInTable) if self.bucket_len(index) < self.config.bucket_size => {
                let (shallow, at) = self
                    .shallower_of_prefix(addr, index)
                    .ok_or(Refusal::PrefixLimit)?;
                self.buckets[shallow].evict(at, None);
                self.len -= 1;
                Ok(Some(shallow))
            }
            Some(limit) => Err(limit.refusal()),
        }
    }

    /// Fills a free place of bucket `index` with its newest admissible replacement, if any.
    fn refill(&mut self, index: usize) {
        if let Some(at) = self.admissible_replacement(index, None) {
            self.buckets[index].promote(at);
            self.len += 1;
        }
    }

    /// Offers a node that has just answered one of our requests from `addr`.
    pub fn on_answer(&mut self, id: Id, addr: A, now: Time, token: Option<Token>) -> Admission<A> {
        if id == self.local {
            return Admission::Refused(Refusal::OwnId);
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
        let displaced_from = match self.clear_limits(&addr, index) {
            Ok(displaced_from) => displaced_from,
            Err(refusal) => return Admission::Refused(refusal),
        };
        let entry = Entry::answered(id, addr, now, token);
        let bucket = self.bucket_mut(index, now);
        bucket.last_activity = now;
        if bucket.entries.len() < bucket_size {
            push_bounded(&mut bucket.entries, entry, bucket_size);
            self.len += 1;
            if let Some(shallow) = displaced_from {
                self.refill(shallow);
            }
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
    /// replacement that the address limits admit in its place is evicted at once; without one
    /// it stays (our own link may be the problem) but is skipped once unreliable. Returns true
    /// if it was evicted.
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
        let Some(replacement) = self.admissible_replacement(index, Some(id)) else {
            return false;
        };
        self.buckets[index].evict(at, Some(replacement));
        true
    }

    /// The newest replacement of bucket `index` that the address limits admit (once the entry
    /// `leaving`, if any, is gone): its position in the replacement cache.
    fn admissible_replacement(&self, index: usize, leaving: Option<&Id>) -> Option<usize> {
        let bucket = &self.buckets[index];
        (0..bucket.replacements.len()).rev().find(|&at| {
            let addr = &bucket.replacements[at].addr;
            self.limit_over(addr, index, leaving).is_none()
        })
    }

    /// Removes `id` outright (it proved to be someone else, or left).
    pub fn remove(&mut self, id: &Id) -> bool {
        let index = self.bucket_index(id);
        let Some(at) = self.buckets.get(index).and_then(|b| b.position(id)) else {
            return false;
        };
        let replacement = self.admissible_replacement(index, Some(id));
        self.buckets[index].evict(at, replacement);
        self.recount();
        true
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
