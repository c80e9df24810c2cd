//! Outgoing requests: transaction ids, padding, the pending table, timeouts and retries.

use super::command::Purpose;
use super::timers::Timer;
use super::{Endpoint, Node};
use crate::addr::PeerAddr;
use crate::constants::{
    AMPLIFICATION_FACTOR, CHALLENGE_BYTES, MAX_RECORD, MAX_REQUEST_ATTEMPTS, STRANGER_ATTEMPTS,
    TOKEN_ROTATION, UNVERIFIED_REQUEST_MIN,
};
use crate::id::Id;
use crate::proof::Challenge;
use crate::time::Time;
use crate::upload::UploadClass;
use crate::wire::{self, Auth, Body, Header, Message, Padding, Role, TxId};

/// Why a datagram was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unsent {
    /// Over the upload budget: treated as lost.
    Shed,
    /// It did not encode within the datagram budget (a bug in what we built).
    Encode,
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
pub(super) struct Pending<A> {
    pub to: A,
    pub to_id: Option<Id>,
    pub body: Body<A>,
    pub sent_at: Time,
    pub deadline: Time,
    pub attempt: u8,
    pub purpose: Purpose,
    /// The challenge the answer must prove the responder's id over; `None` when the responder
    /// already proved it (it is in our table at this address).
    pub challenge: Option<Challenge>,
    /// The socket it left from, which the answer must reach.
    pub via: Endpoint,
}

impl<A: PeerAddr> Node<A> {
    pub(super) fn header(&self, txid: TxId, auth: Auth) -> Header {
        Header {
            version: crate::constants::PROTOCOL_VERSION,
            network: self.config.network,
            txid,
            sender: self.id,
            role: self.config.role,
            auth,
        }
    }

    /// The header of a request leaving from `via`: an audit goes out as a client under the
    /// audit identity, which no other node knows to be ours.
    fn request_header(&self, txid: TxId, auth: Auth, via: Endpoint) -> Header {
        let header = self.header(txid, auth);
        match via {
            Endpoint::Main => header,
            Endpoint::Audit => Header {
                sender: self.audit_id,
                role: Role::Client,
                ..header
            },
        }
    }

    /// A fresh challenge for a request to `to_id` at `to`, unless it already proved its id: a
    /// node in our table at that address answered an earlier challenge from there.
    fn challenge_for(&mut self, to: &A, to_id: Option<Id>) -> Option<Challenge> {
        if to_id.is_some_and(|id| self.is_table_peer(&id, to)) {
            return None;
        }
        let mut challenge = [0u8; CHALLENGE_BYTES];
        challenge.copy_from_slice(&self.txids.next_bytes()[..CHALLENGE_BYTES]);
        Some(Challenge(challenge))
    }

    /// Queues `message` for `to`, counting it. An encoding failure is a bug in what we built,
    /// never caused by input; it is dropped and counted rather than sent oversize.
    pub(super) fn transmit(&mut self, now: Time, to: A, message: &Message<A>) -> bool {
        self.transmit_via(now, to, message, Endpoint::Main, UploadClass::Foreground)
            .is_ok()
    }

    /// Like [`Node::transmit`], from the socket `via`, within the upload budget for `class`:
    /// [`Unsent::Shed`] (counted in `upload_shed`) when over it, as if the datagram were lost.
    pub(super) fn transmit_via(
        &mut self,
        now: Time,
        to: A,
        message: &Message<A>,
        via: Endpoint,
        class: UploadClass,
    ) -> Result<(), Unsent> {
        match wire::encode(message) {
            Ok(payload) => {
                if let Some(budget) = &mut self.upload
                    && !budget.try_spend(now, payload.len(), class)
                {
                    self.metrics.upload_shed += 1;
                    return Err(Unsent::Shed);
                }
                self.metrics.datagrams_out += 1;
                self.metrics.bytes_out += payload.len() as u64;
                self.transmits
                    .push_back(super::Transmit { to, payload, via });
                Ok(())
            }
            Err(_) => {
                self.metrics.encode_failures += 1;
                Err(Unsent::Encode)
            }
        }
    }

    /// A token `id` gave us recently enough that it is certainly still accepted.
    pub(super) fn known_token(&self, id: Option<Id>, now: Time) -> Option<wire::Token> {
        self.table.token_for(&id?, now, TOKEN_ROTATION)
    }

