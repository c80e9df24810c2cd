//! The messages nodes exchange. Every datagram is one [`Message`]: a [`Header`] and a [`Body`].

use crate::constants::MAX_NETWORK_NAME;
use crate::id::Id;
use crate::proof::{Challenge, IdentityProof};
use crate::record::{RecordId, SignedRecord};
use crate::wire::padding::Padding;
use serde::{Deserialize, Serialize};

/// Identifies a network, so that test networks never mix with a real one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetworkId(pub u32);

impl NetworkId {
    /// The public qis network.
    pub const MAIN: NetworkId = NetworkId(0x7169_7301);

    /// The network id of a name: 1 to [`MAX_NETWORK_NAME`] ASCII letters, digits, `-`, `_` or
    /// `.`, case-insensitive (the name is folded to lower case first, so `"Main"` and `"main"`
    /// are the same network, [`NetworkId::MAIN`]). Anything else is refused, naming why, rather
    /// than hashed into a network nobody else can type.
    pub fn from_name(name: &str) -> Result<NetworkId, NetworkNameError> {
        if name.is_empty() {
            return Err(NetworkNameError::Empty);
        }
        if name.len() > MAX_NETWORK_NAME {
            return Err(NetworkNameError::TooLong(name.len()));
        }
        if let Some(ch) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(NetworkNameError::BadChar(ch));
        }
        let folded = name.to_ascii_lowercase();
        if folded == "main" {
            return Ok(NetworkId::MAIN);
        }
        let hash = blake3::hash(folded.as_bytes());
        let b = hash.as_bytes();
        Ok(NetworkId(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }
}

impl std::fmt::Display for NetworkId {
    /// The id as it appears in logs and errors: `0x71697301`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// Why a network name was refused ([`NetworkId::from_name`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkNameError {
    /// The name is empty.
    #[error("a network name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_NETWORK_NAME`] bytes.
    #[error("a network name is at most {MAX_NETWORK_NAME} bytes, this one is {0}")]
    TooLong(usize),
    /// The name holds a character other than an ASCII letter, digit, `-`, `_` or `.`.
    #[error(
        "character {0:?} is not allowed in a network name (use letters, digits, '-', '_', '.')"
    )]
    BadChar(char),
}

/// Matches a response to its request. Drawn at random, so an off-path attacker cannot guess it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxId(pub u32);

/// An address token: a MAC of the requester's address under the responder's rotating secret.
/// Presenting it proves the requester receives datagrams at that address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Token(pub [u8; crate::constants::TOKEN_BYTES]);

/// Whether the sender is a full node or a short-lived client that must not be entered into
/// routing tables (it would go away and leave dead entries behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// A full node that answers requests.
    Node,
    /// A client that only asks.
    Client,
}

/// Identity proof traffic a message carries (see [`crate::IdentityProof`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Auth {
    /// Nothing: the sender is already proven to the receiver, or is not asked to prove itself.
    None,
    /// A request's challenge: the answer must prove the responder's id over it.
    Challenge(Challenge),
    /// An answer's proof over the request's challenge.
    Proof(IdentityProof),
}

/// Fields every message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Protocol version; must be first so it can be checked before anything else decodes.
    pub version: u8,
    /// The network the sender belongs to.
    pub network: NetworkId,
    /// Transaction id, echoed in the response.
    pub txid: TxId,
    /// The id the sender claims. Claimed, not proven: only an [`Auth::Proof`] answering our
    /// challenge proves it (or the sender's place in our routing table at that address).
    pub sender: Id,
    /// Full node or client.
    pub role: Role,
    /// A challenge (requests) or a proof (answers), if any.
    pub auth: Auth,
}

/// A node as it appears in a `Nodes` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contact<A> {
    /// Its node id.
    pub id: Id,
    /// Where it listens.
    pub addr: A,
}

/// The nonce a reachability probe carries back (see [`crate::reach`]): drawn per asked peer
/// from the node's unpredictable stream, so only the peer asked can send a probe that counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProbeNonce(pub [u8; crate::constants::PROBE_NONCE_BYTES]);

