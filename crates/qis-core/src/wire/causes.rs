//! Where a datagram's bytes go: a message's encoded size split by the kind of field that
//! causes it, so traffic can be cut where it is spent (the simulator's `bytes_by_cause`).

use crate::addr::PeerAddr;
use crate::constants::{ID_BYTES, ID_HINT_BYTES, TOKEN_BYTES};
use crate::wire::message::{Auth, Body, Message};
use serde::{Deserialize, Serialize};

/// Encoded bytes by cause. The causes add up to the message's encoded size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteCauses {
    /// Version, network, transaction id, role, message kind, flags, counts and lengths.
    pub framing: u64,
    /// Node ids and keys: the sender's id, a request's target or key, the contacts' id hints.
    pub ids: u64,
    /// The contacts' addresses.
    pub addresses: u64,
    /// Address tokens, presented or given.
    pub tokens: u64,
    /// Request padding (the amplification guard).
    pub padding: u64,
    /// Identity challenges and proofs.
    pub proofs: u64,
    /// Signed records (values stored and served).
    pub records: u64,
}

impl ByteCauses {
    /// The sum of all causes: the encoded size.
    pub fn total(&self) -> u64 {
        self.framing
            + self.ids
            + self.addresses
            + self.tokens
            + self.padding
            + self.proofs
            + self.records
    }

    /// Each cause divided by `n` (per lookup, per node), rounded to whole bytes.
    pub fn per(&self, n: u64) -> ByteCauses {
        let d = |x: u64| (x + n / 2).checked_div(n).unwrap_or(0);
        ByteCauses {
            framing: d(self.framing),
            ids: d(self.ids),
            addresses: d(self.addresses),
            tokens: d(self.tokens),
            padding: d(self.padding),
            proofs: d(self.proofs),
            records: d(self.records),
        }
    }

    /// Each cause minus `earlier`'s (saturating): the bytes between two snapshots.
    pub fn since(&self, earlier: &ByteCauses) -> ByteCauses {
        ByteCauses {
            framing: self.framing.saturating_sub(earlier.framing),
            ids: self.ids.saturating_sub(earlier.ids),
            addresses: self.addresses.saturating_sub(earlier.addresses),
            tokens: self.tokens.saturating_sub(earlier.tokens),
            padding: self.padding.saturating_sub(earlier.padding),
            proofs: self.proofs.saturating_sub(earlier.proofs),
            records: self.records.saturating_sub(earlier.records),
        }
    }
}

impl std::ops::AddAssign for ByteCauses {
    fn add_assign(&mut self, other: ByteCauses) {
        self.framing += other.framing;
        self.ids += other.ids;
        self.addresses += other.addresses;
        self.tokens += other.tokens;
        self.padding += other.padding;
        self.proofs += other.proofs;
        self.records += other.records;
    }
}

/// The encoded size of `value` (0 if it cannot be sized, which our own messages always can).
fn size<T: Serialize + ?Sized>(value: &T) -> u64 {
    postcard::experimental::serialized_size(value).unwrap_or(0) as u64
}

/// Splits `message`'s encoded size by cause.
pub fn byte_causes<A: PeerAddr>(message: &Message<A>) -> ByteCauses {
    let id = ID_BYTES as u64;
    let token = TOKEN_BYTES as u64;
    let mut c = ByteCauses {
        ids: id,
        proofs: match &message.header.auth {
            Auth::None => 0,
            auth => size(auth),
        },
        ..ByteCauses::default()
    };
    let presented = |t: &Option<crate::wire::Token>| if t.is_some() { token } else { 0 };
    match &message.body {
        Body::Ping | Body::StoreAck { .. } | Body::Probe { .. } => {}
        Body::Observe { token: t, .. } => c.tokens = presented(t),
        Body::Observed { addr, .. } => {
            c.tokens = token;
            c.addresses = size(addr);
        }
        Body::Pong { .. } => c.tokens = token,
        Body::FindNode { token: t, pad, .. } => {
            c.ids += id;
            c.tokens = presented(t);
            c.padding = size(pad);
        }
        Body::FindValue {
            token: t,
            pad,
            start,
            ..
        } => {
            c.ids += id + size(start);
            c.tokens = presented(t);
            c.padding = size(pad);
        }
        Body::Nodes { nodes, .. } => {
            c.tokens = token;
            c.ids += (nodes.len() * ID_HINT_BYTES) as u64;
            c.addresses = nodes.iter().map(|n| size(&n.addr)).sum();
        }
        Body::Values { records, .. } => {
            c.tokens = token;
            c.records = records.iter().map(size).sum();
        }
        Body::Store { record, .. } => {
            c.ids += id;
            c.tokens = token;
            c.records = size(record);
        }
    }
    c.framing = size(message).saturating_sub(c.total());
    c
}
