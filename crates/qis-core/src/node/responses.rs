//! Answers to our requests, and requests that got none: check that an answer is genuine, learn
//! from it, and hand it to whatever sent the request (a command, a verification ping, an
//! eviction check). Beside [`super::requests`], which sends them.

use super::command::{Command, Goal, Purpose};
use super::requests::Pending;
use super::{Endpoint, Event, Node, OpId, PingReply};
use crate::addr::PeerAddr;
use crate::constants::GOOD_NODE_WINDOW;
use crate::id::Id;
use crate::lookup::Pager;
use crate::record::SignedRecord;
use crate::routing::{Admission, Refusal};
use crate::time::Time;
use crate::wire::{Auth, Body, Contact, Header, Message, Role, Token};

impl<A: PeerAddr> Node<A> {
    /// An answer arrived: check it is genuine, learn from it, and hand it to its command.
    pub(super) fn on_response(&mut self, now: Time, from: A, message: Message<A>, via: Endpoint) {
        let sender = message.header.sender;
        let Some(pending) = self.take_pending(message.header.txid, from, sender, via) else {
            return;
        };
        // It answered a transaction id we sent there: a host at that address hears us.
        self.hosts.heard_from(from.prefixes().host);
        if pending.attempt == 0 {
            self.rtt.observe(now.saturating_since(pending.sent_at));
        }
        if !self.proves_sender(&pending, &message.header) {
            self.metrics.dropped_unproven += 1;
            return self.request_failed(now, pending.to_id, pending.purpose);
        }
        if !answers(&pending.body, &message.body) {
            self.metrics.dropped_unexpected += 1;
            return self.request_failed(now, pending.to_id, pending.purpose);
        }
        // An audit's answer says nothing new about the holder, and its token is for the audit
        // socket: the table keeps what the main socket learned.
        if message.header.role == Role::Node
            && via == Endpoint::Main
            && !self.admission_waits_for_lookup(&pending, &sender, &from)
        {
            self.admit(now, sender, from, answer_token(&message.body));
        }
        match pending.purpose {
            Purpose::Verify => {
                self.verifying.remove(&sender);
            }
            Purpose::EvictCheck => {
                self.evict_checks.remove(&sender);
            }
            Purpose::Command(op) => {
                let answer = Answer {
                    sender,
                    from,
                    sent_at: pending.sent_at,
                    first_attempt: pending.attempt == 0,
                    body: message.body,
                };
                self.on_command_answer(now, op, answer)
            }
            Purpose::Page(op, stream) => self.on_page_answer(now, op, stream, message.body),
            Purpose::Audit(op) => self.on_audit_answer(now, op, sender, message.body),
            Purpose::Reach { watch } => self.on_observed(now, sender, watch, message.body),
        }
    }

    /// A holder answered the audit of a put: it is verified if the page holds the record.
    fn on_audit_answer(&mut self, now: Time, op: OpId, holder: Id, body: Body<A>) {
        self.with_command(now, op, |_, command| {
            let Command::Lookup {
                goal:
                    Goal::Put {
                        storing: Some(plan),
                        ..
                    },
                ..
            } = command
            else {
                return;
            };
            let wanted = plan.audited_record();
            // A record id is the hash of the signed record's encoding: the same id is the
            // same record, signature included.
            let served = matches!(&body, Body::Values { records, .. }
                if records.iter().any(|r| r.id() == wanted));
            plan.on_audit(&holder, served);
        });
    }

    /// True if a node that answered a lookup is offered to the table only when the lookup
    /// ends, and only if it is then among the k closest that answered: a node we knew only
    /// from other nodes' answers, asked on the way, is not admitted for answering. Liars that
    /// name their colluders for every target would otherwise get into the tables of every
    /// node whose lookups they answer (20% misrouters took 69% of the tables of a network
    /// formed by joining, against 22% of pre-filled tables). Table peers are refreshed at once.
    fn admission_waits_for_lookup(&self, pending: &Pending<A>, sender: &Id, from: &A) -> bool {
        let Purpose::Command(op) = pending.purpose else {
            return false;
        };
        matches!(
            self.commands.get(&op).map(|c| &**c),
            Some(Command::Lookup { .. })
        ) && !self.is_table_peer(sender, from)
    }

