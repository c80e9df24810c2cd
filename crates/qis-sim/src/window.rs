//! One window of the parallel engine: what the nodes do between two barriers.
//!
//! Every datagram takes at least [`MIN_ONE_WAY_US`](super::network::MIN_ONE_WAY_US) to arrive,
//! and a window is never longer than that, so nothing a node sends in a window arrives in it: a
//! node's events of the window are the datagrams already on their way to it and its own timer.
//! Nodes therefore advance independently, each through its own events in order, and a window
//! can be cut into partitions of nodes run on different threads. Nothing a node does depends
//! on the cut: the order of its events is (time, sender, sender's datagram number), its
//! datagrams' jitter and loss are drawn from their sender and number, and what it reports to
//! the simulation (finished commands) is taken up at the barrier in (time, node) order. The
//! report is the same whatever the number of threads.
//!
//! Taking a window's events node by node is also what makes one thread fast: a node's state
//! is brought into the cache once for all its events of the window, in slot order.

use super::addresses::Addresses;
use super::adversary::{Adversaries, Intercept, Verdict};
use super::calendar::{Kind, NodeEvent};
use super::network::{Network, Site};
use super::random::{mix, unit_of};
use super::world::{NEVER, Slot, Traffic};
use qis_core::Duration;
use qis_core::wire::NetworkId;
use qis_core::{Endpoint, Event, OpId, OpResult, SimAddr, Time, Transmit};

/// Stream of the loss draws (the jitter draws use the seed itself).
const LOSS_STREAM: u64 = 0x6c6f_7373;

/// What every node of a window reads and nobody changes during it.
pub(crate) struct Shared<'a> {
    /// Every slot's addresses.
    pub addresses: &'a Addresses,
    /// The latency and loss model.
    pub network: &'a Network,
    /// Every slot's site.
    pub sites: &'a [Site],
    /// The run's seed.
    pub seed: u64,
    /// The protocol network's id (adversaries decode with it).
    pub network_id: NetworkId,
    /// Replication factor (how many colluders an adversary's lie names).
    pub k: usize,
}

/// A command that finished, taken up by the simulation at the barrier.
#[derive(Debug)]
pub(crate) struct Finished {
    /// When it finished.
    pub at: Time,
    /// The slot whose command it was.
    pub node: u32,
    /// The command.
    pub op: OpId,
    /// Its result.
    pub result: OpResult<SimAddr>,
}

/// What a partition produced in a window.
#[derive(Debug, Default)]
pub(crate) struct Out {
    /// New node events (all after the window).
    pub events: Vec<NodeEvent>,
    /// Finished commands, in the order each node finished them.
    pub finished: Vec<Finished>,
    /// Traffic counted.
    pub traffic: Traffic,
    /// Events processed (datagrams delivered, timers run).
    pub processed: u64,
    /// Scratch for one node's datagrams.
    transmits: Vec<Transmit<SimAddr>>,
}

impl Out {
    /// Moves what `other` produced into this one (events, finished commands, counts).
    pub(crate) fn absorb(&mut self, other: &mut Out) {
        self.events.append(&mut other.events);
        self.finished.append(&mut other.finished);
        self.traffic.add(&other.traffic);
        other.traffic = Traffic::default();
        self.processed += std::mem::take(&mut other.processed);
    }
}

/// Runs the window's `events` of the nodes in `slots` (slot `base` first), sorted by
/// [`NodeEvent::order`], up to `end`; adversaries intercept only when `adversaries` is given
/// (runs with adversaries use one partition: the interceptions share one state).
pub(crate) fn run_partition(
    slots: &mut [Slot],
    base: u32,
    events: &mut [NodeEvent],
    end: Time,
    shared: &Shared<'_>,
    out: &mut Out,
    mut adversaries: Option<&mut Adversaries>,
) {
    let mut i = 0;
    while i < events.len() {
        let index = events[i].to;
        let slot = &mut slots[(index - base) as usize];
        let wake_before = slot.next_wake;
        while i < events.len() && events[i].to == index {
            let event = &mut events[i];
            i += 1;
            let Kind::Deliver {
                payload,
                to_via,
                from_via,
            } = std::mem::replace(&mut event.kind, Kind::Wake)
            else {
                continue;
            };
            while slot.next_wake <= event.at {
                fire_wake(slot, index, shared, out);
            }
            let (at, from, seq) = (event.at, event.from, event.seq);
            deliver(
                slot,
                index,
                Arrival {
                    at,
                    from,
                    seq,
                    payload,
                    to_via,
                    from_via,
                },
                shared,
                out,
                adversaries.as_deref_mut(),
            );
        }
        while slot.next_wake < end {
            fire_wake(slot, index, shared, out);
        }
        note_wake(slot, index, wake_before, out);
    }
}

/// Files a mark for the node's next wake-up if it moved since `before` (the mark of the old
/// time, if any, is left to be visited in vain).
pub(crate) fn note_wake(slot: &Slot, index: u32, before: Time, out: &mut Out) {
    if slot.next_wake != before && slot.next_wake != NEVER {
        out.events.push(NodeEvent {
            at: slot.next_wake,
            to: index,
            from: index,
            seq: 0,
            kind: Kind::Wake,
        });
    }
}

/// A datagram reaching its receiver.
struct Arrival {
    at: Time,
    from: u32,
    seq: u32,
    payload: Vec<u8>,
    to_via: Endpoint,
    from_via: Endpoint,
}

