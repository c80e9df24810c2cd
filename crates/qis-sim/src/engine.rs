//! The discrete-event engine: one queue of timed actions in virtual time. Ties are broken by a
//! sequence number, so the order of events, and hence every result, depends only on the seed.

use qis_core::{Endpoint, Time};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something the simulator does at a point in virtual time.
#[derive(Debug)]
pub(crate) enum Action {
    /// A datagram arrives at `to`, sent from `from`.
    Deliver {
        /// Receiving slot.
        to: u32,
        /// Sending slot (its address).
        from: u32,
        /// The encoded message, exactly as the core produced it.
        payload: Vec<u8>,
        /// The receiver's socket it is addressed to.
        to_via: Endpoint,
        /// The sender's socket it left from (with `from`, the source address).
        from_via: Endpoint,
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
    /// A test network stops here (see [`crate::TestNet::advance_to`]).
    Pause,
}

/// When an action happens, and where it waits. The heap moves these small entries around;
/// the actions themselves (a datagram's bytes among them) stay put in a slab.
#[derive(Debug)]
struct Scheduled {
    at: Time,
    seq: u64,
    /// Index of the action in the queue's slab.
    action: u32,
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

/// Width of one slot of the timing wheel.
const SLOT_MICROS: u64 = 1_000;
/// Slots in the wheel (a power of two): the wheel covers the next 8 virtual seconds, which
/// holds every datagram in flight and every request timeout; later actions wait in `far`.
const WHEEL_SLOTS: usize = 1 << 13;
/// Capacity an emptied slot keeps for reuse.
const KEEP_PER_SLOT: usize = 64;

/// The slot number (since time zero) that `at` falls in.
fn slot_of(at: Time) -> u64 {
    at.as_micros() / SLOT_MICROS
}

/// The event queue and the virtual clock.
///
/// A calendar queue: actions due within the wheel's horizon sit unsorted in 1 ms slots and only
/// the current slot is a (small) binary heap, so a push or pop costs O(1) plus a heap
/// operation over the few hundred events of one millisecond, instead of a heap operation over
/// every event in flight (which, at 100,000 nodes, missed the cache at every level). The order
/// is exactly the one a single heap would give: earliest first, ties in push order.
#[derive(Debug)]
pub(crate) struct EventQueue {
    /// Events of slot `cursor` (and any pushed for an earlier slot, which is due now).
    current: BinaryHeap<Scheduled>,
    /// Events of slots `cursor + 1 .. cursor + WHEEL_SLOTS`, at index `slot % WHEEL_SLOTS`.
    wheel: Vec<Vec<Scheduled>>,
    /// Events in `wheel`.
    in_wheel: usize,
    /// Events beyond the wheel's horizon.
    far: BinaryHeap<Scheduled>,
    /// The slot `current` holds.
    cursor: u64,
    actions: Vec<Option<Action>>,
    free: Vec<u32>,
    seq: u64,
    now: Time,
    processed: u64,
    /// Times are rounded up to a multiple of this many microseconds (1: not rounded).
    grid: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            current: BinaryHeap::new(),
            wheel: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            far: BinaryHeap::new(),
            cursor: 0,
            actions: Vec::new(),
            free: Vec::new(),
            seq: 0,
            now: Time::ZERO,
            processed: 0,
            grid: 1,
        }
    }
}

impl EventQueue {
    /// An empty queue at time zero.
    pub(crate) fn new() -> EventQueue {
        EventQueue::default()
    }

    /// An empty queue whose actions happen on a grid of `micros` microseconds: each is
    /// delayed to the next multiple. The simulation puts its own actions on the parallel
    /// engine's window boundaries, so that they never cut a window short.
    pub(crate) fn on_grid(micros: u64) -> EventQueue {
        EventQueue {
            grid: micros.max(1),
            ..EventQueue::default()
        }
    }

    /// The current virtual time (the time of the event being processed).
    pub(crate) fn now(&self) -> Time {
        self.now
    }

    /// Schedules `action` at `at` (never before now).
    pub(crate) fn push(&mut self, at: Time, action: Action) {
        let at = at.max(self.now);
        let at = Time::from_micros(at.as_micros().div_ceil(self.grid).saturating_mul(self.grid));
        self.seq += 1;
        let index = match self.free.pop() {
            Some(index) => {
                self.actions[index as usize] = Some(action);
                index
            }
            None => {
                self.actions.push(Some(action));
                (self.actions.len() - 1) as u32
            }
        };
        self.place(Scheduled {
            at,
            seq: self.seq,
            action: index,
        });
    }

