//! What a node hands back to its driver: datagrams to send and events for the application.

use crate::id::Id;
use crate::lookup::LookupReport;
use crate::record::SignedRecord;
use crate::time::Duration;

/// Identifies a command (lookup, get, put, ping, bootstrap) and its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

/// Which of a node's two sockets a datagram leaves from or arrived on.
///
/// A node serves and looks up from its main socket. It checks its own puts from a second one,
/// under an identity no other node knows: a holder that serves a record only to the address
/// that stored it (to pass the publisher's check) cannot tell the check from a stranger's get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// The node's address: everything but audits.
    #[default]
    Main,
    /// The audit socket: FIND_VALUE requests checking a put's holders, and their answers.
    Audit,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<A> {
    /// Destination.
    pub to: A,
    /// Encoded message (at most `MAX_DATAGRAM` bytes).
    pub payload: Vec<u8>,
    /// The socket to send it from.
    pub via: Endpoint,
}

/// Something the application should know.
#[derive(Debug, Clone)]
pub enum Event<A> {
    /// New values for a get, as they arrive (a caller may stop at the first).
    Records {
        /// The get.
        op: OpId,
        /// Records not reported before.
        records: Vec<SignedRecord>,
    },
    /// A command finished.
    Finished {
        /// The command.
        op: OpId,
        /// Its result.
        result: OpResult<A>,
    },
}

/// The result of a command.
#[derive(Debug, Clone)]
pub enum OpResult<A> {
    /// A ping: the node's id and round-trip time, or `None` if it did not answer.
    Ping(Option<PingReply<A>>),
    /// Joining the network.
    Bootstrap(BootstrapReport<A>),
    /// A FIND_NODE lookup.
    FindNode(LookupReport<A>),
    /// A get.
    Get(GetReport<A>),
    /// A put.
    Put(PutReport<A>),
}

/// A node that answered a ping.
#[derive(Debug, Clone, Copy)]
pub struct PingReply<A> {
    /// Its id.
    pub id: Id,
    /// Where it answered from.
    pub addr: A,
    /// Round-trip time.
    pub rtt: Duration,
}

/// How joining went.
#[derive(Debug, Clone)]
pub struct BootstrapReport<A> {
    /// Bootstrap addresses that answered.
    pub bootstrap_answered: usize,
    /// The lookup of our own id.
    pub lookup: LookupReport<A>,
    /// Routing-table entries afterwards.
    pub table_size: usize,
}

/// The result of a get.
#[derive(Debug, Clone)]
pub struct GetReport<A> {
    /// The key.
    pub key: Id,
    /// The lookup toward the key.
    pub lookup: LookupReport<A>,
    /// Every distinct record found, in record-id order.
    pub records: Vec<SignedRecord>,
    /// Nodes that answered with values.
    pub holders: usize,
    /// The largest number of values a holder said it has.
    pub announced: u32,
    /// Value pages received.
    pub pages: u32,
    /// False if some values could not be fetched (holders gone, or the record cap).
    pub complete: bool,
}

/// The result of a put.
#[derive(Debug, Clone)]
pub struct PutReport<A> {
    /// The key.
    pub key: Id,
    /// The lookup toward the key.
    pub lookup: LookupReport<A>,
    /// Distinct nodes that acknowledged storing every record.
    pub acks: u32,
    /// Of those, the nodes that then served the record to an audit from another identity
    /// and socket (see [`Endpoint::Audit`]): the holders the put can vouch for. An
    /// acknowledgement alone proves nothing (a node may acknowledge and discard).
    pub verified: u32,
    /// Store requests refused (token, validity or space).
    pub refused: u32,
    /// Store requests that got no answer.
    pub failed: u32,
    /// True if this node is among the k closest and stored the records itself as well.
    pub stored_locally: bool,
}
