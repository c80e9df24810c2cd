//! The wire format: message types and the postcard codec. Every datagram fits
//! [`crate::constants::MAX_DATAGRAM`] bytes.

mod causes;
mod codec;
mod hint;
mod message;
mod notice;
mod padding;

pub use causes::{ByteCauses, byte_causes};
pub use codec::{WireError, decode, encode, encoded_len};
pub use message::{
    Auth, Body, Contact, Header, Message, NetworkId, NetworkNameError, ProbeNonce, Role,
    StoreRefusal, StoreStatus, Token, TxId,
};
pub use notice::network_notice;
pub use padding::Padding;

#[cfg(test)]
mod tests;
