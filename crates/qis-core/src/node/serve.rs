//! Answering requests. An answer to a source that has not proven its address (no valid token
//! in its request) is cut to at most `AMPLIFICATION_FACTOR` times the request's size, so the
//! node cannot be used to amplify traffic toward a spoofed victim.

use super::Node;
use super::command::Purpose;
use crate::addr::PeerAddr;
use crate::constants::{
    AMPLIFICATION_FACTOR, MAX_CLOCK_SKEW, MAX_DATAGRAM, MAX_RECORD, MAX_REQUEST_ATTEMPTS,
};
use crate::id::Id;
use crate::proof::Challenge;
use crate::ratelimit::{Shed, Standing};
use crate::record::RecordId;
use crate::store::{StoreError, Stored};
use crate::time::Time;
use crate::wire::{
    self, Auth, Body, Contact, Header, Message, Role, StoreRefusal, StoreStatus, Token,
};

impl<A: PeerAddr> Node<A> {
    pub(super) fn serve(&mut self, now: Time, from: A, request_len: usize, message: Message<A>) {
        if self.config.role == Role::Client {
            self.metrics.dropped_not_serving += 1;
            return;
        }
        let sender = message.header.sender;
        let txid = message.header.txid;
        let verified = match &message.body {
            Body::FindNode { token, .. }
            | Body::FindValue { token, .. }
            | Body::Observe { token, .. } => token.is_some_and(|t| self.tokens.check(&from, &t)),
            // A store carries a token by construction; a ping's answer is tiny anyway.
            Body::Store { token, .. } => self.tokens.check(&from, token),
            _ => false,
        };
        if !self.within_rate_limits(now, &from, sender, verified) {
            return;
        }
        let limit = if verified {
            MAX_DATAGRAM
        } else {
            (request_len * AMPLIFICATION_FACTOR).min(MAX_DATAGRAM)
        };
        let token = self.tokens.mint(&from);
        let auth = match &message.header.auth {
            Auth::Challenge(challenge) => {
                self.answer_challenge(now, &from, sender, verified, challenge)
            }
            Auth::None | Auth::Proof(_) => Auth::None,
        };
        let header = self.header(txid, auth);
        let answer = match message.body {
            Body::Ping => Some(reply(&header, Body::Pong { token })),
            Body::FindNode { target, .. } => {
                Some(self.nodes_answer(&header, token, &target, sender, limit))
            }
            Body::FindValue { key, start, .. } => {
                Some(self.values_answer(&header, token, &key, &start, sender, limit))
            }
            Body::Store {
                key,
                token: presented,
                record,
            } => {
                let status = self.accept_store(now, &from, sender, key, &presented, record);
                Some(reply(&header, Body::StoreAck { status }))
            }
            Body::Observe { probe, .. } => {
                Some(self.answer_observe(now, from, &header, token, verified, probe))
            }
            _ => None,
        };
        // Sized only where the verification rule below needs it: this runs per request.
        let needs_budget = message.header.role == Role::Node && !verified;
        let answer_len = match &answer {
            Some(answer) if needs_budget => wire::encoded_len(answer),
            _ => 0,
        };
        if let Some(answer) = answer
            && self.transmit(now, from, &answer)
        {
            self.metrics.requests_answered += 1;
        }
        // A verification ping (and its retries) is traffic toward the source beyond the answer,
        // so a source that has not proved its address (no valid token) gets one only if the
        // answer and every attempt of the ping together stay within the amplification limit:
        // a request with a forged source address must not buy more than that. A padded first
        // request to a node with a small table leaves room; otherwise the requester is
        // verified at its next request, which carries our token.
        let within_budget = || {
            let ping_cost = usize::from(MAX_REQUEST_ATTEMPTS) * self.verification_ping_len();
            answer_len + ping_cost <= request_len * AMPLIFICATION_FACTOR
        };
        if message.header.role == Role::Node && (verified || within_budget()) {
            self.consider_verifying(now, sender, from);
        }
    }

    /// Charges the request to the rate limits; false (and counted) when it must be shed.
    /// Sources that proved their address or sit in our table at this address skip the budget
    /// shared by strangers.
    fn within_rate_limits(&mut self, now: Time, from: &A, sender: Id, verified: bool) -> bool {
        // The table lookup only when a limiter runs: the simulator has none, and this is per
        // request.
        if self.limiter.is_none() {
            return true;
        }
        let known = self.is_table_peer(&sender, from);
        let Some(limiter) = &mut self.limiter else {
            return true;
        };
        let standing = if verified || known {
            Standing::Proven
        } else {
            Standing::Unproven
        };
        match limiter.admit(from.prefixes(), standing, now) {
            Ok(()) => true,
            Err(Shed::Host) => {
                self.metrics.dropped_rate_limited += 1;
                false
            }
            Err(Shed::Budget) => {
                self.metrics.dropped_over_budget += 1;
                false
            }
        }
    }

