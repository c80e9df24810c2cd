//! Encoding and decoding datagrams (postcard), with the size budget enforced both ways.

use crate::addr::PeerAddr;
use crate::constants::{MAX_DATAGRAM, PROTOCOL_VERSION};
use crate::wire::message::{Message, NetworkId};

/// Why a datagram could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than the datagram budget.
    #[error("datagram is {0} bytes, the budget is {MAX_DATAGRAM}")]
    Oversize(usize),
    /// Empty datagram.
    #[error("empty datagram")]
    Empty,
    /// A protocol version this node does not speak.
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// The bytes are not a message.
    #[error("malformed datagram: {0}")]
    Malformed(String),
    /// Trailing bytes after a complete message.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// From another network.
    #[error("message for network {0:#x}")]
    WrongNetwork(u32),
}

/// Encodes `message`; fails if it would exceed [`MAX_DATAGRAM`].
pub fn encode<A: PeerAddr>(message: &Message<A>) -> Result<Vec<u8>, WireError> {
    // Serialise into a frame-sized buffer on the stack, then copy out exactly what was
    // written: one allocation of the right size instead of a vector regrown as it fills.
    let mut frame = [0u8; MAX_DATAGRAM];
    match postcard::to_slice(message, &mut frame) {
        Ok(written) => Ok(written.to_vec()),
        Err(postcard::Error::SerializeBufferFull) => Err(WireError::Oversize(encoded_len(message))),
        Err(e) => Err(WireError::Malformed(e.to_string())),
    }
}

/// Size `message` would have on the wire.
pub fn encoded_len<A: PeerAddr>(message: &Message<A>) -> usize {
    // Sizing fails only where encoding would; "too large" is the safe answer either way.
    postcard::experimental::serialized_size(message).unwrap_or(usize::MAX)
}

/// Decodes a datagram for network `network`. Never panics, whatever the bytes.
pub fn decode<A: PeerAddr>(bytes: &[u8], network: NetworkId) -> Result<Message<A>, WireError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(WireError::Oversize(bytes.len()));
    }
    // The version is the first byte (postcard writes a u8 as itself), so a future version with
    // a different layout is refused by name rather than as garbage.
    let version = *bytes.first().ok_or(WireError::Empty)?;
    if version != PROTOCOL_VERSION {
        return Err(WireError::Version(version));
    }
    let (message, rest) = postcard::take_from_bytes::<Message<A>>(bytes)
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Trailing(rest.len()));
    }
    if message.header.network != network {
        return Err(WireError::WrongNetwork(message.header.network.0));
    }
    Ok(message)
}
