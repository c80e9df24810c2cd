//! A test network with time, for node-level tests: a few real protocol cores on the
//! simulator's event engine and network model, driven step by step by a test.
//!
//! Unlike a loop that hands every datagram over at one fixed `now`, a [`TestNet`] moves virtual
//! time: each datagram arrives after its link's one-way delay (fixed per link, or drawn from the
//! wide-area model of [`NetworkConfig`]), may be lost, and timers fire when their deadline
//! comes. A test can stall a request ([`TestNet::drop_next`]), slow a link so an answer comes
//! after the retry ([`TestNet::set_latency`]), let minutes pass for token rotation
//! ([`TestNet::advance`]), make a node answer garbage ([`TestNet::garble_from`]), inject raw
//! datagrams and read every datagram that was delivered ([`TestNet::delivered`]).
//!
//! Every run is bounded: [`TestNet::run_until_finished`] gives up after a virtual-time limit.

use crate::engine::{Action, EventQueue};
use crate::network::{Network, NetworkConfig, Site};
use crate::random::{SimRng, mix, open_unit, stream};
use qis_core::{
    Config, Credentials, Duration, Endpoint, Event, Identity, Node, NodeSecret, OpId, OpResult,
    PublicKey, SimAddr, Time,
};
use rand::RngExt;
use std::collections::{BTreeMap, VecDeque};

/// The one-way delay of every link unless set otherwise: 10 ms (20 ms round trips).
pub const DEFAULT_ONE_WAY: Duration = Duration::from_millis(10);

/// Most events one call may process before it gives up: a guard against a test that never
/// goes quiet.
const MAX_EVENTS_PER_CALL: usize = 1_000_000;

/// A datagram the network delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// When it arrived.
    pub at: Time,
    /// Sender.
    pub from: SimAddr,
    /// Receiver.
    pub to: SimAddr,
    /// The bytes, exactly as the receiver got them.
    pub payload: Vec<u8>,
}

/// Counters of what the network did with datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounts {
    /// Datagrams handed to the network by nodes or injected by the test.
    pub sent: u64,
    /// Delivered to a node.
    pub delivered: u64,
    /// Lost to the loss model.
    pub lost: u64,
    /// Dropped by [`TestNet::drop_next`].
    pub dropped: u64,
    /// Replaced with garbage by [`TestNet::garble_from`].
    pub garbled: u64,
    /// Addressed to no node.
    pub to_nobody: u64,
    /// Dropped by the NAT of a node behind one ([`TestNet::put_behind_nat`]): from an address
    /// the node never sent to.
    pub filtered: u64,
}

/// One node of the test network.
#[derive(Debug)]
struct Member {
    node: Node<SimAddr>,
    identity: Identity,
    site: Site,
    /// The wake-up currently scheduled; any other queued wake-up is stale.
    next_wake: Option<Time>,
    events: VecDeque<Event<SimAddr>>,
    burst_bad: bool,
    /// Behind a NAT: the addresses (socket included) it has sent to, the only ones whose
    /// datagrams reach it. `None`: reachable by anyone.
    nat: Option<std::collections::BTreeSet<u32>>,
}

/// A handful of real protocol cores on a virtual network. Addresses are `SimAddr(index)` in
/// the order nodes were added: `0.0.0.0/8`, a local test network that the routing table's
/// address limits exempt, as they do loopback.
#[derive(Debug)]
pub struct TestNet {
    seed: u64,
    members: Vec<Member>,
    queue: EventQueue,
    model: Network,
    rng: SimRng,
    /// `None`: delays come from the wide-area model.
    default_one_way: Option<Duration>,
    links: BTreeMap<(u32, u32), Duration>,
    drops: BTreeMap<(u32, u32), u32>,
    garbling: Vec<bool>,
    delivered: Vec<Delivered>,
    counts: NetCounts,
}

impl TestNet {
    /// An empty network whose links all have [`DEFAULT_ONE_WAY`] delay and no loss.
    pub fn new(seed: u64) -> TestNet {
        let mut net = TestNet::with_model(seed, NetworkConfig::default());
        net.default_one_way = Some(DEFAULT_ONE_WAY);
        net
    }

