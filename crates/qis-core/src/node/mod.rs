//! The sans-IO protocol core. A [`Node`] never reads a clock, opens a socket or draws OS
//! randomness: it is driven by [`Node::handle_datagram`], [`Node::handle_timeout`] and commands
//! (bootstrap, find_node, get, put, ping), each given `now`; it is drained by
//! [`Node::poll_transmit`], [`Node::poll_timeout`] (the one earliest deadline) and
//! [`Node::poll_event`]. The UDP driver and the simulator run this same code.

mod command;
mod config;
mod event;
mod held;
mod hosts;
mod maintenance;
mod notice;
mod reach;
mod requests;
mod responses;
mod serve;
mod store_plan;
mod timers;

pub use config::{Config, MAINTENANCE_TICK, MAX_STORES_IN_FLIGHT, MAX_VERIFICATIONS};
pub use event::{
    BootstrapReport, Endpoint, Event, GetReport, OpId, OpResult, PingReply, PutReport, Transmit,
};
pub use held::RestoreReport;

use crate::addr::PeerAddr;
use crate::id::Id;
use crate::metrics::Metrics;
use crate::proof::{Credentials, ProofChecker};
use crate::ratelimit::RateLimiter;
use crate::record::{PublicKey, RecordId, SignedRecord};
use crate::routing::RoutingTable;
use crate::rtt::RttEstimator;
use crate::secret::{BEHAVIOUR_PURPOSE, NodeSecret, SECRETS_PURPOSE, SecretStream, TXIDS_PURPOSE};
use crate::store::RecordStore;
use crate::time::Time;
use crate::token::TokenMinter;
use crate::wire::{self, Body, TxId, WireError};
use command::Command;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use requests::Pending;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use timers::{Timer, Timers};

/// A record this node published and republishes.
#[derive(Debug, Clone)]
struct Published {
    key: Id,
    record: SignedRecord,
    next: Time,
}

/// One DHT node's protocol state.
#[derive(Debug)]
pub struct Node<A: PeerAddr> {
    config: Config,
    /// Our key, id work and id: what we prove ourselves with.
    credentials: Credentials,
    /// Checks others' identity proofs (in our credentials' scheme).
    checker: ProofChecker,
    id: Id,
    /// The client identity audits of our puts go out under (see [`Endpoint::Audit`]): drawn
    /// at start, never linked to `id` on the wire.
    audit_id: Id,
    /// Token secrets and the rate limiter's salt: never on the wire.
    secrets: SecretStream,
    /// Transaction ids: on the wire, unpredictable, independent of `secrets`.
    txids: SecretStream,
    /// Everything else random (refresh targets, maintenance phase): fast, not secret.
    rng: Xoshiro256PlusPlus,
    table: RoutingTable<A>,
    store: RecordStore,
    /// By key and content id: publishing the same content again replaces its record.
    published: BTreeMap<(Id, RecordId), Published>,
    tokens: TokenMinter,
    rtt: RttEstimator,
    limiter: Option<RateLimiter>,
    // A B-tree rather than a hash map: it frees its nodes as requests complete, where a hash
    // map keeps the capacity of its busiest moment (kilobytes per node in a large simulation).
    pending: BTreeMap<TxId, Box<Pending<A>>>,
    timers: Timers,
    // Boxed: a command is taken out of the map and put back on every answer, and moving a
    // pointer is cheaper than moving a lookup's whole state through the tree's nodes.
    commands: BTreeMap<OpId, Box<Command<A>>>,
    /// Set while a maintenance lookup sends its requests, which are padded to also cover the
    /// responder's verification ping of us (see `Node::step_lookup`).
    announcing: bool,
    /// Set while a maintenance command (join, refresh, re-replication, republish) sends: its
    /// datagrams yield first to the upload budget.
    maintaining: bool,
    /// The upload budget, if `Config::max_upload` sets one.
    upload: Option<crate::upload::UploadBudget>,
    next_op: u64,
    verifying: BTreeSet<Id>,
    evict_checks: BTreeSet<Id>,
    transmits: VecDeque<Transmit<A>>,
    events: VecDeque<Event<A>>,
    metrics: Metrics,
    notices: notice::NoticeBudget,
    /// Hosts that answered us, and first contacts to those that did not (see [`hosts`]).
    hosts: hosts::Hosts,
    /// The wall clock as last told by the driver: (`now`, seconds since the Unix epoch then).
    wall_clock: Option<(Time, u64)>,
    /// Reachability checks, in the automatic role (`Config::auto_role`).
    reach: Option<crate::reach::Reach<A>>,
}

