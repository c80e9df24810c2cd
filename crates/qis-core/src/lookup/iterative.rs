//! The iterative lookup. It keeps candidates sorted by distance to the target, keeps at most α
//! requests in flight to the closest candidates not yet asked, and ends when the k closest
//! candidates it knows (failed ones excluded) have all answered, or no candidate is left.
//!
//! With d > 1 it walks d disjoint paths (S/Kademlia): the starting contacts are dealt to the
//! paths in turn by distance, a contact learned from an answer joins the path of the node that
//! named it unless another path already has it, and each path asks only its own candidates
//! with its own α, until its own k closest have answered. No node is asked by two paths, so an
//! adversary that lies on one path cannot steer the others; the result is the k closest of
//! all the paths' answers.

use super::report::{Hop, LookupReport};
use crate::addr::PeerAddr;
use crate::constants::MAX_LOOKUP_PATHS as MAX_PATHS;
use crate::id::Id;
use crate::time::Time;
use crate::wire::{Contact, Token};

/// How far a candidate has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateState {
    /// Known, not asked yet.
    Fresh,
    /// A request is out.
    InFlight,
    /// A request is out but overdue: it is being retried and no longer holds one of the α
    /// slots, so a slow node does not hold the lookup up; its answer still counts if it comes.
    Stalled,
    /// It answered.
    Answered,
    /// It did not answer (after retries).
    Failed,
}

/// A node the lookup knows of.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<A> {
    /// Its id.
    pub id: Id,
    /// Its address.
    pub addr: A,
    /// Hop depth at which it was learned: 1 = from our own routing table.
    pub depth: u8,
    /// Progress.
    pub state: CandidateState,
    /// The address token it gave us in its answer (needed to store at it).
    pub token: Option<Token>,
    /// The disjoint path it belongs to (0 when there is one).
    pub path: u8,
}

/// A request the lookup wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupRequest<A> {
    /// Whom to ask.
    pub id: Id,
    /// Where.
    pub addr: A,
}

/// One iterative lookup.
#[derive(Debug, Clone)]
pub struct Lookup<A> {
    target: Id,
    local: Id,
    width: usize,
    parallelism: usize,
    candidates: Vec<Candidate<A>>,
    paths: usize,
    /// Requests in flight per path.
    in_flight: [u16; MAX_PATHS],
    requests: u32,
    answered: u32,
    failed: u32,
    started: Time,
}

impl<A: PeerAddr> Lookup<A> {
    /// A lookup for `target` by the node `local`, starting from `start` (the closest contacts
    /// of its routing table, learned at depth 1).
    /// `width` is k (how many closest must answer); `parallelism` is α.
    pub fn new(
        target: Id,
        local: Id,
        start: impl IntoIterator<Item = Contact<A>>,
        width: usize,
        parallelism: usize,
        now: Time,
    ) -> Lookup<A> {
        Lookup::disjoint(target, local, start, width, parallelism, 1, now)
    }

    /// Like [`Lookup::new`], walking `paths` disjoint paths (1 to
    /// [`crate::constants::MAX_LOOKUP_PATHS`]), each with
    /// `width` and `parallelism` of its own.
    pub fn disjoint(
        target: Id,
        local: Id,
        start: impl IntoIterator<Item = Contact<A>>,
        width: usize,
        parallelism: usize,
        paths: usize,
        now: Time,
    ) -> Lookup<A> {
        let mut lookup = Lookup {
            target,
            local,
            width,
            parallelism,
            candidates: Vec::new(),
            paths: paths.clamp(1, MAX_PATHS),
            in_flight: [0; MAX_PATHS],
            requests: 0,
            answered: 0,
            failed: 0,
            started: now,
        };
        for contact in start {
            lookup.learn(contact, 1, 0);
        }
        // Deal the starting contacts to the paths in turn, closest first, so every path starts
        // as close to the target as the others.
        let paths = lookup.paths;
        for (rank, candidate) in lookup.candidates.iter_mut().enumerate() {
            candidate.path = (rank % paths) as u8;
        }
        lookup
    }

    /// The target.
    pub fn target(&self) -> Id {
        self.target
    }

    /// Candidates kept: enough beyond each path's k closest to replace failures without
    /// growing without bound.
    fn capacity(&self) -> usize {
        self.width * 4 * self.paths
    }

    /// Adds a candidate learned at `depth` on `path` unless known (on any path), ourselves, or
    /// too far to matter.
    fn learn(&mut self, contact: Contact<A>, depth: u8, path: u8) {
        if contact.id == self.local {
            return;
        }
        // Distances are computed as needed rather than stored: a smaller candidate makes the
        // sorted insert (a memmove of everything farther) proportionally cheaper.
        let target = self.target;
        let at = match self
            .candidates
            .binary_search_by(|c| c.id.cmp_distance(&contact.id, &target))
        {
            Ok(_) => return,
            Err(at) => at,
        };
        if at >= self.capacity() {
            return;
        }
        let state = CandidateState::Fresh;
        self.candidates.insert(
            at,
            Candidate {
                id: contact.id,
                addr: contact.addr,
                depth,
                state,
                token: None,
                path,
            },
        );
        // Drop the farthest candidate if it was never asked; asked ones stay so their answers
        // are recognised.
        if self.candidates.len() > self.capacity()
            && self
                .candidates
                .last()
                .is_some_and(|c| c.state == CandidateState::Fresh)
        {
            self.candidates.pop();
        }
    }