    /// Adds our token for `to` to a FIND request, or pads it when we have none, so that the
    /// full answer is within the amplification limit. A token is bound to the address it was
    /// given to, so the audit socket never has one.
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    fn prepare(
        &self,
        to: &A,
        mut body: Body<A>,
        to_id: Option<Id>,
        auth: Auth,
        now: Time,
        via: Endpoint,
        announce: bool,
    ) -> Body<A> {
        let token = match via {
            Endpoint::Main => self.known_token(to_id, now),
            Endpoint::Audit => None,
        };
        match &mut body {
            Body::FindNode { token: t, pad, .. } | Body::FindValue { token: t, pad, .. } => {
                *t = token;
                *pad = Padding(0);
                if token.is_none() {
                    let probe = Message {
                        header: self.request_header(TxId(u32::MAX), auth, via),
                        body: body.clone(),
                    };
                    let mut answer = self.largest_answer(to, &body);
                    if announce {
                        answer += usize::from(MAX_REQUEST_ATTEMPTS) * self.verification_ping_len();
                    }
                    let wanted = answer.div_ceil(AMPLIFICATION_FACTOR);
                    let short = wanted
                        .min(UNVERIFIED_REQUEST_MIN)
                        .saturating_sub(wire::encoded_len(&probe));
                    if let Body::FindNode { pad, .. } | Body::FindValue { pad, .. } = &mut body {
                        *pad = Padding(short as u16);
                    }
                }
                body
            }
            _ => body,
        }
    }

    /// The largest answer a node at `to` gives `request` in full: `Nodes` with k contacts at
    /// addresses of `to`'s family of the widest encoding, a proof and the widest transaction
    /// id; for FIND_VALUE, also a page of one record of the largest size (so a holder that has
    /// not verified us can still hand over its values one at a time). The padding of a request
    /// without a token makes it a third of this, and no more: a full 1232-byte datagram is
    /// rarely what comes back.
    fn largest_answer(&self, to: &A, request: &Body<A>) -> usize {
        let proof = Auth::Proof(crate::proof::IdentityProof {
            public_key: crate::record::PublicKey([u8::MAX; 32]),
            work: crate::work::IdWork(u64::MAX),
            signature: crate::record::Signature([u8::MAX; 64]),
        });
        let header = self.header(TxId(u32::MAX), proof);
        let token = wire::Token([u8::MAX; crate::constants::TOKEN_BYTES]);
        let contact = wire::Contact {
            id: self.id,
            addr: to.widest_peer(),
        };
        let nodes = Message {
            header: header.clone(),
            body: Body::Nodes {
                token,
                cut: false,
                nodes: vec![contact; self.config.k],
            },
        };
        let nodes = wire::encoded_len(&nodes);
        if !matches!(request, Body::FindValue { .. }) {
            return nodes;
        }
        let values = Message::<A> {
            header,
            body: Body::Values {
                token,
                total: u32::MAX,
                next: None,
                records: Vec::new(),
            },
        };
        // As `values_answer` counts a page: room for `next`, then each record and its count.
        let values = wire::encoded_len(&values) + 1 + 32 + MAX_RECORD + 1;
        nodes.max(values)
    }

    /// How a request for `purpose` spends the upload budget: verification and eviction pings
    /// and the maintenance commands' requests yield first.
    fn upload_class(&self, purpose: Purpose) -> UploadClass {
        let op = match purpose {
            Purpose::Verify | Purpose::EvictCheck | Purpose::Reach { .. } => {
                return UploadClass::Maintenance;
            }
            Purpose::Command(op) | Purpose::Page(op, _) | Purpose::Audit(op) => op,
        };
        let maintenance = self.maintaining
            || matches!(
                self.commands.get(&op).map(|c| &**c),
                Some(super::command::Command::Lookup { goal, .. }) if goal.is_maintenance()
            );
        if maintenance {
            UploadClass::Maintenance
        } else {
            UploadClass::Foreground
        }
    }

    fn fresh_txid(&mut self) -> TxId {
        loop {
            let txid = TxId(self.txids.next_u32());
            if !self.pending.contains_key(&txid) {
                return txid;
            }
        }
    }

    /// True if `to` (claiming `to_id`) is a stranger to the reflection defence (see
    /// [`super::hosts`]): not exempt (loopback), not a peer of our table there, and its host
    /// has not answered us lately.
    fn is_stranger(&self, to: &A, to_id: Option<Id>) -> bool {
        self.config.table.limits(to)
            && !self.hosts.has_heard(to.prefixes().host)
            && !to_id.is_some_and(|id| self.is_table_peer(&id, to))
    }

    /// Sends a request and remembers it until answered or timed out. Returns false if it was
    /// not sent: a lookup's request (FIND_NODE, FIND_VALUE of a command, not a page) to a
    /// stranger over its first contacts this window (counted in `first_contacts_limited`); the caller treats it as
    /// failed.
    pub(super) fn send_request(
        &mut self,
        now: Time,
        to: A,
        to_id: Option<Id>,
        body: Body<A>,
        purpose: Purpose,
    ) -> bool {
        self.send_request_via(now, to, to_id, body, purpose, Endpoint::Main)
    }