impl<A: PeerAddr> Node<A> {
    /// A node proving itself with `credentials` (its id is theirs, and it checks others' proofs
    /// in their scheme), started at `now`. Its token secrets, transaction ids, challenges and
    /// random choices all derive from `secret` through independent keys (see [`NodeSecret`]):
    /// pass OS entropy on a real network.
    pub fn new(
        mut config: Config,
        secret: NodeSecret,
        credentials: Credentials,
        now: Time,
    ) -> Node<A> {
        let max_upload = config.max_upload;
        // An automatic role starts as a client, so no other node holds us before we know
        // that strangers can reach us.
        let reach = config.auto_role.then(|| {
            config.role = wire::Role::Client;
            let mut reach = crate::reach::Reach::new(config.address_watch);
            reach.due_at(now + crate::constants::REACH_FIRST_CHECK);
            reach
        });
        let id = credentials.id();
        let mut secrets = SecretStream::new(&secret, SECRETS_PURPOSE);
        let txids = SecretStream::new(&secret, TXIDS_PURPOSE);
        let mut rng = Xoshiro256PlusPlus::from_seed(secret.derive(BEHAVIOUR_PURPOSE));
        let tokens = TokenMinter::new(secrets.next_bytes(), secrets.next_bytes(), now);
        let limiter = config
            .rate_limit
            .map(|limit| RateLimiter::new(limit, secrets.next_bytes()));
        let audit_id = Id::from_bytes(secrets.next_bytes());
        // A random phase, so nodes started together do not run maintenance in step.
        let phase = rng.random_range(0..config::MAINTENANCE_TICK.as_micros() as u64);
        let mut timers = Timers::default();
        // A client keeps nothing for others and is in nobody's table: it has no upkeep. One
        // in the automatic role still republishes what it publishes, and may become a node.
        if config.role == wire::Role::Node || config.auto_role {
            let first = now + crate::time::Duration::from_micros(phase);
            timers.set(Timer::Maintenance, first);
        }
        if let Some(at) = reach.as_ref().and_then(|r| r.next_deadline()) {
            timers.set(Timer::Reach, at);
        }
        Node {
            table: RoutingTable::new(id, config.table),
            store: held::new_store(&config),
            config,
            checker: ProofChecker::new(credentials.scheme()),
            credentials,
            id,
            audit_id,
            secrets,
            txids,
            rng,
            published: BTreeMap::new(),
            tokens,
            rtt: RttEstimator::default(),
            limiter,
            pending: BTreeMap::new(),
            timers,
            commands: BTreeMap::new(),
            announcing: false,
            maintaining: false,
            upload: max_upload.map(crate::upload::UploadBudget::new),
            next_op: 0,
            verifying: BTreeSet::new(),
            evict_checks: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            metrics: Metrics::default(),
            notices: notice::NoticeBudget::default(),
            hosts: hosts::Hosts::default(),
            wall_clock: None,
            reach,
        }
    }

    /// Tells the node the wall-clock time: at `now` it is `unix_secs` seconds since the Unix
    /// epoch. A [`Time`] has an epoch of the driver's choosing, so the node cannot know the
    /// date otherwise; from this it computes the date at any later `now`. Drivers call it at
    /// start and then now and again (a wall clock that is stepped is picked up at the next
    /// call). Until it is called the node has no wall clock, and does not refuse records
    /// created in the future (see [`crate::constants::MAX_CLOCK_SKEW`]).
    pub fn set_unix_time(&mut self, now: Time, unix_secs: u64) {
        self.wall_clock = Some((now, unix_secs));
    }

    /// Seconds since the Unix epoch at `now`, if the driver told the node the wall clock
    /// ([`Node::set_unix_time`]); a `now` before the one given counts as that one.
    pub fn unix_time(&self, now: Time) -> Option<u64> {
        self.wall_clock
            .map(|(at, unix)| unix.saturating_add(now.saturating_since(at).as_secs()))
    }