/// Runs the node's timer (due now).
fn fire_wake(slot: &mut Slot, index: u32, shared: &Shared<'_>, out: &mut Out) {
    let now = slot.next_wake;
    slot.next_wake = NEVER;
    if let Some(core) = slot.node.as_mut() {
        out.processed += 1;
        core.handle_timeout(now);
        drain(slot, index, now, shared, out);
    }
}

/// Hands a datagram to its receiver: lost on the way (the Gilbert–Elliott state of the link
/// toward the receiver advances with each datagram it receives), dropped by an adversary, or
/// read by the core.
fn deliver(
    slot: &mut Slot,
    index: u32,
    d: Arrival,
    shared: &Shared<'_>,
    out: &mut Out,
    adversaries: Option<&mut Adversaries>,
) {
    if shared.network.lossy() {
        let unit = unit_of(
            mix(shared.seed, LOSS_STREAM),
            u64::from(d.from),
            u64::from(d.seq),
        );
        if shared.network.lost(&mut slot.burst_bad, unit) {
            out.traffic.lost += 1;
            return;
        }
    }
    if let Some(nat) = &slot.nat
        && !nat.contains(&crate::world::nat_key(d.from, d.from_via))
    {
        out.traffic.filtered += 1;
        return;
    }
    let source = shared.addresses.of_endpoint(d.from, d.from_via);
    if d.to_via == Endpoint::Main
        && let Some(adversaries) = adversaries
        && intercepted(slot, index, &d, source, shared, out, adversaries)
    {
        out.processed += 1;
        return;
    }
    let Some(node) = slot.node.as_mut() else {
        out.traffic.to_dead += 1;
        return;
    };
    out.processed += 1;
    match d.to_via {
        Endpoint::Main => node.handle_datagram(d.at, source, &d.payload),
        Endpoint::Audit => node.handle_audit_datagram(d.at, source, &d.payload),
    }
    drain(slot, index, d.at, shared, out);
}

/// Passes a datagram for an adversary through its attack; true if the attack dealt with it
/// (dropped it, or answered with a lie).
fn intercepted(
    slot: &mut Slot,
    index: u32,
    d: &Arrival,
    source: SimAddr,
    shared: &Shared<'_>,
    out: &mut Out,
    adversaries: &mut Adversaries,
) -> bool {
    let Some(attack) = slot.attack else {
        return false;
    };
    if slot.node.is_none() {
        return false;
    }
    let at = Intercept {
        slot: index,
        from: d.from,
        source,
        payload: &d.payload,
        network: shared.network_id,
        k: shared.k,
        now: d.at,
        addresses: shared.addresses,
    };
    match adversaries.intercept(attack, &at) {
        Verdict::Pass => false,
        Verdict::Drop => true,
        Verdict::Answer(bytes) => {
            let lie = Transmit {
                to: source,
                payload: bytes,
                via: Endpoint::Main,
            };
            send(slot, index, d.at, lie, shared, out);
            true
        }
    }
}

/// Takes everything slot `index` produced at `now`: its datagrams go on the network, its
/// finished commands to `out`, and its next deadline into `next_wake` if it moved earlier
/// (the caller files the mark: see [`note_wake`]).
pub(crate) fn drain(slot: &mut Slot, index: u32, now: Time, shared: &Shared<'_>, out: &mut Out) {
    let Some(node) = slot.node.as_mut() else {
        return;
    };
    let mut transmits = std::mem::take(&mut out.transmits);
    while let Some(t) = node.poll_transmit() {
        transmits.push(t);
    }
    while let Some(e) = node.poll_event() {
        if let Event::Finished { op, result } = e {
            out.finished.push(Finished {
                at: now,
                node: index,
                op,
                result,
            });
        }
    }
    if let Some(deadline) = node.poll_timeout() {
        let deadline = deadline.max(now);
        if deadline < slot.next_wake {
            slot.next_wake = deadline;
        }
    }
    for t in transmits.drain(..) {
        send(slot, index, now, t, shared, out);
    }
    out.transmits = transmits;
}

/// Puts a datagram from slot `from` on the network, to arrive after the modelled delay (loss
/// is decided on arrival).
fn send(
    slot: &mut Slot,
    from: u32,
    now: Time,
    t: Transmit<SimAddr>,
    shared: &Shared<'_>,
    out: &mut Out,
) {
    out.traffic.datagrams += 1;
    out.traffic.bytes += t.payload.len() as u64;
    // Decoded once more only to split the bytes by cause: every datagram was encoded by a
    // core of this run, so it decodes.
    if let Ok(message) = qis_core::wire::decode::<SimAddr>(&t.payload, shared.network_id) {
        out.traffic.causes += qis_core::wire::byte_causes(&message);
    }
    let Some((to, to_via)) = shared.addresses.endpoint(t.to) else {
        out.traffic.unaddressed += 1;
        return;
    };
    if to as usize >= shared.sites.len() {
        out.traffic.to_dead += 1;
        return;
    }
    if let Some(nat) = &mut slot.nat {
        nat.insert(crate::world::nat_key(to, to_via));
    }
    slot.sent = slot.sent.wrapping_add(1);
    let seq = slot.sent;
    let unit = unit_of(shared.seed, u64::from(from), u64::from(seq));
    let delay = shared.network.delay_us(
        &shared.sites[from as usize],
        &shared.sites[to as usize],
        unit,
    );
    out.events.push(NodeEvent {
        at: now + Duration::from_micros(delay),
        to,
        from,
        seq,
        kind: Kind::Deliver {
            payload: t.payload,
            to_via,
            from_via: t.via,
        },
    });
}
