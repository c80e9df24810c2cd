//! The node's side of reachability checks (see [`crate::reach`]): asking peers to observe and
//! probe us, answering their `Observe`, taking probes, and switching role on a verdict.

use super::command::Purpose;
use super::timers::Timer;
use super::{Endpoint, Node};
use crate::addr::PeerAddr;
use crate::id::Id;
use crate::reach::{Outcome, ReachReport, Verdict};
use crate::time::Time;
use crate::upload::UploadClass;
use crate::wire::{Auth, Body, Message, ProbeNonce, Role, Token, TxId};
use rand::seq::SliceRandom;

impl<A: PeerAddr> Node<A> {
    /// Reachability as the checks found it, for a node in the automatic role
    /// ([`crate::Config::auto_role`]); `None` for a fixed role.
    pub fn reachability(&self) -> Option<ReachReport<A>> {
        self.reach.as_ref().map(|r| r.report())
    }

    /// The role this node announces now: its configured one, or what reachability decided.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// Checks reachability again now, in the automatic role (otherwise does nothing): for a
    /// driver that knows something changed, such as a port mapping made at the gateway or a
    /// new network interface.
    pub fn recheck_reachability(&mut self, now: Time) {
        if let Some(reach) = &mut self.reach {
            reach.due_now(now);
            self.reach_tick(now);
        }
    }

    /// The join finished: the first check can ask the peers it found.
    pub(super) fn reach_after_join(&mut self, now: Time) {
        if let Some(reach) = &mut self.reach
            && !reach.checking()
            && reach.verdict() == Verdict::Unknown
        {
            reach.due_now(now);
            self.reach_tick(now);
        }
    }

    /// The reachability timer fired, or something it waits for arrived.
    pub(super) fn reach_tick(&mut self, now: Time) {
        self.decide_reachability(now);
        let Some(reach) = &mut self.reach else { return };
        if reach.check_due(now) {
            self.start_reach_check(now);
        } else if reach.take_watch(now) {
            self.watch_address(now);
        }
        self.arm_reach_timer();
    }

    fn arm_reach_timer(&mut self) {
        match self.reach.as_ref().and_then(|r| r.next_deadline()) {
            Some(at) => self.timers.set(Timer::Reach, at),
            None => self.timers.stop(Timer::Reach, Time::ZERO),
        }
    }

    /// Asks peers of our table, one per wide prefix, to observe and probe us.
    fn start_reach_check(&mut self, now: Time) {
        let mut candidates: Vec<(Id, A)> = self.table.entries().map(|e| (e.id, e.addr)).collect();
        candidates.shuffle(&mut self.rng);
        let Some(reach) = &mut self.reach else { return };
        let txids = &mut self.txids;
        let asked = reach.start_check(now, candidates, || {
            let mut nonce = [0u8; crate::constants::PROBE_NONCE_BYTES];
            nonce.copy_from_slice(&txids.next_bytes()[..crate::constants::PROBE_NONCE_BYTES]);
            ProbeNonce(nonce)
        });
        if asked.is_empty() {
            return;
        }
        self.metrics.reach_checks += 1;
        for (id, addr, nonce) in asked {
            let token = self.known_token(Some(id), now);
            let body = Body::Observe {
                token,
                probe: Some(nonce),
            };
            self.send_request(now, addr, Some(id), body, Purpose::Reach { watch: false });
        }
    }

    /// Asks one peer of the last check, in turn, which address it sees us at (a peer that has
    /// left our table is skipped this time).
    fn watch_address(&mut self, now: Time) {
        let Some(id) = self.reach.as_mut().and_then(|r| r.watch_pick()) else {
            return;
        };
        let Some(addr) = self.table.get(&id).map(|e| e.addr) else {
            return;
        };
        let token = self.known_token(Some(id), now);
        let body = Body::Observe { token, probe: None };
        self.send_request(now, addr, Some(id), body, Purpose::Reach { watch: true });
    }

    /// A peer answered our `Observe`.
    pub(super) fn on_observed(&mut self, now: Time, peer: Id, watch: bool, body: Body<A>) {
        let (Body::Observed { addr, .. }, Some(reach)) = (body, self.reach.as_mut()) else {
            return;
        };
        if watch {
            reach.on_watch(now, &peer, addr);
        } else {
            reach.on_observed(&peer, addr);
        }
        self.reach_tick(now);
    }

    /// A probe arrived on the main socket.
    pub(super) fn on_probe(&mut self, now: Time, nonce: &ProbeNonce) {
        let counted = self.reach.as_mut().is_some_and(|r| r.on_probe(nonce));
        if !counted {
            self.metrics.dropped_probe += 1;
            return;
        }
        self.metrics.reach_probes_received += 1;
        self.reach_tick(now);
    }

    /// Applies a finished check's verdict: the role follows it.
    fn decide_reachability(&mut self, now: Time) {
        let Some(reach) = &mut self.reach else { return };
        let Outcome::Changed(verdict) = reach.decide(now) else {
            return;
        };
        match verdict {
            Verdict::Reachable => self.become_full_node(now),
            Verdict::Unreachable | Verdict::Unknown => self.config.role = Role::Client,
        }
    }

    /// From client to full node: upkeep starts, and a lookup of our own id announces us to
    /// the nodes closest to it, which now verify us and enter us into their tables.
    fn become_full_node(&mut self, now: Time) {
        self.config.role = Role::Node;
        let op = self.new_op();
        self.start_find_node(now, op, self.id, false);
    }

    /// Answers an `Observe` from `from`: the address we see it at, and, if it asked and its
    /// token proves that address, a probe there from our audit socket, which it never
    /// contacted. The probe is smaller than the request and goes only where the request came
    /// from, so it amplifies nothing and cannot be aimed at a third party.
    pub(super) fn answer_observe(
        &mut self,
        now: Time,
        from: A,
        answer_header: &crate::wire::Header,
        token: Token,
        verified: bool,
        probe: Option<ProbeNonce>,
    ) -> Message<A> {
        self.metrics.observes_answered += 1;
        if let (true, Some(nonce)) = (verified, probe) {
            let probe = Message {
                header: self.probe_header(),
                body: Body::Probe { nonce },
            };
            let sent =
                self.transmit_via(now, from, &probe, Endpoint::Audit, UploadClass::Foreground);
            if sent.is_ok() {
                self.metrics.reach_probes_sent += 1;
            }
        }
        Message {
            header: answer_header.clone(),
            body: Body::Observed { token, addr: from },
        }
    }

    /// A probe's header: from the audit identity, as a client, answering nothing.
    fn probe_header(&self) -> crate::wire::Header {
        crate::wire::Header {
            sender: self.audit_id,
            role: Role::Client,
            ..self.header(TxId(0), Auth::None)
        }
    }
}
