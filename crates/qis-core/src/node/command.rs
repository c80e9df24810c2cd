//! Commands in progress (lookups, gets, puts, pings, bootstrap) and how they step forward.
//! Each command is taken out of the table while it is stepped, so stepping may send requests
//! freely; answers and failures reach it through [`super::responses`].

use super::store_plan::StorePlan;
use super::{BootstrapReport, Event, GetReport, Node, OpId, OpResult};
use crate::addr::PeerAddr;
use crate::id::Id;
use crate::lookup::{Lookup, Pager};
use crate::record::{RecordId, SignedRecord};
use crate::time::Time;
use crate::wire::{Body, Contact, Role, Token};

/// Why a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Part of a command.
    Command(OpId),
    /// A page of values for a get's stream.
    Page(OpId, usize),
    /// Checking a node that contacted us before admitting it.
    Verify,
    /// Checking the least recently seen entry of a full bucket.
    EvictCheck,
    /// Auditing a holder of a put, from the audit socket.
    Audit(OpId),
    /// A reachability check's `Observe` (`watch`: the address watch's, no probe asked).
    Reach { watch: bool },
}

/// What a lookup is for, and the phase that follows it.
#[derive(Debug)]
pub(super) enum Goal<A> {
    /// Plain FIND_NODE: report when done (`public`), or just refresh the table.
    FindNode { public: bool },
    /// Joining: report as a bootstrap.
    Join { bootstrap_answered: usize },
    /// FIND_VALUE, then paging.
    Get { pager: Pager<A>, paging: bool },
    /// FIND_NODE, then STORE to the closest: `records` move into the plan when storing starts.
    Put {
        key: Id,
        records: Vec<SignedRecord>,
        storing: Option<StorePlan<A>>,
        public: bool,
        /// Audit the holders once stored (puts and republishes; not re-replication).
        audit: bool,
    },
}

impl<A> Goal<A> {
    /// True for the commands that keep the network up rather than serve a user: the join,
    /// refreshes, re-replication and republishing (internal, never reported).
    pub(super) fn is_maintenance(&self) -> bool {
        matches!(
            self,
            Goal::Join { .. } | Goal::FindNode { public: false } | Goal::Put { public: false, .. }
        )
    }
}

/// A command in progress.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a node runs few commands at once; boxing buys nothing
pub(super) enum Command<A> {
    /// An iterative lookup and what it is for.
    Lookup { lookup: Lookup<A>, goal: Goal<A> },
    /// Pinging the bootstrap addresses.
    Bootstrapping { outstanding: usize, answered: usize },
    /// A user ping; `reply` is set once it is answered (`Some(None)`: it was not).
    Ping {
        reply: Option<Option<super::PingReply<A>>>,
    },
}

impl<A: PeerAddr> Node<A> {
    fn new_lookup(&mut self, now: Time, target: Id) -> Lookup<A> {
        self.new_lookup_on(now, target, self.config.lookup_paths)
    }

    /// A lookup of `target` walking `paths` disjoint paths.
    fn new_lookup_on(&mut self, now: Time, target: Id, paths: usize) -> Lookup<A> {
        self.table.touch(&target, now);
        let start = self
            .table
            .closest(&target, self.config.k)
            .into_iter()
            .map(|e| Contact {
                id: e.id,
                addr: e.addr,
            });
        Lookup::disjoint(
            target,
            self.id,
            start,
            self.config.k,
            self.config.alpha,
            paths,
            now,
        )
        .limiting_local(self.config.table.limit_local)
    }

    pub(super) fn start_find_node(&mut self, now: Time, op: OpId, target: Id, public: bool) {
        let lookup = self.new_lookup(now, target);
        let goal = Goal::FindNode { public };
        self.run(now, op, Command::Lookup { lookup, goal });
    }

    pub(super) fn start_get(&mut self, now: Time, op: OpId, key: Id) {
        let lookup = self.new_lookup_on(now, key, self.config.get_paths);
        let mut pager = Pager::new(key, self.config.max_get_records);
        pager.add_local(self.store.records(&key));
        let goal = Goal::Get {
            pager,
            paging: false,
        };
        self.run(now, op, Command::Lookup { lookup, goal });
    }

    pub(super) fn start_put(
        &mut self,
        now: Time,
        op: OpId,
        key: Id,
        records: Vec<SignedRecord>,
        public: bool,
        audit: bool,
    ) {
        // A put the publisher made (or republishes) walks the paths a get walks, so its
        // holders are the union's closest, as a get will look for them; re-replication of
        // what a node holds for others is upkeep on one path.
        let paths = if audit {
            self.config.get_paths
        } else {
            self.config.lookup_paths
        };
        let lookup = self.new_lookup_on(now, key, paths);
        let goal = Goal::Put {
            key,
            records,
            storing: None,
            public,
            audit,
        };
        self.run(now, op, Command::Lookup { lookup, goal });
    }