    /// An empty network whose delays and loss come from the simulator's wide-area model.
    pub fn with_model(seed: u64, config: NetworkConfig) -> TestNet {
        let mut calibration = stream(seed, 101);
        TestNet {
            seed,
            members: Vec::new(),
            queue: EventQueue::new(),
            model: Network::new(config, &mut calibration),
            rng: stream(seed, 102),
            default_one_way: None,
            links: BTreeMap::new(),
            drops: BTreeMap::new(),
            garbling: Vec::new(),
            delivered: Vec::new(),
            counts: NetCounts::default(),
        }
    }

    /// Adds a node with `config`, a key and a secret derived from the seed and its index, and
    /// returns its address.
    pub fn add_node(&mut self, config: Config) -> SimAddr {
        let index = self.members.len() as u64;
        let key = derive(self.seed, index, "qis-sim testnet key");
        self.add_node_with(config, Identity::from_secret_key(key))
    }

    /// Adds a node with `config` and `identity`, proving itself in the modelled scheme (its id
    /// is `identity.id()`), and returns its address.
    pub fn add_node_with(&mut self, config: Config, identity: Identity) -> SimAddr {
        let credentials = Credentials::modelled(identity.public_key());
        self.add_node_with_credentials(config, identity, credentials)
    }

    /// Adds a node with `config` proving itself with `credentials` (real ones, for tests of
    /// the real scheme), `identity` being the key they hold; returns its address.
    pub fn add_node_with_credentials(
        &mut self,
        config: Config,
        identity: Identity,
        credentials: Credentials,
    ) -> SimAddr {
        let index = self.members.len() as u32;
        let secret = NodeSecret::from_bytes(derive(self.seed, u64::from(index), "qis-sim testnet"));
        let mut node = Node::new(config, secret, credentials, self.now());
        crate::set_wall_clock(&mut node, self.now());
        let site = self.model.site(&mut self.rng);
        self.members.push(Member {
            node,
            identity,
            site,
            next_wake: None,
            events: VecDeque::new(),
            burst_bad: false,
            nat: None,
        });
        self.garbling.push(false);
        self.flush(index);
        SimAddr(index)
    }

    /// Adds `count` nodes with `config` and joins each through node 0 (the first joins
    /// nothing). Returns their addresses.
    pub fn add_joined_nodes(&mut self, count: usize, config: &Config) -> Vec<SimAddr> {
        let mut added = Vec::with_capacity(count);
        for _ in 0..count {
            let addr = self.add_node(config.clone());
            if addr.0 > 0 {
                let op = self.command(addr, |node, now| node.bootstrap(now, &[SimAddr(0)]));
                self.run_until_finished(addr, op, Duration::from_secs(120));
            }
            added.push(addr);
        }
        added
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.queue.now()
    }

    /// The node at `addr`.
    pub fn node(&self, addr: SimAddr) -> &Node<SimAddr> {
        &self.members[addr.0 as usize].node
    }

    /// The identity of the node at `addr` (to sign records or forge its answers).
    pub fn identity(&self, addr: SimAddr) -> &Identity {
        &self.members[addr.0 as usize].identity
    }