    /// Like [`Node::send_request`], from the socket `via`.
    pub(super) fn send_request_via(
        &mut self,
        now: Time,
        to: A,
        to_id: Option<Id>,
        body: Body<A>,
        purpose: Purpose,
        via: Endpoint,
    ) -> bool {
        if matches!(purpose, Purpose::Command(_))
            && is_lookup_request(&body)
            && self.is_stranger(&to, to_id)
            && !self.hosts.first_contact(to.prefixes().host, now)
        {
            self.metrics.first_contacts_limited += 1;
            return false;
        }
        let challenge = self.challenge_for(&to, to_id);
        let auth = challenge.map_or(Auth::None, Auth::Challenge);
        let announce = self.announcing && matches!(purpose, Purpose::Command(_));
        let body = self.prepare(&to, body, to_id, auth, now, via, announce);
        let txid = self.fresh_txid();
        let pending = Box::new(Pending {
            to,
            to_id,
            body,
            sent_at: now,
            deadline: now,
            attempt: 0,
            purpose,
            challenge,
            via,
        });
        self.send_attempt(now, txid, pending);
        true
    }

    /// Sends (or re-sends) `pending` under `txid` and arms its deadline. A retry keeps the
    /// transaction id, so an answer to an earlier attempt that was only slow, not lost, is
    /// still accepted when it arrives.
    fn send_attempt(&mut self, now: Time, txid: TxId, mut pending: Box<Pending<A>>) {
        let auth = pending.challenge.map_or(Auth::None, Auth::Challenge);
        let message = Message {
            header: self.request_header(txid, auth, pending.via),
            body: std::mem::replace(&mut pending.body, Body::Ping),
        };
        let class = self.upload_class(pending.purpose);
        // Shed by the upload budget, the attempt is as good as lost: it waits out its timeout
        // and is retried like one.
        match self.transmit_via(now, pending.to, &message, pending.via, class) {
            Ok(()) => self.metrics.requests_sent += 1,
            Err(Unsent::Shed) => {}
            Err(Unsent::Encode) => {
                return self.request_failed(now, pending.to_id, pending.purpose);
            }
        }
        pending.body = message.body;
        pending.deadline = now + self.rtt.timeout(pending.attempt);
        self.timers.set(Timer::Request(txid), pending.deadline);
        self.pending.insert(txid, pending);
    }

    /// Takes the pending request `txid` answered by `from`, if the answer is genuine: it must
    /// come from the address asked and, when we knew whom we asked, from that node.
    pub(super) fn take_pending(
        &mut self,
        txid: TxId,
        from: A,
        sender: Id,
        via: Endpoint,
    ) -> Option<Box<Pending<A>>> {
        let Some(pending) = self.pending.get(&txid) else {
            self.metrics.dropped_unknown_txid += 1;
            return None;
        };
        if pending.to != from || pending.via != via {
            // A forged answer must not cancel the real one: the request stays pending.
            self.metrics.dropped_spoofed += 1;
            return None;
        }
        // A contact named in an answer is known by its id's first bytes only (`Id::hint`).
        if pending.to_id.is_some_and(|id| !id.names(&sender)) {
            self.metrics.dropped_wrong_sender += 1;
            return None;
        }
        let pending = self.pending.remove(&txid)?;
        self.timers.stop(Timer::Request(txid), pending.deadline);
        Some(pending)
    }

    /// Retries or fails every request whose deadline has passed.
    pub(super) fn expire_requests(&mut self, now: Time) {
        while let Some(txid) = self.timers.pop_expired_request(now) {
            let Some(mut p) = self.pending.remove(&txid) else {
                continue;
            };
            if p.attempt + 1 < MAX_REQUEST_ATTEMPTS {
                let (to_id, purpose, first_retry) = (p.to_id, p.purpose, p.attempt == 0);
                p.attempt += 1;
                if p.attempt <= MAX_REQUEST_ATTEMPTS - STRANGER_ATTEMPTS
                    && is_lookup_request(&p.body)
                    && self.is_stranger(&p.to, p.to_id)
                {
                    // A stranger (it may be a victim named by a liar) is sent a lookup request
                    // at most `STRANGER_ATTEMPTS` times, the resends at the last attempts (the
                    // farthest from a loss burst); its answer is awaited as long as ever.
                    p.deadline = now + self.rtt.timeout(p.attempt);
                    self.timers.set(Timer::Request(txid), p.deadline);
                    self.pending.insert(txid, p);
                } else {
                    self.metrics.retries += 1;
                    self.send_attempt(now, txid, p);
                }
                if first_retry {
                    self.request_stalled(now, to_id, purpose);
                }
            } else {
                self.metrics.requests_failed += 1;
                if let Some(id) = p.to_id {
                    self.table.on_failure(&id);
                }
                self.request_failed(now, p.to_id, p.purpose);
            }
        }
    }
}

/// True for the requests a lookup sends to contacts others named (FIND_NODE, FIND_VALUE): the
/// ones the first-contact limits apply to.
fn is_lookup_request<A>(body: &Body<A>) -> bool {
    matches!(body, Body::FindNode { .. } | Body::FindValue { .. })
}
