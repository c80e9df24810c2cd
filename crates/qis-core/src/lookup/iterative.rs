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
//!
//! The k closest set is spread over address blocks: among the candidates a path counts as its
//! k closest, and among those a lookup returns, at most [`LOOKUP_MAX_PER_PREFIX`] share a wide
//! prefix (IPv4 /24, IPv6 /48) and at most [`LOOKUP_MAX_PER_HOST`] a host (IPv4 /32, IPv6 /64);
//! the others are skipped, so ids ground near a key from one block take at most that many of
//! the k places (and of a put's holders). Loopback addresses are exempt, as in the routing
//! table. A failed candidate holds no place, so the next of its block may take it.

use super::report::{Hop, LookupReport};
use crate::addr::PeerAddr;
use crate::constants::MAX_LOOKUP_PATHS as MAX_PATHS;
use crate::constants::{LOOKUP_MAX_PER_HOST, LOOKUP_MAX_PER_PREFIX};
use crate::id::Id;
use crate::time::{Duration, Time};
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
    /// Apply the address limits to loopback addresses too (see [`Lookup::limiting_local`]).
    limit_local: bool,
    requests: u32,
    answered: u32,
    failed: u32,
    /// Round-trip times of the answers counted (see [`LookupReport::rtts`]), in microseconds:
    /// four bytes each, since a million simulated nodes keep their lookups' samples.
    rtts_us: Vec<u32>,
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
            rtts_us: Vec::new(),
            started: now,
            limit_local: false,
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

    /// The same lookup applying the address limits to loopback addresses too, as the routing
    /// table does when `TableConfig::limit_local` is set: tests that mount an attack from
    /// many loopback addresses meet the limits a real network would.
    pub fn limiting_local(mut self, limit_local: bool) -> Lookup<A> {
        self.limit_local = limit_local;
        self
    }

    /// True if the address limits do not apply to `addr` (loopback, unless limited too).
    fn exempt(&self, addr: &A) -> bool {
        !self.limit_local && addr.exempt_from_host_limit()
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
        if contact.id.names(&self.local) {
            return;
        }
        // Distances are computed as needed rather than stored: a smaller candidate makes the
        // sorted insert (a memmove of everything farther) proportionally cheaper. Candidates
        // are ordered by their first 64 bits, all an answer's contacts carry (`Id::hint`), so
        // a node known by its full id and by a hint is one candidate.
        let target = self.target;
        let at = match self
            .candidates
            .binary_search_by(|c| c.id.cmp_hint_distance(&contact.id, &target))
        {
            Ok(_) => return,
            Err(at) => at,
        };
        // The starting contacts (depth 1, our own table, whose limits they passed) are all
        // kept: they are dealt to the paths only once all are in.
        if at >= self.capacity() || (depth > 1 && self.crowded_at(at, &contact.addr, path)) {
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

    /// True if the candidates of `path` closer than position `at` that have not failed hold
    /// the places of `addr`'s wide prefix or host already: a contact learned there would be
    /// skipped by every walk, so it is not kept (a block cannot crowd honest candidates out of
    /// the bounded list by naming many of its own). One learned before closer ones of its
    /// block stays, skipped by the walks; it takes a place again if those fail.
    fn crowded_at(&self, at: usize, addr: &A, path: u8) -> bool {
        if self.exempt(addr) {
            return false;
        }
        let mine = addr.prefixes();
        let (mut wide, mut host) = (0, 0);
        for c in &self.candidates[..at] {
            if c.path != path || c.state == CandidateState::Failed {
                continue;
            }
            let theirs = c.addr.prefixes();
            if theirs.wide == mine.wide && !self.exempt(&c.addr) {
                wide += 1;
                host += usize::from(theirs.host == mine.host);
                if wide >= LOOKUP_MAX_PER_PREFIX || host >= LOOKUP_MAX_PER_HOST {
                    return true;
                }
            }
        }
        false
    }

    fn find(&mut self, id: &Id) -> Option<&mut Candidate<A>> {
        let target = self.target;
        let at = self
            .candidates
            .binary_search_by(|c| c.id.cmp_hint_distance(id, &target))
            .ok()?;
        Some(&mut self.candidates[at])
    }

    /// The k closest candidates of `path` that have not failed, at most
    /// [`LOOKUP_MAX_PER_PREFIX`] of a wide prefix and [`LOOKUP_MAX_PER_HOST`] of a host, with
    /// their positions.
    fn closest_live(&self, path: u8) -> impl Iterator<Item = (usize, &Candidate<A>)> {
        let mut spread = Spread::new(self.limit_local);
        self.candidates
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.path == path && c.state != CandidateState::Failed)
            .filter(move |(_, c)| spread.admit(&c.addr))
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
        let (at, _) = self
            .closest_live(path)
            .find(|(_, c)| c.state == CandidateState::Fresh)?;
        let candidate = &mut self.candidates[at];
        candidate.state = CandidateState::InFlight;
        self.in_flight[usize::from(path)] += 1;
        self.requests += 1;
        Some(LookupRequest {
            id: candidate.id,
            addr: candidate.addr,
        })
    }

    /// `id` answered with `nodes` (empty for a value answer) and an address token. Returns
    /// whether the answer counted: false for a node not asked, or whose answer came already.
    /// `id` is the answer's (proven) sender: it completes the hint the candidate was known by.
    pub fn on_answer(&mut self, id: &Id, nodes: &[Contact<A>], token: Option<Token>) -> bool {
        let Some(candidate) = self.find(id) else {
            return false;
        };
        let was = candidate.state;
        if !matches!(was, CandidateState::InFlight | CandidateState::Stalled)
            || !candidate.id.names(id)
        {
            return false;
        }
        candidate.id = *id;
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
        true
    }

    /// Notes the round-trip time of an answer [`Lookup::on_answer`] counted (see
    /// [`LookupReport::rtts`]); times past 71 minutes are kept as 71 minutes.
    pub fn note_rtt(&mut self, rtt: Duration) {
        let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
        self.rtts_us.push(us);
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
                .all(|(_, c)| c.state == CandidateState::Answered)
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

    /// The closest candidates that answered, closest first (at most k, at most
    /// [`LOOKUP_MAX_PER_PREFIX`] of one wide prefix and [`LOOKUP_MAX_PER_HOST`] of one host
    /// over all paths).
    pub fn answered(&self) -> impl Iterator<Item = &Candidate<A>> {
        let mut spread = Spread::new(self.limit_local);
        self.candidates
            .iter()
            .filter(|c| c.state == CandidateState::Answered)
            .filter(move |c| spread.admit(&c.addr))
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
            rtts: self
                .rtts_us
                .iter()
                .map(|&us| Duration::from_micros(u64::from(us)))
                .collect(),
        }
    }
}