/// Why a store was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreRefusal {
    /// The write token is missing, wrong or expired.
    BadToken,
    /// The record failed size, signature or policy checks.
    Invalid,
    /// The store is full (per key or in total).
    Full,
    /// The node is over its signature-check budget for the sender's prefix: try later.
    Busy,
}

/// The result of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreStatus {
    /// Stored (new or refreshed).
    Stored,
    /// Refused.
    Refused(StoreRefusal),
}

/// Requests and responses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body<A> {
    /// Are you there?
    Ping,
    /// Yes; here is a token for your address.
    Pong {
        /// Address token for the requester.
        token: Token,
    },
    /// Which nodes do you know closest to `target`?
    FindNode {
        /// The id sought.
        target: Id,
        /// A token this responder gave the requester earlier, proving its address.
        token: Option<Token>,
        /// Padding, present when `token` is not.
        pad: Padding,
    },
    /// The closest nodes the responder knows.
    Nodes {
        /// Address token for the requester (needed to store).
        token: Token,
        /// True when the answer was cut to respect the amplification limit: ask again with the
        /// token for the full answer.
        cut: bool,
        /// Up to k contacts, closest first. Their ids travel as hints (the first
        /// [`crate::constants::ID_HINT_BYTES`] bytes), so a decoded contact's id is a hint
        /// ([`Id::is_hint`]) that the node's own answer later completes.
        #[serde(with = "super::hint")]
        #[serde(bound(serialize = "A: Serialize", deserialize = "A: Deserialize<'de>"))]
        nodes: Vec<Contact<A>>,
    },
    /// Which values do you hold under `key`, starting at record id `start`?
    FindValue {
        /// The key sought.
        key: Id,
        /// The lowest record id wanted (values are paged in record-id order).
        start: RecordId,
        /// A token proving the requester's address.
        token: Option<Token>,
        /// Padding, present when `token` is not.
        pad: Padding,
    },
    /// Values held under the key (one page), or none: then `Nodes` is sent instead.
    Values {
        /// Address token for the requester.
        token: Token,
        /// How many values the responder holds under the key in all.
        total: u32,
        /// The record id to ask for next, if more remain.
        next: Option<RecordId>,
        /// This page's records, in record-id order.
        records: Vec<SignedRecord>,
    },
    /// Store `record` under `key`.
    Store {
        /// The key.
        key: Id,
        /// The write token the responder gave the requester.
        token: Token,
        /// The record.
        record: SignedRecord,
    },
    /// The outcome of a store.
    StoreAck {
        /// Stored or why not.
        status: StoreStatus,
    },
    /// Which address do you see me at? With `probe`, also: send a [`Body::Probe`] carrying
    /// it to that address from another socket of yours, which I have never contacted. A probe
    /// is sent only when `token` proves the address (so it cannot be aimed at a third party),
    /// and it is smaller than this request.
    Observe {
        /// A token this responder gave the requester earlier, proving its address.
        token: Option<Token>,
        /// The nonce to send back in a probe, if one is asked for.
        probe: Option<ProbeNonce>,
    },
    /// The requester's address as the responder sees it.
    Observed {
        /// Address token for the requester at that address.
        token: Token,
        /// The source address of the `Observe`.
        addr: A,
    },
    /// A dial-back: reaching the asker proves that a host it never contacted can reach it.
    /// Not a request (nothing answers it) and not an answer (it matches no transaction).
    Probe {
        /// The nonce the `Observe` asked for.
        nonce: ProbeNonce,
    },
}

impl<A> Body<A> {
    /// True for the kinds that ask for an answer.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Body::Ping
                | Body::FindNode { .. }
                | Body::FindValue { .. }
                | Body::Store { .. }
                | Body::Observe { .. }
        )
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Ping => "ping",
            Body::Pong { .. } => "pong",
            Body::FindNode { .. } => "find_node",
            Body::Nodes { .. } => "nodes",
            Body::FindValue { .. } => "find_value",
            Body::Values { .. } => "values",
            Body::Store { .. } => "store",
            Body::StoreAck { .. } => "store_ack",
            Body::Observe { .. } => "observe",
            Body::Observed { .. } => "observed",
            Body::Probe { .. } => "probe",
        }
    }
}

/// One datagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<A> {
    /// Common fields.
    pub header: Header,
    /// What it says.
    pub body: Body<A>,
}
