//! The nodes' events: datagrams in flight and wake-up marks, filed by the millisecond of their
//! arrival. The parallel engine takes one millisecond (one window) at a time, so the order
//! within a slot is left to the window, which sorts by node (see `window`).

use super::network::MIN_ONE_WAY_US;
use qis_core::{Endpoint, Time};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What happens to a node.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A datagram arrives.
    Deliver {
        /// The encoded message, exactly as the core produced it.
        payload: Vec<u8>,
        /// The receiver's socket it is addressed to.
        to_via: Endpoint,
        /// The sender's socket it left from.
        from_via: Endpoint,
    },
    /// The node's timer may be due in this window: a mark that makes the window visit the
    /// node; the node's own `next_wake` says when (a stale mark visits in vain).
    Wake,
}

/// One event of one node. Its order among a node's events is (`at`, `from`, `seq`): it
/// depends only on who sent what, never on which thread ran the sender.
#[derive(Debug)]
pub(crate) struct NodeEvent {
    /// When it happens.
    pub at: Time,
    /// The receiving slot.
    pub to: u32,
    /// The sending slot (the node itself for a wake-up mark).
    pub from: u32,
    /// The sender's datagram number (0 for a wake-up mark).
    pub seq: u32,
    /// What it is.
    pub kind: Kind,
}

impl NodeEvent {
    /// The order a window processes its events in: by node, then by time, sender, number.
    pub(crate) fn order(&self) -> (u32, Time, u32, u32) {
        (self.to, self.at, self.from, self.seq)
    }
}

/// Width of one slot: the lookahead, so that one slot is at most one window.
pub(crate) const SLOT_MICROS: u64 = MIN_ONE_WAY_US;
/// Slots in the wheel (a power of two): 8 virtual seconds, which holds every datagram in
/// flight and most timers; later events wait in a heap.
const WHEEL_SLOTS: u64 = 1 << 13;
/// Capacity an emptied slot keeps for reuse.
const KEEP_PER_SLOT: usize = 64;

/// The slot (since time zero) that `at` falls in.
pub(crate) fn slot_of(at: Time) -> u64 {
    at.as_micros() / SLOT_MICROS
}

/// The start of slot `slot`.
pub(crate) fn slot_start(slot: u64) -> Time {
    Time::from_micros(slot.saturating_mul(SLOT_MICROS))
}

/// An event beyond the wheel, ordered earliest first in a max-heap.
#[derive(Debug)]
struct Far(NodeEvent);

impl PartialEq for Far {
    fn eq(&self, other: &Self) -> bool {
        self.0.at == other.0.at
    }
}
impl Eq for Far {}
impl PartialOrd for Far {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Far {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.at.cmp(&self.0.at)
    }
}

/// The calendar of node events.
#[derive(Debug)]
pub(crate) struct Calendar {
    /// Slot `cursor + i` at index `(cursor + i) % WHEEL_SLOTS`, for `i < WHEEL_SLOTS`.
    wheel: Vec<Vec<NodeEvent>>,
    in_wheel: usize,
    far: BinaryHeap<Far>,
    /// The earliest slot that may hold anything.
    cursor: u64,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            wheel: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            far: BinaryHeap::new(),
            cursor: 0,
        }
    }
}

impl Calendar {
    /// Files `event` (never earlier than the cursor's slot).
    pub(crate) fn push(&mut self, event: NodeEvent) {
        debug_assert!(
            slot_of(event.at) >= self.cursor,
            "an event behind the cursor"
        );
        let slot = slot_of(event.at).max(self.cursor);
        if slot - self.cursor < WHEEL_SLOTS {
            self.wheel[(slot % WHEEL_SLOTS) as usize].push(event);
            self.in_wheel += 1;
        } else {
            self.far.push(Far(event));
        }
    }

