//! Periodic upkeep, run every [`super::MAINTENANCE_TICK`]: rotate the token secret, expire
//! records, refresh idle buckets, re-replicate held records and republish our own.

use super::Node;
use crate::addr::PeerAddr;
use crate::id::Id;
use crate::time::Time;
use crate::wire::Role;

impl<A: PeerAddr> Node<A> {
    pub(super) fn maintain(&mut self, now: Time) {
        if self.config.role != Role::Node {
            // A client in the automatic role keeps republishing what it published.
            if self.config.auto_role {
                self.republish(now);
            }
            return;
        }
        let secrets = &mut self.secrets;
        self.tokens.rotate_if_due(now, || secrets.next_bytes());
        self.metrics.records_expired += self.store.expire(now) as u64;
        self.refresh_idle_buckets(now);
        self.replicate(now);
        self.republish(now);
    }

    fn refresh_idle_buckets(&mut self, now: Time) {
        if self.table.is_empty() {
            return;
        }
        for index in self.table.stale_buckets(now, self.config.refresh_interval) {
            self.refresh_bucket(now, index);
        }
    }

    /// Stores each held record again at the current k closest, unless someone stored it here
    /// within the interval (then another holder is already doing it).
    fn replicate(&mut self, now: Time) {
        for (key, records) in self
            .store
            .due_for_replication(now, self.config.replicate_interval)
        {
            let op = self.new_op();
            self.start_put(now, op, key, records, false, false);
        }
    }

    /// Starts internal lookups of a random id in each bucket shallower than the one holding
    /// `closest` (the nearest node found when joining).
    pub(super) fn refresh_below(&mut self, now: Time, closest: Option<Id>) {
        let Some(closest) = closest else { return };
        let deepest = self.table.bucket_index(&closest);
        for index in 0..deepest {
            if self.table.bucket_len(index) >= self.config.k {
                continue;
            }
            self.refresh_bucket(now, index);
        }
    }

    /// Looks up a random id in bucket `index` to fill it.
    fn refresh_bucket(&mut self, now: Time, index: usize) {
        let random: [u8; 32] = rand::RngExt::random(&mut self.rng);
        let target = self.id.random_at_prefix(index.min(255), random);
        let op = self.new_op();
        self.start_find_node(now, op, target, false);
    }

    fn republish(&mut self, now: Time) {
        let interval = self.config.republish_interval;
        let mut due = Vec::new();
        for published in self.published.values_mut() {
            if published.next <= now {
                published.next = now + interval;
                due.push((published.key, published.record.clone()));
            }
        }
        for (key, record) in due {
            let op = self.new_op();
            self.start_put(now, op, key, vec![record], false, true);
        }
    }
}