    pub(super) fn start_ping(&mut self, now: Time, op: OpId, addr: A) {
        self.send_request(now, addr, None, Body::Ping, Purpose::Command(op));
        self.commands
            .insert(op, Box::new(Command::Ping { reply: None }));
    }

    pub(super) fn start_bootstrap(&mut self, now: Time, op: OpId, addrs: &[A]) {
        for addr in addrs {
            self.send_request(now, *addr, None, Body::Ping, Purpose::Command(op));
        }
        let bootstrapping = Command::Bootstrapping {
            outstanding: addrs.len(),
            answered: 0,
        };
        self.run(now, op, bootstrapping);
    }

    /// Steps `command` and keeps it if unfinished.
    fn run(&mut self, now: Time, id: OpId, command: Command<A>) {
        self.run_boxed(now, id, Box::new(command));
    }

    fn run_boxed(&mut self, now: Time, id: OpId, mut command: Box<Command<A>>) {
        if !self.step(now, id, &mut command) {
            self.commands.insert(id, command);
        }
    }

    /// Applies `f` to a running command, then steps it.
    pub(super) fn with_command(
        &mut self,
        now: Time,
        id: OpId,
        f: impl FnOnce(&mut Self, &mut Command<A>),
    ) {
        let Some(mut command) = self.commands.remove(&id) else {
            return;
        };
        f(self, &mut command);
        self.run_boxed(now, id, command);
    }

    /// Sends what `command` needs next; returns true when it has finished (its event is
    /// queued).
    fn step(&mut self, now: Time, id: OpId, command: &mut Command<A>) -> bool {
        match command {
            Command::Ping { reply } => match reply.take() {
                Some(reply) => {
                    self.finish(id, OpResult::Ping(reply));
                    true
                }
                None => false,
            },
            Command::Bootstrapping {
                outstanding,
                answered,
            } => {
                if *outstanding > 0 {
                    return false;
                }
                let bootstrap_answered = *answered;
                let lookup = self.new_lookup(now, self.id);
                // A client is never asked for its own neighbourhood: knowing the bootstrap
                // nodes is enough to start its lookups, so it skips the self-lookup. One in the
                // automatic role walks it: its reachability check needs peers to ask.
                if self.config.role == Role::Client && !self.config.auto_role {
                    let report = BootstrapReport {
                        bootstrap_answered,
                        lookup: lookup.report(now),
                        table_size: self.table.len(),
                    };
                    self.finish(id, OpResult::Bootstrap(report));
                    return true;
                }
                *command = Command::Lookup {
                    lookup,
                    goal: Goal::Join { bootstrap_answered },
                };
                self.step(now, id, command)
            }
            Command::Lookup { lookup, goal } => {
                self.maintaining = goal.is_maintenance();
                let done = self.step_lookup(now, id, lookup, goal);
                self.maintaining = false;
                done
            }
        }
    }

    fn step_lookup(
        &mut self,
        now: Time,
        id: OpId,
        lookup: &mut Lookup<A>,
        goal: &mut Goal<A>,
    ) -> bool {
        // Paging and storing happen after the lookup; the lookup itself is done when they start.
        match goal {
            Goal::Get {
                pager,
                paging: true,
            } => return self.step_paging(now, id, lookup, pager),
            Goal::Put {
                storing: Some(plan),
                public,
                ..
            } => return self.step_storing(now, id, lookup, plan, *public),
            _ => {}
        }
        // The lookups that keep the network up (the join's self-lookup, its bucket refreshes,
        // the hourly refresh) announce us: their padding also covers the verification ping
        // with which a responder whose bucket has room checks us before admitting us (see
        // `Node::serve`). A user's lookup, get or put pads only for its answer.
        self.announcing = matches!(goal, Goal::Join { .. } | Goal::FindNode { public: false });
        self.send_lookup_requests(now, id, lookup, matches!(goal, Goal::Get { .. }));
        self.announcing = false;
        if !lookup.is_finished() {
            return false;
        }
        self.on_lookup_finished(now, id, lookup, goal)
    }

