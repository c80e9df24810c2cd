//! Reachability: whether hosts this node never contacted can reach it, decided by dial-back.
//!
//! A node behind a NAT or a firewall that acts as a full node gets its address into others'
//! tables, and every lookup through it waits out a timeout. So a node in the automatic role
//! starts as a client (never entered into tables) and asks [`REACH_PROBERS`] peers of its
//! table, each in its own wide prefix (IPv4 /24, IPv6 /48), which address they see it at
//! (`Observe`) and to send a probe there from another socket of theirs, one it has never
//! sent to (`Probe`). A NAT or firewall drops a datagram from an address the node has not
//! contacted; an open node receives it. Probes from [`REACH_QUORUM`] distinct prefixes make
//! the node reachable: it becomes a full node. Peers that answer while no probe arrives make
//! it unreachable: it stays a client. Anything in between decides nothing and is tried again.
//!
//! Each asked peer gets its own nonce, drawn from the node's unpredictable stream: a probe
//! counts only with the nonce of a peer asked in the current check, so nobody can talk a node
//! into believing it is reachable without being asked (a peer that was asked can: one liar of
//! three cannot reach the quorum alone). A peer sends a probe only to the address a request
//! came from and only with our token for that address, so probes cannot be aimed at a third
//! party; a probe is smaller than the request that asks for it.
//!
//! What this cannot see: a NAT that filters by IP address only (an "address-restricted cone")
//! passes a probe from the asked peer's IP address on another port, so such a node is judged
//! reachable although only hosts it contacted can reach it. Port-restricted and symmetric
//! NATs, and stateful firewalls, are told apart correctly.

use crate::addr::PeerAddr;
use crate::constants::{REACH_PROBERS, REACH_QUORUM, REACH_RECHECK, REACH_RETRY, REACH_WAIT};
use crate::id::Id;
use crate::time::{Duration, Time};
use crate::wire::ProbeNonce;
use serde::Serialize;

/// What a node concluded about its own reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Not checked yet, or the checks so far could not decide: the node acts as a client.
    Unknown,
    /// Probes from distinct prefixes reached it: a full node.
    Reachable,
    /// Peers answered but no probe came through: a client.
    Unreachable,
}

impl Verdict {
    /// The verdict's name in logs and status lines.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Unknown => "unknown",
            Verdict::Reachable => "reachable",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// The state of a node's reachability, as `Node::reachability` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReachReport<A> {
    /// The current verdict.
    pub verdict: Verdict,
    /// The address peers saw this node at in the last check or watch (most of them agreeing).
    pub external: Option<A>,
    /// Checks started so far.
    pub checks: u64,
    /// Checks that reached a verdict other than `Unknown`.
    pub decided: u64,
    /// Times the observed address changed and a check was started because of it.
    pub address_changes: u64,
    /// Peers asked in the last check, and how many of them probed us.
    pub last_asked: usize,
    /// Distinct-prefix probes received in the last check.
    pub last_probes: usize,
    /// Since the node started, when the current verdict was reached (`None` while unknown).
    pub decided_at: Option<Time>,
}

/// One peer asked in a check.
#[derive(Debug, Clone)]
struct Asked<A> {
    id: Id,
    /// Its wide prefix: probes count by distinct prefix.
    prefix: u128,
    nonce: ProbeNonce,
    /// The address it saw us at, once it answered.
    observed: Option<A>,
    probed: bool,
}

/// A check in progress.
#[derive(Debug, Clone)]
struct Check<A> {
    asked: Vec<Asked<A>>,
    deadline: Time,
}

/// A node's reachability checks: whom it asked, what came back, when to ask next. Pure state:
/// the node sends what [`Reach::start_check`] plans and feeds back what arrives.
#[derive(Debug, Clone)]
pub(crate) struct Reach<A> {
    check: Option<Check<A>>,
    /// When the next full check is due (`None`: not before the node has joined).
    next_check: Option<Time>,
    /// When the address watch asks next.
    next_watch: Option<Time>,
    watch_interval: Duration,
    /// The peers of the last check that answered, and the address each saw us at: the watch
    /// asks them in turn and compares with what the same peer saw (behind a symmetric NAT
    /// every peer sees another port, so comparing across peers would see changes always).
    seen: Vec<(Id, A)>,
    /// Rotates the address watch through `seen`.
    watch_turn: usize,
    /// Peers of the last decided check whose answer had not come yet (a quorum of probes
    /// decides before the answers): a late answer still tells the external address.
    late: Vec<Id>,
    /// The verdict, the external address and the counters: what `report` hands out.
    report: ReachReport<A>,
}