    /// Files an entry in the current heap, the wheel or the far heap, by its time.
    fn place(&mut self, entry: Scheduled) {
        let slot = slot_of(entry.at);
        if slot <= self.cursor {
            self.current.push(entry);
        } else if slot - self.cursor < WHEEL_SLOTS as u64 {
            self.wheel[(slot % WHEEL_SLOTS as u64) as usize].push(entry);
            self.in_wheel += 1;
        } else {
            self.far.push(entry);
        }
    }

    /// Takes the earliest action and advances the clock to it.
    pub(crate) fn pop(&mut self) -> Option<(Time, Action)> {
        loop {
            if let Some(next) = self.current.pop() {
                let action = self.actions[next.action as usize].take()?;
                self.free.push(next.action);
                self.now = next.at;
                self.processed += 1;
                return Some((next.at, action));
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Moves the cursor to the next slot that holds anything and loads it into `current`.
    /// False when nothing is left anywhere.
    fn advance(&mut self) -> bool {
        if self.in_wheel == 0 {
            // Nothing within the horizon: jump straight to the far heap's first slot.
            let Some(first) = self.far.peek() else {
                return false;
            };
            self.cursor = slot_of(first.at).max(self.cursor + 1) - 1;
        }
        self.cursor += 1;
        let index = (self.cursor % WHEEL_SLOTS as u64) as usize;
        let bucket = &mut self.wheel[index];
        self.in_wheel -= bucket.len();
        self.current.extend(bucket.drain(..));
        // A busy slot gives its memory back, so the wheel's footprint stays near its events
        // in flight rather than its busiest millisecond times the number of slots.
        if bucket.capacity() > KEEP_PER_SLOT {
            *bucket = Vec::new();
        }
        // The horizon moved by one slot: far events that now fall inside it come in.
        let horizon = self.cursor + WHEEL_SLOTS as u64;
        while self.far.peek().is_some_and(|e| slot_of(e.at) < horizon) {
            let entry = self.far.pop().expect("peeked");
            self.place(entry);
        }
        true
    }

    /// The time of the earliest action, if any (without taking it).
    pub(crate) fn peek_time(&mut self) -> Option<Time> {
        loop {
            if let Some(next) = self.current.peek() {
                return Some(next.at);
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Moves the clock forward to `at` (the parallel engine's barrier: the nodes ran to `at`
    /// between two actions of this queue). Never moves it back.
    pub(crate) fn set_now(&mut self, at: Time) {
        self.now = self.now.max(at);
    }

    /// Events processed so far.
    pub(crate) fn processed(&self) -> u64 {
        self.processed
    }

    /// Events waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.in_wheel + self.far.len()
    }

    /// True when nothing is scheduled.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// The wheel, its horizon and the far heap together keep a single heap's order: earliest
    /// first, ties in push order, including events pushed while others are being taken.
    #[test]
    fn matches_a_single_sorted_order_across_slots_and_horizon() {
        let mut q = EventQueue::new();
        let mut expected: Vec<(u64, u64)> = Vec::new();
        let mut seq = 0u64;
        // A spread from microseconds to hours, with many ties.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for _ in 0..5000 {
            let at = match next() % 4 {
                0 => next() % 2_000,
                1 => next() % 70_000_000,
                2 => next() % 10_000_000_000,
                _ => (next() % 50) * 1_000,
            };
            seq += 1;
            expected.push((at, seq));
            q.push(Time::from_micros(at), Action::Wake { node: seq as u32 });
        }
        let mut taken = Vec::new();
        while let Some((at, action)) = q.pop() {
            let Action::Wake { node } = action else {
                unreachable!()
            };
            taken.push((at.as_micros(), u64::from(node)));
            // Now and then schedule more while running, some at `now` itself.
            if node % 7 == 0 && seq < 8000 {
                seq += 1;
                let later = at.as_micros() + (next() % 3) * (next() % 100_000_000);
                expected.push((later, seq));
                q.push(Time::from_micros(later), Action::Wake { node: seq as u32 });
            }
        }
        expected.sort();
        assert_eq!(taken, expected);
        assert!(q.is_empty());
    }
}
