//! [`OutcomePacket`]: a validated body together with the signed record that carries it.

use super::body::OutcomeBody;
use super::error::PacketError;
use super::keys::{SemanticKey, packet_keys};
use super::size::check_size;
use super::validate::validate;
use ed25519_dalek::SigningKey;
use qis_core::{PublicKey, RecordId, RecordKind, SignedRecord};

/// An outcome packet: the decoded, validated body and the record it travels in. Publisher,
/// creation time and signature are the record's.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomePacket {
    /// What the publisher states.
    pub body: OutcomeBody,
    /// The signed envelope (payload = postcard encoding of `body`).
    pub record: SignedRecord,
}

impl OutcomePacket {
    /// Validates `body`, checks its size and signs it. The body must already be canonical
    /// ([`Draft::build`](crate::Draft::build) normalises it).
    pub fn sign(
        body: OutcomeBody,
        key: &SigningKey,
        created: u64,
    ) -> Result<OutcomePacket, PacketError> {
        validate(&body)?;
        check_size(&body, created)?;
        let record = SignedRecord::sign(key, RecordKind::Outcome, created, body.encode())?;
        Ok(OutcomePacket { body, record })
    }

    /// Opens a received record: kind, signature, decoding (no trailing bytes) and validity.
    pub fn from_record(record: SignedRecord) -> Result<OutcomePacket, PacketError> {
        if record.kind != RecordKind::Outcome {
            return Err(PacketError::NotOutcome(format!("{:?}", record.kind)));
        }
        record.verify_signature()?;
        OutcomePacket::open_verified(record)
    }

    /// Decodes and validates the body of a record whose signature the caller has verified.
    pub(crate) fn open_verified(record: SignedRecord) -> Result<OutcomePacket, PacketError> {
        let body = OutcomeBody::decode(&record.payload)?;
        validate(&body)?;
        Ok(OutcomePacket { body, record })
    }

    /// Decodes and opens record bytes as received from the network.
    pub fn decode(bytes: &[u8]) -> Result<OutcomePacket, PacketError> {
        OutcomePacket::from_record(SignedRecord::decode(bytes)?)
    }

    /// The packet id: the record's [content id](SignedRecord::content_id), blake3 of the
    /// publisher and the body without the creation time. The same body published again (at
    /// another time) is the same packet: holders keep one, readers count it once, and
    /// `built_on` names it whenever it was refreshed.
    pub fn id(&self) -> RecordId {
        self.record.content_id()
    }

    /// Who published it.
    pub fn publisher(&self) -> PublicKey {
        self.record.publisher
    }

    /// When it was created (seconds since the Unix epoch, as the publisher states).
    pub fn created(&self) -> u64 {
        self.record.created
    }

    /// The semantic keys it is stored under.
    pub fn keys(&self) -> Vec<SemanticKey> {
        packet_keys(&self.body)
    }

    /// The encoded record.
    pub fn encode(&self) -> Vec<u8> {
        self.record.encode()
    }
}