    /// The public key of the node at `addr`.
    pub fn public_key(&self, addr: SimAddr) -> PublicKey {
        self.node(addr).public_key()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no node was added.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Sets the one-way delay of the link from `a` to `b` and back.
    pub fn set_latency(&mut self, a: SimAddr, b: SimAddr, one_way: Duration) {
        self.links.insert((a.0, b.0), one_way);
        self.links.insert((b.0, a.0), one_way);
    }

    /// Puts the node at `addr` behind a port-restricted NAT: from now on a datagram reaches it
    /// only from an address (and socket) it has sent to, as a home router's conntrack lets
    /// through only the answers to what went out.
    pub fn put_behind_nat(&mut self, addr: SimAddr) {
        self.members[addr.0 as usize].nat = Some(Default::default());
    }

    /// Drops the next `count` datagrams sent from `from` to `to`.
    pub fn drop_next(&mut self, from: SimAddr, to: SimAddr, count: u32) {
        *self.drops.entry((from.0, to.0)).or_default() += count;
    }

    /// From now on, every datagram `addr` sends arrives as garbage: same length, protocol
    /// version byte kept (so it reaches the decoder), every other byte random.
    pub fn garble_from(&mut self, addr: SimAddr) {
        self.garbling[addr.0 as usize] = true;
    }

    /// Runs `f` on the node at `addr` at the current time (a command such as `ping` or
    /// `find_node`), sends what it queued, and returns what `f` returned.
    pub fn command<T>(
        &mut self,
        addr: SimAddr,
        f: impl FnOnce(&mut Node<SimAddr>, Time) -> T,
    ) -> T {
        let now = self.now();
        let result = f(&mut self.members[addr.0 as usize].node, now);
        self.flush(addr.0);
        result
    }

    /// Sends raw bytes from `from` to `to` now, as if `from` had sent them (through the same
    /// link, delay and loss).
    pub fn inject(&mut self, from: SimAddr, to: SimAddr, payload: Vec<u8>) {
        self.send(from.0, Endpoint::Main, to, payload);
    }

    /// Events the node at `addr` raised since the last call.
    pub fn take_events(&mut self, addr: SimAddr) -> Vec<Event<SimAddr>> {
        self.members[addr.0 as usize].events.drain(..).collect()
    }

    /// Every datagram delivered so far, in order.
    pub fn delivered(&self) -> &[Delivered] {
        &self.delivered
    }

    /// What the network did with datagrams so far.
    pub fn counts(&self) -> NetCounts {
        self.counts
    }

    /// Processes every event up to and including `until`, then stops there (the clock reads
    /// `until` afterwards).
    pub fn advance_to(&mut self, until: Time) {
        let until = until.max(self.now());
        self.queue.push(until, Action::Pause);
        for _ in 0..MAX_EVENTS_PER_CALL {
            match self.queue.pop() {
                Some((_, Action::Pause)) | None => return,
                Some((_, action)) => self.dispatch(action),
            }
        }
        panic!("test network: more than {MAX_EVENTS_PER_CALL} events before {until:?}");
    }

    /// Lets `by` of virtual time pass.
    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.now() + by);
    }

    /// Advances to the earliest timer deadline of any node and processes it. Returns that
    /// time, or `None` if no timer is armed (datagrams in flight are delivered either way).
    pub fn advance_to_next_deadline(&mut self) -> Option<Time> {
        let next = self
            .members
            .iter()
            .filter_map(|m| m.node.poll_timeout())
            .min()?;
        self.advance_to(next);
        Some(next)
    }

    /// Runs until the node at `addr` finishes command `op`, for at most `limit` of virtual
    /// time; returns its result (`None` if it did not finish in time). Events of other
    /// commands stay queued for [`TestNet::take_events`].
    pub fn run_until_finished(
        &mut self,
        addr: SimAddr,
        op: OpId,
        limit: Duration,
    ) -> Option<OpResult<SimAddr>> {
        let deadline = self.now() + limit;
        loop {
            if let Some(result) = self.take_finished(addr, op) {
                return Some(result);
            }
            if self.now() >= deadline {
                return None;
            }
            // Step in small slices so the command's end is seen soon after it happens.
            let step = (self.now() + Duration::from_millis(10)).min(deadline);
            self.advance_to(step);
        }
    }

    fn take_finished(&mut self, addr: SimAddr, op: OpId) -> Option<OpResult<SimAddr>> {
        let events = &mut self.members[addr.0 as usize].events;
        let position = events
            .iter()
            .position(|e| matches!(e, Event::Finished { op: id, .. } if *id == op))?;
        match events.remove(position) {
            Some(Event::Finished { result, .. }) => Some(result),
            _ => None,
        }
    }

    fn dispatch(&mut self, action: Action) {
        match action {
            Action::Deliver {
                to,
                from,
                payload,
                to_via,
                from_via,
            } => {
                let now = self.now();
                self.counts.delivered += 1;
                let source = endpoint_address(from, from_via);
                self.delivered.push(Delivered {
                    at: now,
                    from: source,
                    to: endpoint_address(to, to_via),
                    payload: payload.clone(),
                });
                let member = &mut self.members[to as usize];
                match to_via {
                    Endpoint::Main => member.node.handle_datagram(now, source, &payload),
                    Endpoint::Audit => member.node.handle_audit_datagram(now, source, &payload),
                }
                self.flush(to);
            }
            Action::Wake { node } => {
                let now = self.now();
                let member = &mut self.members[node as usize];
                if member.next_wake != Some(now) {
                    return; // a stale wake-up: the deadline moved since it was queued
                }
                member.next_wake = None;
                member.node.handle_timeout(now);
                self.flush(node);
            }
            // The simulator's membership and workload actions never enter a test network.
            Action::Join { .. } | Action::SessionEnd { .. } | Action::Workload | Action::Pause => {}
        }
    }

    /// Sends what the node at `index` queued, keeps its events, and schedules its next wake-up.
    fn flush(&mut self, index: u32) {
        let mut outgoing = Vec::new();
        {
            let member = &mut self.members[index as usize];
            while let Some(t) = member.node.poll_transmit() {
                outgoing.push(t);
            }
            while let Some(event) = member.node.poll_event() {
                member.events.push_back(event);
            }
        }
        for t in outgoing {
            self.send(index, t.via, t.to, t.payload);
        }
        let member = &mut self.members[index as usize];
        let deadline = member.node.poll_timeout();
        if deadline != member.next_wake {
            member.next_wake = deadline;
            if let Some(at) = deadline {
                self.queue.push(at, Action::Wake { node: index });
            }
        }
    }

    fn send(&mut self, from: u32, from_via: Endpoint, to: SimAddr, mut payload: Vec<u8>) {
        self.counts.sent += 1;
        if let Some(sent_to) = self
            .members
            .get_mut(from as usize)
            .and_then(|m| m.nat.as_mut())
        {
            sent_to.insert(to.0);
        }
        let (to, to_via) = endpoint_of(to);
        if to.0 as usize >= self.members.len() {
            self.counts.to_nobody += 1;
            return;
        }
        let source = endpoint_address(from, from_via).0;
        if self.members[to.0 as usize]
            .nat
            .as_ref()
            .is_some_and(|sent_to| !sent_to.contains(&source))
        {
            self.counts.filtered += 1;
            return;
        }
        if let Some(left) = self.drops.get_mut(&(from, to.0))
            && *left > 0
        {
            *left -= 1;
            self.counts.dropped += 1;
            return;
        }
        let receiver = &mut self.members[to.0 as usize];
        if self.model.lossy()
            && self
                .model
                .lost(&mut receiver.burst_bad, open_unit(&mut self.rng))
        {
            self.counts.lost += 1;
            return;
        }
        if self.garbling.get(from as usize).copied().unwrap_or(false) {
            self.counts.garbled += 1;
            for byte in payload.iter_mut().skip(1) {
                *byte = self.rng.random();
            }
        }
        let delay = match self
            .links
            .get(&(from, to.0))
            .copied()
            .or(self.default_one_way)
        {
            Some(fixed) => fixed,
            None => {
                let (a, b) = (
                    &self.members[from as usize].site,
                    &self.members[to.0 as usize].site,
                );
                Duration::from_micros(self.model.delay_us(a, b, open_unit(&mut self.rng)))
            }
        };
        let at = self.now() + delay;
        self.queue.push(
            at,
            Action::Deliver {
                to: to.0,
                from,
                payload,
                to_via,
                from_via,
            },
        );
    }
}

/// A member's audit socket is at its index plus this (still in the local test network
/// `0.0.0.0/8`, far above any member's index).
const AUDIT_OFFSET: u32 = 0x0080_0000;

/// The address of member `index`'s socket `via`.
fn endpoint_address(index: u32, via: Endpoint) -> SimAddr {
    match via {
        Endpoint::Main => SimAddr(index),
        Endpoint::Audit => SimAddr(index + AUDIT_OFFSET),
    }
}

/// The member address and socket behind `addr`.
fn endpoint_of(addr: SimAddr) -> (SimAddr, Endpoint) {
    match addr.0.checked_sub(AUDIT_OFFSET) {
        Some(index) if index < AUDIT_OFFSET => (SimAddr(index), Endpoint::Audit),
        _ => (addr, Endpoint::Main),
    }
}

/// 32 bytes derived from the seed, an index and a purpose.
fn derive(seed: u64, index: u64, purpose: &str) -> [u8; 32] {
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(&mix(seed, index).to_le_bytes());
    input[8..].copy_from_slice(&index.to_le_bytes());
    blake3::derive_key(purpose, &input)
}