/// What a finished check changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing: the verdict stands (or is still unknown).
    Unchanged,
    /// The verdict changed to this.
    Changed(Verdict),
}

impl<A: PeerAddr> Reach<A> {
    /// Checks not yet begun; the address watch asks every `watch_interval` once they have.
    pub(crate) fn new(watch_interval: Duration) -> Reach<A> {
        Reach {
            check: None,
            next_check: None,
            next_watch: None,
            watch_interval,
            seen: Vec::new(),
            watch_turn: 0,
            late: Vec::new(),
            report: ReachReport {
                verdict: Verdict::Unknown,
                external: None,
                checks: 0,
                decided: 0,
                address_changes: 0,
                last_asked: 0,
                last_probes: 0,
                decided_at: None,
            },
        }
    }

    /// The current verdict.
    pub(crate) fn verdict(&self) -> Verdict {
        self.report.verdict
    }

    /// What the checks found so far.
    pub(crate) fn report(&self) -> ReachReport<A> {
        self.report
    }

    /// True while a check waits for answers and probes.
    pub(crate) fn checking(&self) -> bool {
        self.check.is_some()
    }

    /// Asks for a check at `now` (after joining, when the address changed, or when the driver
    /// knows something changed: a port mapping was made).
    /// A check running now is abandoned undecided: its probes may predate the change (a
    /// mapping made while they were on their way), and a fresh one decides on what holds now.
    pub(crate) fn due_now(&mut self, now: Time) {
        self.check = None;
        self.due_at(now);
    }

    /// Asks for a check at `at` at the latest (an earlier one already asked for stands).
    pub(crate) fn due_at(&mut self, at: Time) {
        self.next_check = Some(self.next_check.map_or(at, |due| due.min(at)));
    }

    /// The earliest time something is due: a check, the current check's deadline, the watch.
    /// While a check runs only its deadline counts: the watch and the next check wait for it
    /// (a due time that nothing consumes would wake the node again and again).
    pub(crate) fn next_deadline(&self) -> Option<Time> {
        if let Some(check) = &self.check {
            return Some(check.deadline);
        }
        [self.next_check, self.next_watch]
            .into_iter()
            .flatten()
            .min()
    }

    /// True if a full check should start at `now`.
    pub(crate) fn check_due(&self, now: Time) -> bool {
        self.check.is_none() && self.next_check.is_some_and(|at| at <= now)
    }

    /// True if the address watch should ask at `now`; moves the watch to its next time.
    pub(crate) fn take_watch(&mut self, now: Time) -> bool {
        if self.check.is_some() || self.next_watch.is_none_or(|at| at > now) {
            return false;
        }
        self.next_watch = Some(now + self.watch_interval);
        true
    }

    /// The peer the watch asks this time: those that answered the last check, in turn.
    pub(crate) fn watch_pick(&mut self) -> Option<Id> {
        if self.seen.is_empty() {
            return None;
        }
        self.watch_turn = self.watch_turn.wrapping_add(1);
        Some(self.seen[self.watch_turn % self.seen.len()].0)
    }

    /// Starts a check with `candidates` (peers of the table, in a random order): the first of
    /// each wide prefix, up to [`REACH_PROBERS`], each with a nonce from `nonce`. Returns the
    /// chosen peers and their nonces; none when there is nobody to ask (retried later).
    pub(crate) fn start_check(
        &mut self,
        now: Time,
        candidates: impl IntoIterator<Item = (Id, A)>,
        mut nonce: impl FnMut() -> ProbeNonce,
    ) -> Vec<(Id, A, ProbeNonce)> {
        let mut asked: Vec<Asked<A>> = Vec::new();
        let mut chosen = Vec::new();
        for (id, addr) in candidates {
            // Local test networks (loopback) have one prefix: there each host counts alone.
            let prefix = if addr.exempt_from_host_limit() {
                addr.prefixes().host
            } else {
                addr.prefixes().wide
            };
            if asked.iter().any(|a| a.prefix == prefix) {
                continue;
            }
            let n = nonce();
            asked.push(Asked {
                id,
                prefix,
                nonce: n,
                observed: None,
                probed: false,
            });
            chosen.push((id, addr, n));
            if asked.len() == REACH_PROBERS {
                break;
            }
        }
        if asked.is_empty() {
            self.next_check = Some(now + REACH_RETRY);
            return chosen;
        }
        self.report.checks += 1;
        self.report.last_asked = asked.len();
        self.report.last_probes = 0;
        self.next_check = None;
        self.check = Some(Check {
            asked,
            deadline: now + REACH_WAIT,
        });
        chosen
    }