    fn find(&mut self, id: &Id) -> Option<&mut Candidate<A>> {
        let target = self.target;
        let at = self
            .candidates
            .binary_search_by(|c| c.id.cmp_distance(id, &target))
            .ok()?;
        Some(&mut self.candidates[at])
    }

    /// The k closest candidates of `path` that have not failed.
    fn closest_live(&self, path: u8) -> impl Iterator<Item = &Candidate<A>> {
        self.candidates
            .iter()
            .filter(move |c| c.path == path && c.state != CandidateState::Failed)
            .take(self.width)
    }

    /// The next request to send, if a path has a free slot and a candidate among its k
    /// closest live ones that has not been asked.
    pub fn next_request(&mut self) -> Option<LookupRequest<A>> {
        (0..self.paths as u8).find_map(|path| self.next_request_on(path))
    }

    fn next_request_on(&mut self, path: u8) -> Option<LookupRequest<A>> {
        if usize::from(self.in_flight[usize::from(path)]) >= self.parallelism {
            return None;
        }
        let width = self.width;
        let candidate = self
            .candidates
            .iter_mut()
            .filter(|c| c.path == path && c.state != CandidateState::Failed)
            .take(width)
            .find(|c| c.state == CandidateState::Fresh)?;
        candidate.state = CandidateState::InFlight;
        self.in_flight[usize::from(path)] += 1;
        self.requests += 1;
        Some(LookupRequest {
            id: candidate.id,
            addr: candidate.addr,
        })
    }

    /// `id` answered with `nodes` (empty for a value answer) and an address token.
    pub fn on_answer(&mut self, id: &Id, nodes: &[Contact<A>], token: Option<Token>) {
        let Some(candidate) = self.find(id) else {
            return;
        };
        let was = candidate.state;
        if !matches!(was, CandidateState::InFlight | CandidateState::Stalled) {
            return;
        }
        candidate.state = CandidateState::Answered;
        candidate.token = token;
        let depth = candidate.depth.saturating_add(1);
        let path = candidate.path;
        if was == CandidateState::InFlight {
            self.in_flight[usize::from(path)] -= 1;
        }
        self.answered += 1;
        for contact in nodes {
            self.learn(*contact, depth, path);
        }
    }

    /// `id` has not answered in time and is being asked again: its slot goes to the next
    /// candidate while its answer stays welcome.
    pub fn on_stall(&mut self, id: &Id) {
        let Some(candidate) = self.find(id) else {
            return;
        };
        if candidate.state != CandidateState::InFlight {
            return;
        }
        candidate.state = CandidateState::Stalled;
        let path = usize::from(candidate.path);
        self.in_flight[path] -= 1;
    }

    /// `id` did not answer (the node already retried).
    pub fn on_failure(&mut self, id: &Id) {
        let Some(candidate) = self.find(id) else {
            return;
        };
        let was = candidate.state;
        if !matches!(was, CandidateState::InFlight | CandidateState::Stalled) {
            return;
        }
        candidate.state = CandidateState::Failed;
        let path = usize::from(candidate.path);
        if was == CandidateState::InFlight {
            self.in_flight[path] -= 1;
        }
        self.failed += 1;
    }

    /// True once every path's k closest live candidates have all answered (or none is left).
    pub fn is_finished(&self) -> bool {
        (0..self.paths as u8).all(|path| {
            self.closest_live(path)
                .all(|c| c.state == CandidateState::Answered)
        })
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.iter().map(|&n| usize::from(n)).sum()
    }

    /// The disjoint paths this lookup walks.
    pub fn paths(&self) -> usize {
        self.paths
    }

    /// The closest candidates that answered, closest first (at most k).
    pub fn answered(&self) -> impl Iterator<Item = &Candidate<A>> {
        self.candidates
            .iter()
            .filter(|c| c.state == CandidateState::Answered)
            .take(self.width)
    }

    /// The summary of the lookup so far.
    pub fn report(&self, now: Time) -> LookupReport<A> {
        let closest: Vec<Hop<A>> = self
            .answered()
            .map(|c| Hop {
                contact: Contact {
                    id: c.id,
                    addr: c.addr,
                },
                depth: c.depth,
            })
            .collect();
        let hops = closest.first().map_or(0, |h| h.depth);
        let rounds = self
            .candidates
            .iter()
            .filter(|c| c.state == CandidateState::Answered)
            .map(|c| c.depth)
            .max()
            .unwrap_or(0);
        LookupReport {
            target: self.target,
            closest,
            hops,
            rounds,
            requests: self.requests,
            answered: self.answered,
            failed: self.failed,
            elapsed: now.saturating_since(self.started),
        }
    }
}

#[cfg(test)]
#[path = "iterative_tests.rs"]
mod tests;
