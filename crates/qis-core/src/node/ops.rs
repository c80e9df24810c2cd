//! Commands in progress (lookups, gets, puts, pings, bootstrap) and how answers and failures
//! move them forward. Each command is taken out of the table while it is stepped, so stepping
//! may send requests freely.

use super::{BootstrapReport, Event, GetReport, Node, OpId, OpResult, PingReply, PutReport};
use crate::addr::PeerAddr;
use crate::constants::GOOD_NODE_WINDOW;
use crate::id::Id;
use crate::lookup::{Lookup, Pager};
use crate::record::{RecordId, SignedRecord};
use crate::routing::Admission;
use crate::time::Time;
use crate::wire::{Body, Contact, Message, Role, StoreStatus, Token};

/// Why a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Part of a command.
    Op(OpId),
    /// A page of values for a get's stream.
    Page(OpId, usize),
    /// Checking a node that contacted us before admitting it.
    Verify,
    /// Checking the least recently seen entry of a full bucket.
    EvictCheck,
}

/// What a walk is for.
#[derive(Debug)]
pub(super) enum Walk<A> {
    /// Plain FIND_NODE: report when done (`public`), or just refresh the table.
    FindNode { public: bool },
    /// Joining: report as a bootstrap.
    Join { bootstrap_answered: usize },
    /// FIND_VALUE, then paging.
    Get { pager: Pager<A>, paging: bool },
    /// FIND_NODE, then STORE to the closest.
    Put {
        key: Id,
        records: Vec<SignedRecord>,
        storing: Option<Storing<A>>,
        public: bool,
    },
}

/// The store phase of a put.
#[derive(Debug)]
pub(super) struct Storing<A> {
    /// Stores not yet sent: (node, token, record index).
    queue: Vec<(Contact<A>, Token, usize)>,
    in_flight: usize,
    /// Per target node: records acknowledged.
    acked: Vec<(Id, usize)>,
    refused: u32,
    failed: u32,
    stored_locally: bool,
}

/// A command in progress.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a node runs few commands at once; boxing buys nothing
pub(super) enum Op<A> {
    /// A walk of some kind.
    Walking { walk: Lookup<A>, kind: Walk<A> },
    /// Pinging the bootstrap addresses.
    Bootstrapping { outstanding: usize, answered: usize },
    /// A user ping; `reply` is set once it is answered (`Some(None)`: it was not).
    Ping { reply: Option<Option<PingReply<A>>> },
}

impl<A: PeerAddr> Node<A> {
    fn new_walk(&mut self, now: Time, target: Id) -> Lookup<A> {
        self.table.touch(&target, now);
        let seeds = self
            .table
            .closest(&target, self.config.k)
            .into_iter()
            .map(|e| Contact {
                id: e.id,
                addr: e.addr,
            });
        Lookup::new(
            target,
            self.id,
            seeds,
            self.config.k,
            self.config.alpha,
            now,
        )
    }

    pub(super) fn start_find_node(&mut self, now: Time, op: OpId, target: Id, public: bool) {
        let walk = self.new_walk(now, target);
        self.run(
            now,
            op,
            Op::Walking {
                walk,
                kind: Walk::FindNode { public },
            },
        );
    }

    pub(super) fn start_get(&mut self, now: Time, op: OpId, key: Id) {
        let walk = self.new_walk(now, key);
        let mut pager = Pager::new(key, self.config.max_get_records);
        pager.add_local(self.store.records(&key));
        self.run(
            now,
            op,
            Op::Walking {
                walk,
                kind: Walk::Get {
                    pager,
                    paging: false,
                },
            },
        );
    }

    pub(super) fn start_put(
        &mut self,
        now: Time,
        op: OpId,
        key: Id,
        records: Vec<SignedRecord>,
        public: bool,
    ) {
        let walk = self.new_walk(now, key);
        self.run(
            now,
            op,
            Op::Walking {
                walk,
                kind: Walk::Put {
                    key,
                    records,
                    storing: None,
                    public,
                },
            },
        );
    }

    pub(super) fn start_ping(&mut self, now: Time, op: OpId, addr: A) {
        self.send_request(now, addr, None, Body::Ping, Purpose::Op(op));
        self.ops.insert(op, Box::new(Op::Ping { reply: None }));
    }