    /// A peer asked in the current check (`id`) saw us at `addr`.
    pub(crate) fn on_observed(&mut self, id: &Id, addr: A) {
        if let Some(asked) = self
            .check
            .as_mut()
            .and_then(|c| c.asked.iter_mut().find(|a| a.id == *id))
        {
            asked.observed = Some(addr);
        } else if let Some(at) = self.late.iter().position(|late| late == id) {
            self.late.swap_remove(at);
            self.seen.push((*id, addr));
            self.report.external.get_or_insert(addr);
        }
    }

    /// The address watch's answer from `peer`: true if it differs from the address the same
    /// peer saw before (the NAT rebound, or the uplink changed); then a check is due at once.
    pub(crate) fn on_watch(&mut self, now: Time, peer: &Id, addr: A) -> bool {
        let Some((_, known)) = self.seen.iter_mut().find(|(id, _)| id == peer) else {
            return false;
        };
        if *known == addr {
            return false;
        }
        *known = addr;
        self.report.external = Some(addr);
        self.report.address_changes += 1;
        self.due_now(now);
        true
    }

    /// A probe arrived with `nonce`. True if it counted (a peer of the current check, first
    /// time); a nonce of no current check is ignored.
    pub(crate) fn on_probe(&mut self, nonce: &ProbeNonce) -> bool {
        let Some(check) = self.check.as_mut() else {
            return false;
        };
        let Some(asked) = check.asked.iter_mut().find(|a| a.nonce == *nonce) else {
            return false;
        };
        if asked.probed {
            return false;
        }
        asked.probed = true;
        // An asked peer's probe implies it answered, whether or not its answer got through.
        true
    }

    /// Decides the current check if it can be: at once when the quorum of probes is in, else
    /// at its deadline. Returns what changed.
    pub(crate) fn decide(&mut self, now: Time) -> Outcome {
        let Some(check) = &self.check else {
            return Outcome::Unchanged;
        };
        let asked = check.asked.len();
        let quorum = REACH_QUORUM.min(asked);
        let probes = check.asked.iter().filter(|a| a.probed).count();
        let answered = check
            .asked
            .iter()
            .filter(|a| a.observed.is_some() || a.probed)
            .count();
        self.report.last_probes = probes;
        let verdict = if probes >= quorum {
            Verdict::Reachable
        } else if now < check.deadline {
            return Outcome::Unchanged;
        } else if probes == 0 && answered >= quorum {
            Verdict::Unreachable
        } else {
            // Too few answers, or some probes but short of the quorum (lost on a lossy link,
            // or a lone liar): no verdict; soon again.
            Verdict::Unknown
        };
        if let Some(external) = majority(check.asked.iter().filter_map(|a| a.observed)) {
            self.report.external = Some(external);
        }
        self.seen = check
            .asked
            .iter()
            .filter_map(|a| Some((a.id, a.observed?)))
            .collect();
        self.late = check
            .asked
            .iter()
            .filter(|a| a.observed.is_none())
            .map(|a| a.id)
            .collect();
        self.check = None;
        // The watch runs between checks, starting one interval after each.
        self.next_watch = Some(now + self.watch_interval);
        if verdict == Verdict::Unknown {
            self.next_check = Some(now + REACH_RETRY);
            return Outcome::Unchanged;
        }
        self.next_check = Some(now + REACH_RECHECK);
        self.report.decided += 1;
        if verdict == self.report.verdict {
            return Outcome::Unchanged;
        }
        self.report.verdict = verdict;
        self.report.decided_at = Some(now);
        Outcome::Changed(verdict)
    }
}

/// The address most observations agree on (the first seen among equals).
fn majority<A: PeerAddr>(observed: impl Iterator<Item = A>) -> Option<A> {
    let mut counts: Vec<(A, usize)> = Vec::new();
    for addr in observed {
        match counts.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, n)) => *n += 1,
            None => counts.push((addr, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(a, _)| a)
}

#[cfg(test)]
mod tests;
