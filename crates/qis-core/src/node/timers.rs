//! The node's timers, by name. Many request deadlines and one maintenance tick reduce to the one
//! earliest deadline a driver sleeps until ([`super::Node::poll_timeout`]).

use crate::time::Time;
use crate::wire::TxId;
use std::collections::BTreeSet;

/// A timer the node can arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The deadline of one outstanding request attempt (retry or give up).
    Request(TxId),
    /// Periodic upkeep: token rotation, expiry, refresh, replication, republish.
    Maintenance,
    /// The next reachability step: a check, a check's deadline or the address watch.
    Reach,
}

/// Every armed timer and when it fires.
#[derive(Debug, Default)]
pub(super) struct Timers {
    // Ordered by deadline, then transaction id, so expiry order is deterministic.
    requests: BTreeSet<(Time, TxId)>,
    maintenance: Option<Time>,
    reach: Option<Time>,
}

impl Timers {
    /// Arms `timer` to fire at `at`. A request timer is identified by its deadline too, so
    /// stopping it later needs the same `at`.
    pub(super) fn set(&mut self, timer: Timer, at: Time) {
        match timer {
            Timer::Request(txid) => {
                self.requests.insert((at, txid));
            }
            Timer::Maintenance => self.maintenance = Some(at),
            Timer::Reach => self.reach = Some(at),
        }
    }

    /// Disarms `timer`, armed for `at`.
    pub(super) fn stop(&mut self, timer: Timer, at: Time) {
        match timer {
            Timer::Request(txid) => {
                self.requests.remove(&(at, txid));
            }
            Timer::Maintenance => self.maintenance = None,
            Timer::Reach => self.reach = None,
        }
    }

    /// The earliest armed deadline.
    pub(super) fn next_deadline(&self) -> Option<Time> {
        let request = self.requests.first().map(|(at, _)| *at);
        [request, self.maintenance, self.reach]
            .into_iter()
            .flatten()
            .min()
    }

    /// Disarms and returns the earliest request timer due at `now`, if any.
    pub(super) fn pop_expired_request(&mut self, now: Time) -> Option<TxId> {
        let &(at, txid) = self.requests.first()?;
        if at > now {
            return None;
        }
        self.requests.pop_first();
        Some(txid)
    }

    /// True (and disarmed) if the reachability timer is due at `now`.
    pub(super) fn take_reach(&mut self, now: Time) -> bool {
        take_due(&mut self.reach, now)
    }

    /// True (and disarmed) if the maintenance timer is due at `now`.
    pub(super) fn take_maintenance(&mut self, now: Time) -> bool {
        take_due(&mut self.maintenance, now)
    }
}

/// True (and disarmed) if the single-deadline timer `slot` is due at `now`.
fn take_due(slot: &mut Option<Time>, now: Time) -> bool {
    let due = slot.is_some_and(|at| at <= now);
    if due {
        *slot = None;
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn the_next_deadline_is_the_earliest_of_every_timer() {
        let mut timers = Timers::default();
        assert_eq!(timers.next_deadline(), None);
        let t = |ms| Time::ZERO + Duration::from_millis(ms);
        timers.set(Timer::Maintenance, t(50));
        timers.set(Timer::Request(TxId(1)), t(80));
        timers.set(Timer::Request(TxId(2)), t(20));
        assert_eq!(timers.next_deadline(), Some(t(20)));
        timers.stop(Timer::Request(TxId(2)), t(20));
        assert_eq!(timers.next_deadline(), Some(t(50)));
        assert!(!timers.take_maintenance(t(49)));
        assert!(timers.take_maintenance(t(50)));
        assert_eq!(timers.next_deadline(), Some(t(80)));
        assert_eq!(timers.pop_expired_request(t(79)), None);
        assert_eq!(timers.pop_expired_request(t(80)), Some(TxId(1)));
        assert_eq!(timers.next_deadline(), None);
    }
}
