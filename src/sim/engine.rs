//! The discrete-event engine: one queue of timed actions in virtual time. Ties are broken by a
//! sequence number, so the order of events, and hence every result, depends only on the seed.

use crate::time::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something the simulator does at a point in virtual time.
#[derive(Debug)]
pub enum Action {
    /// A datagram arrives at `to`, sent from `from`.
    Deliver {
        /// Receiving slot.
        to: u32,
        /// Sending slot (its address).
        from: u32,
        /// The encoded message, exactly as the core produced it.
        payload: Vec<u8>,
    },
    /// A node's timer may be due. Entries are invalidated lazily: the slot remembers the one
    /// wake-up that is current, and any other is skipped.
    Wake {
        /// The slot.
        node: u32,
    },
    /// A node starts and joins the network.
    Join {
        /// The slot.
        node: u32,
    },
    /// A node's session ends (it crashes or leaves).
    SessionEnd {
        /// The slot.
        node: u32,
    },
    /// The next workload step (a lookup, a put or a get) is due.
    Workload,
}

/// When an action happens, and where it waits. The heap moves these small entries around;
/// the actions themselves (a datagram's bytes among them) stay put in a slab.
#[derive(Debug)]
struct Scheduled {
    at: Time,
    seq: u64,
    slot: u32,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so the max-heap yields the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The event queue and the virtual clock.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    actions: Vec<Option<Action>>,
    free: Vec<u32>,
    seq: u64,
    now: Time,
    processed: u64,
}

impl EventQueue {
    /// An empty queue at time zero.
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// The current virtual time (the time of the event being processed).
    pub fn now(&self) -> Time {
        self.now
    }

    /// Schedules `action` at `at` (never before now).
    pub fn push(&mut self, at: Time, action: Action) {
        let at = at.max(self.now);
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.actions[slot as usize] = Some(action);
                slot
            }
            None => {
                self.actions.push(Some(action));
                (self.actions.len() - 1) as u32
            }
        };
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            slot,
        });
    }

    /// Takes the earliest action and advances the clock to it.
    pub fn pop(&mut self) -> Option<(Time, Action)> {
        let next = self.heap.pop()?;
        let action = self.actions[next.slot as usize].take()?;
        self.free.push(next.slot);
        self.now = next.at;
        self.processed += 1;
        Some((next.at, action))
    }

    /// Events processed so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_push_order() {
        let mut q = EventQueue::new();
        q.push(Time::from_millis(5), Action::Wake { node: 1 });
        q.push(Time::from_millis(2), Action::Wake { node: 2 });
        q.push(Time::from_millis(5), Action::Wake { node: 3 });
        let order: Vec<u32> = std::iter::from_fn(|| q.pop())
            .map(|(_, a)| match a {
                Action::Wake { node } => node,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![2, 1, 3]);
        assert_eq!(q.now(), Time::from_millis(5));
        assert_eq!(q.processed(), 3);
    }
}
