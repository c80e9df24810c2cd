//! The contacts of a `Nodes` answer on the wire: each id as its first
//! [`ID_HINT_BYTES`](crate::constants::ID_HINT_BYTES) bytes (see [`Id::from_hint`]), then the
//! address. A lookup only orders candidates by distance, which the first 64 bits decide, and
//! the node it then asks proves its whole id; the other 24 bytes of each of 20 contacts were
//! most of an answer's size.

use crate::constants::ID_HINT_BYTES;
use crate::id::Id;
use crate::wire::Contact;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `nodes` as a sequence of (id hint, address).
pub(super) fn serialize<A: Serialize, S: Serializer>(
    nodes: &[Contact<A>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(nodes.len()))?;
    for contact in nodes {
        seq.serialize_element(&(contact.id.hint(), &contact.addr))?;
    }
    seq.end()
}

/// Reads a sequence of (id hint, address) as contacts whose ids are hints.
pub(super) fn deserialize<'de, A: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Contact<A>>, D::Error> {
    let raw: Vec<([u8; ID_HINT_BYTES], A)> = Vec::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(hint, addr)| Contact {
            id: Id::from_hint(hint),
            addr,
        })
        .collect())
}
