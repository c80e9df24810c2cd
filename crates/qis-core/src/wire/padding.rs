//! Request padding: zero bytes a requester adds so that a full answer from a node that has not
//! yet verified its address stays within the amplification limit.

use crate::constants::MAX_DATAGRAM;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

static ZEROS: [u8; MAX_DATAGRAM] = [0; MAX_DATAGRAM];

/// A run of padding bytes, encoded as a length-prefixed byte string. Decoding only records the
/// length, so padding costs no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Padding(pub u16);

impl Serialize for Padding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = usize::from(self.0).min(MAX_DATAGRAM);
        serializer.serialize_bytes(&ZEROS[..len])
    }
}

impl<'de> Deserialize<'de> for Padding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PaddingVisitor;
        impl<'de> Visitor<'de> for PaddingVisitor {
            type Value = Padding;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("padding bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Padding, E> {
                u16::try_from(v.len())
                    .map(Padding)
                    .map_err(|_| E::custom("padding too long"))
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Padding, E> {
                self.visit_bytes(v)
            }
        }
        deserializer.deserialize_bytes(PaddingVisitor)
    }
}