    /// True if a store from `from` (claiming `sender`) may spend a signature check now: peers
    /// in our table (re-replicating) always may; others within their prefix's share.
    fn may_check_signature(&mut self, now: Time, from: &A, sender: Id) -> bool {
        if self.limiter.is_none() || self.is_table_peer(&sender, from) {
            return true;
        }
        let Some(limiter) = &mut self.limiter else {
            return true;
        };
        limiter.admit_signature_check(from.prefixes(), now)
    }

    /// True if `id` is in our routing table at `addr`: a peer that answered us from there.
    pub(super) fn is_table_peer(&self, id: &Id, addr: &A) -> bool {
        self.table.get(id).is_some_and(|e| e.addr == *addr)
    }

    /// The size of a verification ping at its largest (a challenge, the widest transaction id).
    pub(super) fn verification_ping_len(&self) -> usize {
        let challenge = Challenge([0xff; crate::constants::CHALLENGE_BYTES]);
        let ping = Message::<A> {
            header: self.header(crate::wire::TxId(u32::MAX), Auth::Challenge(challenge)),
            body: Body::Ping,
        };
        wire::encoded_len(&ping)
    }

    /// The proof answering `challenge` from `sender`, if the source may have one signed now:
    /// sources that proved their address or sit in our table always may, strangers within
    /// their prefix's share of the signing budget (a signature costs tens of microseconds, so
    /// a flood of challenges must not buy one each).
    fn answer_challenge(
        &mut self,
        now: Time,
        from: &A,
        sender: Id,
        verified: bool,
        challenge: &Challenge,
    ) -> Auth {
        if !verified && !self.may_check_signature(now, from, sender) {
            self.metrics.proofs_withheld += 1;
            return Auth::None;
        }
        self.metrics.proofs_sent += 1;
        let network = self.config.network;
        Auth::Proof(self.credentials.prove(network, challenge, &sender))
    }

    /// The k closest contacts we know to `target` (never the asker itself), cut to `limit`.
    fn nodes_answer(
        &mut self,
        header: &Header,
        token: Token,
        target: &Id,
        asker: Id,
        limit: usize,
    ) -> Message<A> {
        let nodes: Vec<Contact<A>> = self
            .table
            .closest(target, self.config.k + 1)
            .into_iter()
            .filter(|e| e.id != asker)
            .take(self.config.k)
            .map(|e| Contact {
                id: e.id,
                addr: e.addr,
            })
            .collect();
        let mut answer = reply(
            header,
            Body::Nodes {
                token,
                cut: false,
                nodes,
            },
        );
        // A full answer always fits one datagram (checked by the wire tests), so only a limit
        // below the datagram budget needs the answer measured.
        while limit < MAX_DATAGRAM && wire::encoded_len(&answer) > limit {
            let Body::Nodes { nodes, cut, .. } = &mut answer.body else {
                break;
            };
            if nodes.pop().is_none() {
                break;
            }
            *cut = true;
        }
        if matches!(answer.body, Body::Nodes { cut: true, .. }) {
            self.metrics.answers_cut += 1;
        }
        answer
    }

    /// A page of the values under `key` from `start` in record-id order, or the best-ranked
    /// ones for [`RecordId::BEST_FIRST`], as many as fit `limit`; or, if we hold none, the
    /// closest nodes.
    fn values_answer(
        &mut self,
        header: &Header,
        token: Token,
        key: &Id,
        start: &RecordId,
        asker: Id,
        limit: usize,
    ) -> Message<A> {
        let total = self.store.count(key);
        if total == 0 {
            return self.nodes_answer(header, token, key, asker, limit);
        }
        let mut answer = reply(
            header,
            Body::Values {
                token,
                total: total as u32,
                next: None,
                records: Vec::new(),
            },
        );
        let mut size = wire::encoded_len(&answer) + 1 + 32; // room for `next` once it is set
        let mut next = None;
        let mut page = Vec::new();
        let best_first = *start == RecordId::BEST_FIRST;
        let values: Box<dyn Iterator<Item = (&RecordId, &Stored)>> = if best_first {
            Box::new(self.store.best_first(key).into_iter())
        } else {
            Box::new(self.store.page_from(key, *start))
        };
        for (id, stored) in values {
            // Each record adds its encoding, plus at most one byte when the count varint grows.
            let add = stored.record.encoded_len().min(MAX_RECORD) + 1;
            if size + add > limit {
                // After the best values, paging goes through them all in record-id order.
                next = Some(if best_first { RecordId::LOWEST } else { *id });
                break;
            }
            size += add;
            page.push(stored.record.clone());
        }
        if next.is_some() && limit < MAX_DATAGRAM {
            self.metrics.answers_cut += 1;
        }
        if let Body::Values {
            next: n, records, ..
        } = &mut answer.body
        {
            *n = next;
            *records = page;
        }
        answer
    }