    pub(super) fn start_bootstrap(&mut self, now: Time, op: OpId, seeds: &[A]) {
        for seed in seeds {
            self.send_request(now, *seed, None, Body::Ping, Purpose::Op(op));
        }
        self.run(
            now,
            op,
            Op::Bootstrapping {
                outstanding: seeds.len(),
                answered: 0,
            },
        );
    }

    /// Steps `op` and keeps it if unfinished.
    fn run(&mut self, now: Time, id: OpId, op: Op<A>) {
        self.run_boxed(now, id, Box::new(op));
    }

    fn run_boxed(&mut self, now: Time, id: OpId, mut op: Box<Op<A>>) {
        if !self.step(now, id, &mut op) {
            self.ops.insert(id, op);
        }
    }

    /// Applies `f` to a running command, then steps it.
    fn with_op(&mut self, now: Time, id: OpId, f: impl FnOnce(&mut Self, &mut Op<A>)) {
        let Some(mut op) = self.ops.remove(&id) else {
            return;
        };
        f(self, &mut op);
        self.run_boxed(now, id, op);
    }

    /// Sends what `op` needs next; returns true when it has finished (its event is queued).
    fn step(&mut self, now: Time, id: OpId, op: &mut Op<A>) -> bool {
        match op {
            Op::Ping { reply } => match reply.take() {
                Some(reply) => {
                    self.finish(id, OpResult::Ping(reply));
                    true
                }
                None => false,
            },
            Op::Bootstrapping {
                outstanding,
                answered,
            } => {
                if *outstanding > 0 {
                    return false;
                }
                let bootstrap_answered = *answered;
                let walk = self.new_walk(now, self.id);
                if self.config.role == Role::Client {
                    // A client is never asked for its own neighbourhood: knowing the seeds is
                    // enough to start its lookups, so it skips the self-lookup.
                    let table_size = self.table.len();
                    let lookup = walk.report(now);
                    self.finish(
                        id,
                        OpResult::Bootstrap(BootstrapReport {
                            bootstrap_answered,
                            lookup,
                            table_size,
                        }),
                    );
                    return true;
                }
                *op = Op::Walking {
                    walk,
                    kind: Walk::Join { bootstrap_answered },
                };
                self.step(now, id, op)
            }
            Op::Walking { walk, kind } => self.step_walk(now, id, walk, kind),
        }
    }

    fn step_walk(&mut self, now: Time, id: OpId, walk: &mut Lookup<A>, kind: &mut Walk<A>) -> bool {
        // Paging and storing happen after the walk; the walk itself is done when they start.
        match kind {
            Walk::Get {
                pager,
                paging: true,
            } => return self.step_paging(now, id, walk, pager),
            Walk::Put {
                key,
                records,
                storing: Some(storing),
                public,
            } => {
                return self.step_storing(now, id, walk, *key, records, storing, *public);
            }
            _ => {}
        }
        let is_get = matches!(kind, Walk::Get { .. });
        while let Some(query) = walk.next_request() {
            let target = walk.target();
            let body = if is_get {
                Body::FindValue {
                    key: target,
                    start: RecordId([0; 32]),
                    token: None,
                    pad: Default::default(),
                }
            } else {
                Body::FindNode {
                    target,
                    token: None,
                    pad: Default::default(),
                }
            };
            self.send_request(now, query.addr, Some(query.id), body, Purpose::Op(id));
        }
        if !walk.is_finished() {
            return false;
        }
        match kind {
            Walk::FindNode { public } => {
                if *public {
                    self.finish(id, OpResult::FindNode(walk.report(now)));
                }
                true
            }
            Walk::Join { bootstrap_answered } => {
                let report = walk.report(now);
                if self.config.join_refresh {
                    self.refresh_below(now, report.closest.first().map(|h| h.contact.id));
                }
                let table_size = self.table.len();
                self.finish(
                    id,
                    OpResult::Bootstrap(BootstrapReport {
                        bootstrap_answered: *bootstrap_answered,
                        lookup: report,
                        table_size,
                    }),
                );
                true
            }
            Walk::Get { pager, paging } => {
                *paging = true;
                pager.start(self.config.alpha);
                self.step_paging(now, id, walk, pager)
            }
            Walk::Put {
                key,
                records,
                storing,
                public,
            } => {
                *storing = Some(self.plan_stores(now, walk, *key, records));
                let storing = storing.as_mut().expect("just set");
                self.step_storing(now, id, walk, *key, records, storing, *public)
            }
        }
    }

