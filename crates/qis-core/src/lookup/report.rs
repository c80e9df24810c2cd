//! What a finished lookup reports.

use crate::id::Id;
use crate::time::Duration;
use crate::wire::Contact;

/// A node found by a lookup and the depth at which it was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop<A> {
    /// The node.
    pub contact: Contact<A>,
    /// Depth at which it was learned (1 = it was in the initiator's own table).
    pub depth: u8,
}

/// What a finished lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupReport<A> {
    /// The target.
    pub target: Id,
    /// The closest nodes that answered, closest first (at most k).
    pub closest: Vec<Hop<A>>,
    /// Hop depth of the closest node found (0 if none answered).
    pub hops: u8,
    /// The longest chain of requests: the greatest depth of any node that answered.
    pub rounds: u8,
    /// Requests sent (a retry is counted by the node, not here).
    pub requests: u32,
    /// Requests answered.
    pub answered: u32,
    /// Nodes that did not answer.
    pub failed: u32,
    /// Time from start to finish.
    pub elapsed: Duration,
    /// The round-trip time of every request the lookup counted an answer to, in the order the
    /// answers came, each measured from the request's first send. Requests answered only after
    /// a resend are left out (Karn's rule, as for the timeout estimator): their time would
    /// include the wait before the resend, not the path.
    pub rtts: Vec<Duration>,
}