    /// Offers the k closest nodes that answered a finished lookup to the table.
    pub(super) fn admit_closest(&mut self, now: Time, closest: Vec<(Id, A, Option<Token>)>) {
        for (id, addr, token) in closest {
            self.admit(now, id, addr, token);
        }
    }

    /// True if the answer's sender is proven: we did not challenge it (it is a peer of our
    /// table at this address, matched by `take_pending`), or its proof answers our challenge
    /// for the id it claims. Anything else is treated as no answer: nothing an unproven node
    /// says reaches a lookup, a table or a put's count of holders.
    fn proves_sender(&mut self, pending: &Pending<A>, header: &Header) -> bool {
        let Some(challenge) = &pending.challenge else {
            return true;
        };
        let Auth::Proof(proof) = &header.auth else {
            return false;
        };
        let network = self.config.network;
        // The proof is made for the identity that asked.
        let asker = match pending.via {
            Endpoint::Main => self.id,
            Endpoint::Audit => self.audit_id,
        };
        let evaluated_before = self.checker.work_evaluations();
        let proven = self
            .checker
            .check(proof, &header.sender, network, challenge, &asker)
            .is_ok();
        self.metrics.proofs_checked += 1;
        self.metrics.id_work_evaluations += self.checker.work_evaluations() - evaluated_before;
        proven
    }

    /// Offers a node that answered to the routing table; if its bucket is full, checks the
    /// least recently seen entry (ping-before-evict) unless even that one answered us within
    /// `GOOD_NODE_WINDOW`: a bucket of nodes known to be alive keeps them (long-lived nodes
    /// are the likeliest to stay) and the newcomer waits in the replacement cache.
    fn admit(&mut self, now: Time, id: Id, addr: A, token: Option<Token>) {
        if let Admission::Parked {
            least_recent,
            least_recent_seen,
        } = self.offer_to_table(now, id, addr, token)
            && now.saturating_since(least_recent_seen) >= GOOD_NODE_WINDOW
            && self.evict_checks.insert(least_recent.id)
        {
            let (to, to_id) = (least_recent.addr, Some(least_recent.id));
            self.send_request(now, to, to_id, Body::Ping, Purpose::EvictCheck);
        }
    }

    /// Offers a node to the routing table, counting a refusal by the prefix limits.
    pub(super) fn offer_to_table(
        &mut self,
        now: Time,
        id: Id,
        addr: A,
        token: Option<Token>,
    ) -> Admission<A> {
        let admission = self.table.on_answer(id, addr, now, token);
        if admission == Admission::Refused(Refusal::PrefixLimit) {
            self.metrics.table_refused_prefix += 1;
        }
        admission
    }

    fn on_command_answer(&mut self, now: Time, op: OpId, answer: Answer<A>) {
        let Answer {
            sender,
            from,
            sent_at,
            first_attempt,
            body,
        } = answer;
        // The path's round trip, for the lookup's report; none for an answer to a resend.
        let rtt = first_attempt.then(|| now.saturating_since(sent_at));
        let counted = |lookup: &mut crate::lookup::Lookup<A>, was_counted: bool| {
            if let (true, Some(rtt)) = (was_counted, rtt) {
                lookup.note_rtt(rtt);
            }
        };
        self.with_command(now, op, |node, command| match (command, body) {
            (Command::Ping { reply }, Body::Pong { .. }) => {
                let rtt = now.saturating_since(sent_at);
                *reply = Some(Some(PingReply {
                    id: sender,
                    addr: from,
                    rtt,
                }));
            }
            (
                Command::Bootstrapping {
                    outstanding,
                    answered,
                },
                Body::Pong { .. },
            ) => {
                *outstanding = outstanding.saturating_sub(1);
                *answered += 1;
            }
            // A cut answer still helps: the lookup goes on with the contacts it got.
            (Command::Lookup { lookup, .. }, Body::Nodes { nodes, token, .. }) => {
                let nodes = node.contactable(nodes);
                let was_counted = lookup.on_answer(&sender, &nodes, Some(token));
                counted(lookup, was_counted);
            }
            (
                Command::Lookup {
                    lookup,
                    goal: Goal::Get { pager, .. },
                },
                Body::Values {
                    token,
                    total,
                    next,
                    records,
                },
            ) => {
                let was_counted = lookup.on_answer(&sender, &[], Some(token));
                counted(lookup, was_counted);
                let records = node.verified(pager, records);
                let holder = Contact {
                    id: sender,
                    addr: from,
                };
                let fresh = pager.on_first_page(holder, total, next, records);
                node.emit_records(op, fresh);
            }
            (
                Command::Lookup {
                    goal:
                        Goal::Put {
                            storing: Some(plan),
                            ..
                        },
                    ..
                },
                Body::StoreAck { status },
            ) => plan.on_ack(&sender, status),
            _ => node.metrics.dropped_unexpected += 1,
        });
    }