/// The wide prefixes and hosts a walk over candidates (closest first) has taken so far, to
/// skip those over [`LOOKUP_MAX_PER_PREFIX`] or [`LOOKUP_MAX_PER_HOST`]. Lookups are the
/// simulator's hot path, so it allocates nothing: a 64-bit filter of the wide prefixes taken
/// answers "none of this block yet" (nearly every candidate of an honest network) without a
/// scan, and only a hit compares with the recorded ones.
struct Spread {
    limit_local: bool,
    filter: u64,
    taken: [(u128, u128); SPREAD_RECORDED],
    len: usize,
}

/// Blocks a walk records exactly: a walk takes at most k, and k = 20 by default. Past this
/// many (a k above 32) the rest are still counted in the filter but not compared.
const SPREAD_RECORDED: usize = 32;

impl Spread {
    /// An empty walk; `limit_local` applies the limits to loopback addresses too.
    fn new(limit_local: bool) -> Spread {
        Spread {
            limit_local,
            filter: 0,
            taken: [(0, 0); SPREAD_RECORDED],
            len: 0,
        }
    }

    /// True (and taken) if `addr` is within the limits given what was taken before.
    fn admit<A: PeerAddr>(&mut self, addr: &A) -> bool {
        if !self.limit_local && addr.exempt_from_host_limit() {
            return true;
        }
        let p = addr.prefixes();
        let folded = (p.wide ^ (p.wide >> 64)) as u64;
        let bit = 1u64 << (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58);
        if self.filter & bit != 0 {
            let taken = &self.taken[..self.len];
            let wide = taken.iter().filter(|(w, _)| *w == p.wide).count();
            let host = taken.iter().filter(|(_, h)| *h == p.host).count();
            if wide >= LOOKUP_MAX_PER_PREFIX || host >= LOOKUP_MAX_PER_HOST {
                return false;
            }
        }
        self.filter |= bit;
        if self.len < SPREAD_RECORDED {
            self.taken[self.len] = (p.wide, p.host);
            self.len += 1;
        }
        true
    }
}

#[cfg(test)]
#[path = "iterative_tests.rs"]
mod tests;