    /// This node's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// This node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.credentials.public_key()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable<A> {
        &self.table
    }

    /// The records this node holds for others.
    pub fn store(&self) -> &RecordStore {
        &self.store
    }

    /// Counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn new_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Feeds one received datagram. Nothing in `bytes` can make this panic; anything refused is
    /// counted in [`Metrics`].
    pub fn handle_datagram(&mut self, now: Time, from: A, bytes: &[u8]) {
        self.metrics.datagrams_in += 1;
        self.metrics.bytes_in += bytes.len() as u64;
        let message = match wire::decode::<A>(bytes, self.config.network) {
            Ok(message) => message,
            Err(error) => {
                self.count_decode_error(&error);
                if let WireError::WrongNetwork(_) = error {
                    self.notify_other_network(now, from, bytes);
                }
                return;
            }
        };
        if let Body::Probe { nonce } = &message.body {
            self.on_probe(now, nonce);
        } else if message.body.is_request() {
            self.serve(now, from, bytes.len(), message);
        } else {
            self.on_response(now, from, message, Endpoint::Main);
        }
    }

    /// Feeds one datagram received on the audit socket ([`Endpoint::Audit`]). Only answers to
    /// our audits are taken there; a request is counted and dropped (the audit socket serves
    /// nothing, so it cannot be told apart from a client's by what it answers).
    pub fn handle_audit_datagram(&mut self, now: Time, from: A, bytes: &[u8]) {
        self.metrics.datagrams_in += 1;
        self.metrics.bytes_in += bytes.len() as u64;
        match wire::decode::<A>(bytes, self.config.network) {
            Ok(message) if message.body.is_request() => self.metrics.dropped_audit_request += 1,
            Ok(message) => self.on_response(now, from, message, Endpoint::Audit),
            Err(error) => self.count_decode_error(&error),
        }
    }

    fn count_decode_error(&mut self, error: &WireError) {
        let m = &mut self.metrics;
        match error {
            WireError::Oversize(_) => m.dropped_oversize += 1,
            WireError::Version(_) => m.dropped_version += 1,
            WireError::WrongNetwork(_) => m.dropped_wrong_network += 1,
            WireError::Empty | WireError::Malformed(_) | WireError::Trailing(_) => {
                m.dropped_malformed += 1
            }
        }
    }

    /// Advances timers: request timeouts and retries, then maintenance when due.
    pub fn handle_timeout(&mut self, now: Time) {
        self.expire_requests(now);
        if self.timers.take_maintenance(now) {
            self.timers
                .set(Timer::Maintenance, now + config::MAINTENANCE_TICK);
            self.maintain(now);
        }
        if self.timers.take_reach(now) {
            self.reach_tick(now);
        }
    }

    /// The earliest time at which [`Node::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.next_deadline()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        let next = self.transmits.pop_front();
        release_if_drained(&mut self.transmits);
        next
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        let next = self.events.pop_front();
        release_if_drained(&mut self.events);
        next
    }

    /// Joins the network through `addrs` (bootstrap addresses whose ids are not yet known):
    /// pings them,
    /// looks up our own id, then (if configured) refreshes the buckets shallower than that.
    pub fn bootstrap(&mut self, now: Time, addrs: &[A]) -> OpId {
        let op = self.new_op();
        self.start_bootstrap(now, op, addrs);
        op
    }

    /// Looks up the k nodes closest to `target`.
    pub fn find_node(&mut self, now: Time, target: Id) -> OpId {
        let op = self.new_op();
        self.start_find_node(now, op, target, true);
        op
    }

    /// Fetches every value stored under `key` (streamed as [`Event::Records`], then finished).
    pub fn get(&mut self, now: Time, key: Id) -> OpId {
        let op = self.new_op();
        self.start_get(now, op, key);
        op
    }

    /// Stores `record` at the k nodes closest to `key`, once.
    pub fn put(&mut self, now: Time, key: Id, record: SignedRecord) -> OpId {
        let op = self.new_op();
        self.start_put(now, op, key, vec![record], true, true);
        op
    }

    /// Like [`Node::put`], and republishes the record every republish interval for as long as
    /// this node runs (or until [`Node::unpublish`]). A record of the same
    /// [content](SignedRecord::content_id) under the same key replaces the one published before.
    pub fn publish(&mut self, now: Time, key: Id, record: SignedRecord) -> OpId {
        let next = now + self.config.republish_interval;
        self.published.insert(
            (key, record.content_id()),
            Published {
                key,
                record: record.clone(),
                next,
            },
        );
        self.put(now, key, record)
    }

    /// Stops republishing the record of content id `content` under `key`; returns whether it
    /// was published. What holders keep expires after its TTL.
    pub fn unpublish(&mut self, key: Id, content: RecordId) -> bool {
        self.published.remove(&(key, content)).is_some()
    }

    /// The records this node publishes (and republishes), with their keys.
    pub fn published_records(&self) -> impl Iterator<Item = (&Id, &SignedRecord)> + '_ {
        self.published.values().map(|p| (&p.key, &p.record))
    }

    /// Pings an address.
    pub fn ping(&mut self, now: Time, addr: A) -> OpId {
        let op = self.new_op();
        self.start_ping(now, op, addr);
        op
    }

    /// Enters `id` at `addr` into the routing table as if it had just answered, without checking
    /// that it does. The protocol itself admits only nodes that answered one of our requests;
    /// this is for drivers that already know the network (the simulator's pre-filled
    /// formation, tests). Returns true if the entry is in the table afterwards.
    pub fn add_contact(&mut self, now: Time, id: Id, addr: A) -> bool {
        matches!(
            self.offer_to_table(now, id, addr, None),
            crate::routing::Admission::Inserted | crate::routing::Admission::Refreshed
        )
    }
}

#[cfg(test)]
mod tests;

/// Gives back the memory of a queue that a burst grew, once it is empty again: an idle node
/// should cost what its state needs, not what its busiest moment needed.
fn release_if_drained<T>(queue: &mut VecDeque<T>) {
    const KEEP: usize = 8;
    if queue.is_empty() && queue.capacity() > KEEP {
        queue.shrink_to(KEEP);
    }
}