    /// Sends the FIND_NODE (or FIND_VALUE, for a get) requests the lookup wants now.
    fn send_lookup_requests(&mut self, now: Time, id: OpId, lookup: &mut Lookup<A>, is_get: bool) {
        while let Some(request) = lookup.next_request() {
            let target = lookup.target();
            let body = if is_get {
                Body::FindValue {
                    key: target,
                    // A get's first answers bring each holder's best values.
                    start: RecordId::BEST_FIRST,
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
            let purpose = Purpose::Command(id);
            if !self.send_request(now, request.addr, Some(request.id), body, purpose) {
                // Over a stranger's first contacts (see `hosts`): the candidate has failed.
                lookup.on_failure(&request.id);
            }
        }
    }

    /// The lookup has converged: report it, or start the phase its goal has next.
    fn on_lookup_finished(
        &mut self,
        now: Time,
        id: OpId,
        lookup: &Lookup<A>,
        goal: &mut Goal<A>,
    ) -> bool {
        let closest = lookup.answered().map(|c| (c.id, c.addr, c.token)).collect();
        self.admit_closest(now, closest);
        match goal {
            Goal::FindNode { public } => {
                if *public {
                    self.finish(id, OpResult::FindNode(lookup.report(now)));
                }
                true
            }
            Goal::Join { bootstrap_answered } => {
                self.reach_after_join(now);
                let report = lookup.report(now);
                if self.config.join_refresh {
                    self.refresh_below(now, report.closest.first().map(|h| h.contact.id));
                }
                let report = BootstrapReport {
                    bootstrap_answered: *bootstrap_answered,
                    lookup: report,
                    table_size: self.table.len(),
                };
                self.finish(id, OpResult::Bootstrap(report));
                true
            }
            Goal::Get { pager, paging } => {
                *paging = true;
                pager.start(self.config.alpha);
                self.step_paging(now, id, lookup, pager)
            }
            Goal::Put {
                key,
                records,
                storing,
                public,
                audit,
            } => {
                let records = std::mem::take(records);
                let plan = self.plan_stores(now, lookup, *key, records, *audit);
                let plan = storing.insert(plan);
                self.step_storing(now, id, lookup, plan, *public)
            }
        }
    }

    fn step_paging(
        &mut self,
        now: Time,
        id: OpId,
        lookup: &Lookup<A>,
        pager: &mut Pager<A>,
    ) -> bool {
        for request in pager.next_requests() {
            let body = Body::FindValue {
                key: pager.key(),
                start: request.start,
                token: None,
                pad: Default::default(),
            };
            let purpose = Purpose::Page(id, request.stream);
            self.send_request(now, request.to.addr, Some(request.to.id), body, purpose);
        }
        if !pager.is_finished() {
            return false;
        }
        let done = std::mem::replace(pager, Pager::new(pager.key(), 0));
        let report = GetReport {
            key: done.key(),
            lookup: lookup.report(now),
            holders: done.holders(),
            announced: done.announced(),
            pages: done.pages(),
            complete: !done.incomplete(),
            records: done.into_records(),
        };
        self.finish(id, OpResult::Get(report));
        true
    }

    /// Plans one store per record at each of the k closest nodes that answered the lookup
    /// (each with the token it gave us); stores locally too when this node is closer than the
    /// k-th of them.
    fn plan_stores(
        &mut self,
        now: Time,
        lookup: &Lookup<A>,
        key: Id,
        records: Vec<SignedRecord>,
        audit: bool,
    ) -> StorePlan<A> {
        let targets: Vec<(Contact<A>, Token)> = lookup
            .answered()
            .filter_map(|c| {
                let contact = Contact {
                    id: c.id,
                    addr: c.addr,
                };
                c.token.map(|token| (contact, token))
            })
            .collect();
        let our_distance = self.id.distance(&key);
        let among_closest = targets.len() < self.config.k
            || targets
                .last()
                .is_some_and(|(c, _)| our_distance < c.id.distance(&key));
        let stored_locally = self.config.role == Role::Node
            && among_closest
            && records.iter().all(|r| {
                self.config.policy.check(&key, r).is_ok()
                    && self.store.put(key, r.clone(), now, None).is_ok()
            });
        StorePlan::new(key, records, &targets, stored_locally, audit)
    }

    /// Sends the stores the plan allows now, then the audits; reports the put once every store
    /// and every audit is answered.
    fn step_storing(
        &mut self,
        now: Time,
        id: OpId,
        lookup: &Lookup<A>,
        plan: &mut StorePlan<A>,
        public: bool,
    ) -> bool {
        while let Some(store) = plan.next_store(super::MAX_STORES_IN_FLIGHT) {
            let body = Body::Store {
                key: store.key,
                token: store.token,
                record: store.record,
            };
            let (addr, to) = (store.to.addr, Some(store.to.id));
            self.send_request(now, addr, to, body, Purpose::Command(id));
        }
        while let Some(holder) = plan.next_audit(super::MAX_STORES_IN_FLIGHT) {
            let body = Body::FindValue {
                key: plan.key(),
                start: plan.audited_record(),
                token: None,
                pad: Default::default(),
            };
            self.metrics.holders_audited += 1;
            let (addr, to, purpose) = (holder.addr, Some(holder.id), Purpose::Audit(id));
            self.send_request_via(now, addr, to, body, purpose, super::Endpoint::Audit);
        }
        if !plan.is_finished() {
            return false;
        }
        self.metrics.holders_verified += u64::from(plan.verified());
        if public {
            self.finish(id, OpResult::Put(plan.report(lookup.report(now))));
        }
        true
    }

    fn finish(&mut self, op: OpId, result: OpResult<A>) {
        self.events.push_back(Event::Finished { op, result });
    }
}