    fn step_paging(&mut self, now: Time, id: OpId, walk: &Lookup<A>, pager: &mut Pager<A>) -> bool {
        for request in pager.next_requests() {
            let body = Body::FindValue {
                key: pager.key(),
                start: request.start,
                token: None,
                pad: Default::default(),
            };
            self.send_request(
                now,
                request.to.addr,
                Some(request.to.id),
                body,
                Purpose::Page(id, request.stream),
            );
        }
        if !pager.is_finished() {
            return false;
        }
        let done = std::mem::replace(pager, Pager::new(pager.key(), 0));
        let report = GetReport {
            key: done.key(),
            lookup: walk.report(now),
            holders: done.holders(),
            announced: done.announced(),
            pages: done.pages(),
            complete: !done.incomplete(),
            records: done.into_records(),
        };
        self.finish(id, OpResult::Get(report));
        true
    }

    /// Chooses the k closest nodes that answered the walk and queues one store per record each;
    /// stores locally too when this node is closer than the k-th of them.
    fn plan_stores(
        &mut self,
        now: Time,
        walk: &Lookup<A>,
        key: Id,
        records: &[SignedRecord],
    ) -> Storing<A> {
        let targets: Vec<(Contact<A>, Token)> = walk
            .answered()
            .filter_map(|c| {
                c.token.map(|t| {
                    (
                        Contact {
                            id: c.id,
                            addr: c.addr,
                        },
                        t,
                    )
                })
            })
            .collect();
        let mut queue = Vec::with_capacity(targets.len() * records.len());
        for (contact, token) in &targets {
            for index in 0..records.len() {
                queue.push((*contact, *token, index));
            }
        }
        queue.reverse(); // popped from the end: closest node first
        let our_distance = self.id.distance(&key);
        let among_closest = targets.len() < self.config.k
            || targets
                .last()
                .is_some_and(|(c, _)| our_distance < c.id.distance(&key));
        let stored_locally = self.config.role == Role::Node
            && among_closest
            && records.iter().all(|r| {
                self.config.policy.check(&key, r).is_ok()
                    && self.store.put(key, r.clone(), now).is_ok()
            });
        let acked = targets.iter().map(|(c, _)| (c.id, 0)).collect();
        Storing {
            queue,
            in_flight: 0,
            acked,
            refused: 0,
            failed: 0,
            stored_locally,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step_storing(
        &mut self,
        now: Time,
        id: OpId,
        walk: &Lookup<A>,
        key: Id,
        records: &[SignedRecord],
        storing: &mut Storing<A>,
        public: bool,
    ) -> bool {
        while storing.in_flight < super::MAX_STORES_IN_FLIGHT {
            let Some((contact, token, index)) = storing.queue.pop() else {
                break;
            };
            let body = Body::Store {
                key,
                token,
                record: records[index].clone(),
            };
            storing.in_flight += 1;
            self.send_request(now, contact.addr, Some(contact.id), body, Purpose::Op(id));
        }
        if storing.in_flight > 0 || !storing.queue.is_empty() {
            return false;
        }
        if public {
            let acks = storing
                .acked
                .iter()
                .filter(|(_, n)| *n == records.len())
                .count() as u32;
            let report = PutReport {
                key,
                lookup: walk.report(now),
                acks,
                refused: storing.refused,
                failed: storing.failed,
                stored_locally: storing.stored_locally,
            };
            self.finish(id, OpResult::Put(report));
        }
        true
    }

    fn finish(&mut self, op: OpId, result: OpResult<A>) {
        self.events.push_back(Event::Finished { op, result });
    }

    /// Starts internal lookups of a random id in each bucket shallower than the one holding
    /// `closest` (the nearest node found when joining).
    fn refresh_below(&mut self, now: Time, closest: Option<Id>) {
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
    pub(super) fn refresh_bucket(&mut self, now: Time, index: usize) {
        let random: [u8; 32] = rand::RngExt::random(&mut self.rng);
        let target = self.id.random_at_prefix(index.min(255), random);
        let op = self.new_op();
        self.start_find_node(now, op, target, false);
    }

    /// An answer arrived: check it is genuine, learn from it, and hand it to its command.
    pub(super) fn on_response(&mut self, now: Time, from: A, message: Message<A>) {
        let sender = message.header.sender.id();
        let Some(pending) = self.take_pending(message.header.txid, from, sender) else {
            return;
        };
        if pending.attempt == 0 {
            self.rtt.observe(now.saturating_since(pending.sent_at));
        }
        let expected = matches!(
            (&pending.body, &message.body),
            (Body::Ping, Body::Pong { .. })
                | (Body::FindNode { .. }, Body::Nodes { .. })
                | (
                    Body::FindValue { .. },
                    Body::Nodes { .. } | Body::Values { .. }
                )
                | (Body::Store { .. }, Body::StoreAck { .. })
        );
        if !expected {
            self.metrics.dropped_unexpected += 1;
            return self.request_failed(now, pending.to_id, pending.purpose);
        }
        if message.header.role == Role::Node {
            self.admit(now, sender, from, answer_token(&message.body));
        }
        match pending.purpose {
            Purpose::Verify => {
                self.verifying.remove(&sender);
            }
            Purpose::EvictCheck => {
                self.evict_checks.remove(&sender);
            }
            Purpose::Op(op) => {
                self.on_op_answer(now, op, sender, from, pending.sent_at, message.body)
            }
            Purpose::Page(op, stream) => self.on_page_answer(now, op, stream, message.body),
        }
    }

    /// Offers a node that answered to the routing table; if its bucket is full, checks the
    /// least recently seen entry (ping-before-evict) unless even that one answered us within
    /// `GOOD_NODE_WINDOW`: a bucket of nodes known to be alive keeps them (long-lived nodes
    /// are the likeliest to stay) and the newcomer waits in the replacement cache.
    fn admit(&mut self, now: Time, id: Id, addr: A, token: Option<Token>) {
        if let Admission::Parked {
            least_recent,
            least_recent_seen,
        } = self.table.on_answer(id, addr, now, token)
            && now.saturating_since(least_recent_seen) >= GOOD_NODE_WINDOW
            && self.evict_checks.insert(least_recent.id)
        {
            let to = least_recent.addr;
            self.send_request(
                now,
                to,
                Some(least_recent.id),
                Body::Ping,
                Purpose::EvictCheck,
            );
        }
    }

    fn on_op_answer(
        &mut self,
        now: Time,
        op: OpId,
        sender: Id,
        from: A,
        sent_at: Time,
        body: Body<A>,
    ) {
        self.with_op(now, op, |node, state| match (state, body) {
            (Op::Ping { reply }, Body::Pong { .. }) => {
                *reply = Some(Some(PingReply {
                    id: sender,
                    addr: from,
                    rtt: now.saturating_since(sent_at),
                }));
            }
            (
                Op::Bootstrapping {
                    outstanding,
                    answered,
                },
                Body::Pong { .. },
            ) => {
                *outstanding = outstanding.saturating_sub(1);
                *answered += 1;
            }
            // A cut answer still helps: the walk goes on with the contacts it got.
            (Op::Walking { walk, .. }, Body::Nodes { nodes, token, .. }) => {
                walk.on_answer(&sender, &nodes, Some(token));
            }
            (
                Op::Walking {
                    walk,
                    kind: Walk::Get { pager, .. },
                },
                Body::Values {
                    token,
                    total,
                    next,
                    records,
                },
            ) => {
                walk.on_answer(&sender, &[], Some(token));
                let records = node.verified(pager, records);
                let fresh = pager.on_first_page(
                    Contact {
                        id: sender,
                        addr: from,
                    },
                    total,
                    next,
                    records,
                );
                node.emit_records(op, fresh);
            }
            (
                Op::Walking {
                    kind:
                        Walk::Put {
                            storing: Some(storing),
                            records,
                            ..
                        },
                    ..
                },
                Body::StoreAck { status },
            ) => {
                storing.in_flight = storing.in_flight.saturating_sub(1);
                match status {
                    StoreStatus::Stored => {
                        if let Some(entry) = storing.acked.iter_mut().find(|(id, _)| *id == sender)
                        {
                            entry.1 = (entry.1 + 1).min(records.len());
                        }
                    }
                    StoreStatus::Refused(_) => storing.refused += 1,
                }
            }
            _ => node.metrics.dropped_unexpected += 1,
        });
    }

    /// The records of a holder's page that pass the record policy (signature included) for the
    /// get's key; the rest are counted and dropped. A holder may be hostile, so nothing it sends
    /// reaches the application unchecked. Records the get already holds are not checked again.
    fn verified(&mut self, pager: &Pager<A>, records: Vec<SignedRecord>) -> Vec<SignedRecord> {
        let key = pager.key();
        let before = records.len();
        let kept: Vec<SignedRecord> = records
            .into_iter()
            .filter(|r| pager.contains(&r.id()) || self.config.policy.check(&key, r).is_ok())
            .collect();
        self.metrics.dropped_forged_records += (before - kept.len()) as u64;
        kept
    }

    fn emit_records(&mut self, op: OpId, records: Vec<SignedRecord>) {
        if !records.is_empty() {
            self.events.push_back(Event::Records { op, records });
        }
    }

    fn on_page_answer(&mut self, now: Time, op: OpId, stream: usize, body: Body<A>) {
        self.with_op(now, op, |node, state| {
            let Op::Walking {
                kind: Walk::Get { pager, .. },
                ..
            } = state
            else {
                return;
            };
            match body {
                Body::Values { next, records, .. } => {
                    let records = node.verified(pager, records);
                    let fresh = pager.on_page(stream, next, records);
                    node.emit_records(op, fresh);
                }
                // The holder no longer has values (they expired): take the range elsewhere.
                _ => pager.on_page_failure(stream),
            }
        });
    }

    /// A lookup request is overdue and being retried: let the walk use its slot meanwhile.
    pub(super) fn request_stalled(&mut self, now: Time, to_id: Option<Id>, purpose: Purpose) {
        let (Purpose::Op(op), Some(id)) = (purpose, to_id) else {
            return;
        };
        self.with_op(now, op, |_, state| {
            if let Op::Walking { walk, .. } = state {
                walk.on_stall(&id);
            }
        });
    }

    /// A request got no (usable) answer after all attempts.
    pub(super) fn request_failed(&mut self, now: Time, to_id: Option<Id>, purpose: Purpose) {
        match purpose {
            Purpose::Verify => {
                if let Some(id) = to_id {
                    self.verifying.remove(&id);
                }
            }
            Purpose::EvictCheck => {
                if let Some(id) = to_id {
                    self.evict_checks.remove(&id);
                }
            }
            Purpose::Page(op, stream) => self.with_op(now, op, |_, op| {
                if let Op::Walking {
                    kind: Walk::Get { pager, .. },
                    ..
                } = op
                {
                    pager.on_page_failure(stream);
                }
            }),
            Purpose::Op(op) => {
                self.with_op(now, op, |_, state| match state {
                    Op::Ping { reply } => *reply = Some(None),
                    Op::Bootstrapping { outstanding, .. } => {
                        *outstanding = outstanding.saturating_sub(1)
                    }
                    Op::Walking {
                        kind:
                            Walk::Put {
                                storing: Some(storing),
                                ..
                            },
                        ..
                    } => {
                        storing.in_flight = storing.in_flight.saturating_sub(1);
                        storing.failed += 1;
                    }
                    Op::Walking { walk, .. } => {
                        if let Some(id) = to_id {
                            walk.on_failure(&id);
                        }
                    }
                });
            }
        }
    }
}

/// The address token carried by an answer.
fn answer_token<A>(body: &Body<A>) -> Option<Token> {
    match body {
        Body::Pong { token } | Body::Nodes { token, .. } | Body::Values { token, .. } => {
            Some(*token)
        }
        _ => None,
    }
}