    fn accept_store(
        &mut self,
        now: Time,
        from: &A,
        sender: Id,
        key: Id,
        token: &Token,
        record: crate::record::SignedRecord,
    ) -> StoreStatus {
        if !self.tokens.check(from, token) {
            self.metrics.store_refused_token += 1;
            return StoreStatus::Refused(StoreRefusal::BadToken);
        }
        if !self.may_check_signature(now, from, sender) {
            self.metrics.store_refused_busy += 1;
            return StoreStatus::Refused(StoreRefusal::Busy);
        }
        match self.record_validity(now, &key, &record) {
            Validity::Valid => {}
            Validity::Future => {
                self.metrics.store_refused_future += 1;
                return StoreStatus::Refused(StoreRefusal::Invalid);
            }
            Validity::Invalid => {
                self.metrics.store_refused_invalid += 1;
                return StoreStatus::Refused(StoreRefusal::Invalid);
            }
        }
        // A peer of our table at its address is re-replicating what others published: the
        // record is charged to its publisher, not to the peer's prefix.
        let source = (!self.is_table_peer(&sender, from)).then(|| from.prefixes().wide);
        match self.store.put(key, record, now, source) {
            Ok(evicted) => {
                self.metrics.records_stored += 1;
                self.metrics.records_evicted += evicted as u64;
                StoreStatus::Stored
            }
            Err(error) => {
                let counter = match error {
                    StoreError::KeyFull(_) | StoreError::StoreFull(_) => {
                        &mut self.metrics.store_refused_full
                    }
                    StoreError::PublisherKeyQuota(_) | StoreError::PublisherQuota(_) => {
                        &mut self.metrics.store_refused_publisher_quota
                    }
                    StoreError::PrefixQuota(_) => &mut self.metrics.store_refused_prefix_quota,
                };
                *counter += 1;
                StoreStatus::Refused(StoreRefusal::Full)
            }
        }
    }

    /// Whether `record` may be held under `key`: created no later than the wall clock
    /// allows (checked first: it is cheap), within the size limit, and passing the policy
    /// (which checks the signature). Stores and restores after a restart both ask this.
    pub(super) fn record_validity(
        &self,
        now: Time,
        key: &Id,
        record: &crate::record::SignedRecord,
    ) -> Validity {
        if let Some(wall) = self.unix_time(now)
            && record.created > wall.saturating_add(MAX_CLOCK_SKEW.as_secs())
        {
            return Validity::Future;
        }
        if record.encoded_len() > MAX_RECORD || self.config.policy.check(key, record).is_err() {
            return Validity::Invalid;
        }
        Validity::Valid
    }

    /// A full node that contacted us may belong in our table, but only nodes that answer our
    /// own requests are admitted: ping it if its bucket has room.
    fn consider_verifying(&mut self, now: Time, id: Id, addr: A) {
        if id == self.id
            || self.table.get(&id).is_some()
            || self.verifying.contains(&id)
            || self.verifying.len() >= super::MAX_VERIFICATIONS
            || self.table.bucket_len(self.table.bucket_index(&id)) >= self.config.table.bucket_size
        {
            return;
        }
        self.verifying.insert(id);
        self.send_request(now, addr, Some(id), Body::Ping, Purpose::Verify);
    }
}

/// What [`Node::record_validity`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Validity {
    /// The record may be held.
    Valid,
    /// Created further ahead of the wall clock than `MAX_CLOCK_SKEW`.
    Future,
    /// Too large, refused by the policy, or badly signed.
    Invalid,
}

/// An answer with `header` (ours, echoing the request's transaction id).
fn reply<A>(header: &Header, body: Body<A>) -> Message<A> {
    Message {
        header: header.clone(),
        body,
    }
}
