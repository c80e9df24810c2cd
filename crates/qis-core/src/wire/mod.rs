//! The wire format: message types and the postcard codec. Every datagram fits
//! [`crate::constants::MAX_DATAGRAM`] bytes.

mod codec;
mod message;
mod padding;

pub use codec::{WireError, decode, encode, encoded_len};
pub use message::{
    Body, Contact, Header, Message, NetworkId, Role, StoreRefusal, StoreStatus, Token, TxId,
};
pub use padding::Padding;

#[cfg(test)]
mod tests;