    /// The contacts of an answer a lookup may follow: none whose address no node can have
    /// (unspecified, port 0, multicast, broadcast); the rest are counted and dropped, so an
    /// answer cannot aim our requests at a third party or nowhere.
    fn contactable(&mut self, nodes: Vec<Contact<A>>) -> Vec<Contact<A>> {
        let before = nodes.len();
        let kept: Vec<Contact<A>> = nodes
            .into_iter()
            .filter(|c| c.addr.is_contactable())
            .collect();
        self.metrics.contacts_refused += (before - kept.len()) as u64;
        kept
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
        self.with_command(now, op, |node, command| {
            let Command::Lookup {
                goal: Goal::Get { pager, .. },
                ..
            } = command
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

    /// A lookup request is overdue and being retried: let the lookup use its slot meanwhile.
    pub(super) fn request_stalled(&mut self, now: Time, to_id: Option<Id>, purpose: Purpose) {
        let (Purpose::Command(op), Some(id)) = (purpose, to_id) else {
            return;
        };
        self.with_command(now, op, |_, command| {
            if let Command::Lookup { lookup, .. } = command {
                lookup.on_stall(&id);
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
            Purpose::Audit(op) => self.with_command(now, op, |_, command| {
                if let (
                    Command::Lookup {
                        goal:
                            Goal::Put {
                                storing: Some(plan),
                                ..
                            },
                        ..
                    },
                    Some(id),
                ) = (command, to_id)
                {
                    plan.on_audit(&id, false);
                }
            }),
            // A check that loses an answer decides at its deadline on what did come back.
            Purpose::Reach { .. } => {}
            Purpose::Page(op, stream) => self.with_command(now, op, |_, command| {
                if let Command::Lookup {
                    goal: Goal::Get { pager, .. },
                    ..
                } = command
                {
                    pager.on_page_failure(stream);
                }
            }),
            Purpose::Command(op) => self.with_command(now, op, |_, command| match command {
                Command::Ping { reply } => *reply = Some(None),
                Command::Bootstrapping { outstanding, .. } => {
                    *outstanding = outstanding.saturating_sub(1)
                }
                Command::Lookup {
                    goal:
                        Goal::Put {
                            storing: Some(plan),
                            ..
                        },
                    ..
                } => plan.on_failure(),
                Command::Lookup { lookup, .. } => {
                    if let Some(id) = to_id {
                        lookup.on_failure(&id);
                    }
                }
            }),
        }
    }
}

/// An answer to one of a command's requests, with what we knew when we sent it.
struct Answer<A> {
    sender: Id,
    from: A,
    sent_at: Time,
    /// True if the answer is to the request's first send (no resend went out yet).
    first_attempt: bool,
    body: Body<A>,
}

/// True if `answer` is a kind of reply `request` can get.
fn answers<A>(request: &Body<A>, answer: &Body<A>) -> bool {
    matches!(
        (request, answer),
        (Body::Ping, Body::Pong { .. })
            | (Body::FindNode { .. }, Body::Nodes { .. })
            | (
                Body::FindValue { .. },
                Body::Nodes { .. } | Body::Values { .. }
            )
            | (Body::Store { .. }, Body::StoreAck { .. })
            | (Body::Observe { .. }, Body::Observed { .. })
    )
}

/// The address token carried by an answer.
fn answer_token<A>(body: &Body<A>) -> Option<Token> {
    match body {
        Body::Pong { token }
        | Body::Nodes { token, .. }
        | Body::Values { token, .. }
        | Body::Observed { token, .. } => Some(*token),
        _ => None,
    }
}