    /// The earliest slot holding anything, if it is not after slot `limit`; moves the cursor
    /// there (or, when nothing is due by then, no further than `limit`). The limit is the slot
    /// of the simulation's next own action: what that action sends must not find the cursor
    /// already past it.
    pub(crate) fn next_slot(&mut self, limit: Option<u64>) -> Option<u64> {
        let limit = limit.unwrap_or(u64::MAX);
        loop {
            if self.in_wheel == 0 {
                let first = slot_of(self.far.peek()?.0.at).max(self.cursor);
                if first > limit {
                    self.cursor = self.cursor.max(limit);
                    self.pull_far();
                    return None;
                }
                self.cursor = first;
                self.pull_far();
                continue;
            }
            if !self.wheel[(self.cursor % WHEEL_SLOTS) as usize].is_empty() {
                return Some(self.cursor);
            }
            if self.cursor >= limit {
                return None;
            }
            self.cursor += 1;
            self.pull_far();
        }
    }

    /// Brings far events that now fall within the wheel's horizon into it.
    fn pull_far(&mut self) {
        let horizon = self.cursor + WHEEL_SLOTS;
        while self.far.peek().is_some_and(|e| slot_of(e.0.at) < horizon) {
            let Some(Far(event)) = self.far.pop() else {
                break;
            };
            self.push(event);
        }
    }

    /// Moves the events of the cursor's slot due before `end` into `into` (in no particular
    /// order); later ones stay.
    pub(crate) fn take(&mut self, end: Time, into: &mut Vec<NodeEvent>) {
        let index = (self.cursor % WHEEL_SLOTS) as usize;
        let bucket = &mut self.wheel[index];
        let before = into.len();
        if end >= slot_start(self.cursor + 1) {
            into.append(bucket);
        } else {
            let mut i = 0;
            while i < bucket.len() {
                if bucket[i].at < end {
                    into.push(bucket.swap_remove(i));
                } else {
                    i += 1;
                }
            }
        }
        self.in_wheel -= into.len() - before;
        // A busy slot gives its memory back, so the wheel's footprint stays near its events in
        // flight rather than its busiest millisecond times the number of slots.
        if bucket.is_empty() && bucket.capacity() > KEEP_PER_SLOT {
            *bucket = Vec::new();
        }
    }

    /// Events waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.in_wheel + self.far.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wake(at: u64, to: u32) -> NodeEvent {
        NodeEvent {
            at: Time::from_micros(at),
            to,
            from: to,
            seq: 0,
            kind: Kind::Wake,
        }
    }

    /// Slots come out in time order, near and far, and a split slot keeps its later events.
    #[test]
    fn slots_in_order_and_split_windows() {
        let mut c = Calendar::default();
        for (i, at) in [5_500u64, 100, 20_000_000, 900, 5_100, 3_600_000_000]
            .into_iter()
            .enumerate()
        {
            c.push(wake(at, i as u32));
        }
        let mut taken = Vec::new();
        let mut take = |c: &mut Calendar, end: Option<u64>| {
            let slot = c.next_slot(None)?;
            let end = end.map_or(slot_start(slot + 1), Time::from_micros);
            taken.clear();
            c.take(end, &mut taken);
            assert!(taken.iter().all(|e| e.at < end && slot_of(e.at) == slot));
            Some((slot, taken.len()))
        };
        assert_eq!(take(&mut c, None), Some((0, 2)));
        assert_eq!(take(&mut c, Some(5_300)), Some((5, 1)));
        assert_eq!(take(&mut c, None), Some((5, 1)));
        assert_eq!(take(&mut c, None), Some((20_000, 1)));
        assert_eq!(take(&mut c, None), Some((3_600_000, 1)));
        assert_eq!(take(&mut c, None), None);
    }

    /// The cursor never runs past the limit (the next action of the simulation), so what that
    /// action schedules before the next node event is filed in its own slot, not later.
    #[test]
    fn the_cursor_stops_at_the_limit() {
        let mut c = Calendar::default();
        c.push(wake(3_600_000_000, 1));
        assert_eq!(c.next_slot(Some(3_000)), None);
        c.push(wake(3_050_000, 2));
        assert_eq!(c.next_slot(Some(3_000)), None);
        assert_eq!(c.next_slot(None), Some(3_050));
        let mut taken = Vec::new();
        c.take(slot_start(3_051), &mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(c.next_slot(None), Some(3_600_000));
        c.take(slot_start(3_600_001), &mut taken);
        assert_eq!(c.len(), 0);
    }
}
