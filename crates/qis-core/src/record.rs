//! Signed records: the opaque values the DHT stores (at most [`MAX_RECORD`] bytes, signature
//! included). Outcome packets are records of kind [`RecordKind::Outcome`]; the DHT checks size
//! and signature, and hands payload validation to a [`RecordPolicy`] hook.

use crate::constants::MAX_RECORD;
use crate::id::{Id, hex};
use ed25519_dalek::{Signature as DalekSignature, Signer, SigningKey, VerifyingKey};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Domain separator mixed into every signed message, so a record signature can never be
/// replayed as a signature over anything else.
const SIGNING_CONTEXT: &[u8] = b"qis/record/v1";

/// Domain separator of [`SignedRecord::content_id`], so a content id never equals a record id.
const CONTENT_CONTEXT: &[u8] = b"qis/content/v1";

/// An ed25519 public key (32 bytes). A node's id is `blake3(public key)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The node id (or publisher id) this key stands for.
    pub fn id(&self) -> Id {
        Id::hash(&self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &hex(&self.0)[..16])
    }
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &hex(&self.0)[..16])
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A fixed-size tuple: postcard writes the 64 bytes with no length prefix.
        let mut tuple = serializer.serialize_tuple(64)?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SignatureVisitor;
        impl<'de> Visitor<'de> for SignatureVisitor {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Signature, A::Error> {
                let mut out = [0u8; 64];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Signature(out))
            }
        }
        deserializer.deserialize_tuple(64, SignatureVisitor)
    }
}

/// What a record's payload holds. Unknown kinds fail to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// Arbitrary bytes (`qis put`).
    Raw,
    /// A postcard-encoded outcome packet body.
    Outcome,
    /// A reproduction report: somebody's re-run of an outcome packet, stored under that
    /// packet's keys. Added after `Outcome`, so the two earlier kinds keep their encodings; a
    /// node built before it fails to decode such a record (a counted drop).
    Reproduction,
}

/// The identity of a record: blake3 of its signed encoding ([`SignedRecord::id`]), or of what
/// it says ([`SignedRecord::content_id`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub [u8; 32]);

impl RecordId {
    /// The `start` of a FIND_VALUE that asks for a key's best values first: the answer holds
    /// the values its holder ranks highest (see [`RecordStore`](crate::RecordStore)), and its
    /// `next` is [`RecordId::LOWEST`], so paging on goes through every value in record-id
    /// order. No record has this id (it would take a blake3 preimage of zero).
    pub const BEST_FIRST: RecordId = RecordId([0; 32]);

    /// The lowest record id a page in record-id order starts from: one above
    /// [`RecordId::BEST_FIRST`], which asks for the ranked first page instead.
    pub const LOWEST: RecordId = {
        let mut bytes = [0; 32];
        bytes[31] = 1;
        RecordId(bytes)
    };
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", &hex(&self.0)[..16])
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// A signed record as stored and sent: publisher, creation time, payload and signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// What the payload holds.
    pub kind: RecordKind,
    /// Who signed it.
    pub publisher: PublicKey,
    /// Creation time, seconds since the Unix epoch (set by the publisher).
    pub created: u64,
    /// The payload (opaque at this layer).
    pub payload: Vec<u8>,
    /// ed25519 signature over the fields above.
    pub signature: Signature,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The encoding is larger than [`MAX_RECORD`].
    #[error("record is {size} bytes, the limit is {MAX_RECORD}")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
    },
    /// The bytes are not a record.
    #[error("record does not decode: {0}")]
    Malformed(String),
    /// The public key is not a valid curve point.
    #[error("publisher key is invalid")]
    BadPublicKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The policy refused the payload.
    #[error("payload refused: {0}")]
    Refused(String),
}

/// The bytes a signature covers.
fn signed_message(
    kind: RecordKind,
    publisher: &PublicKey,
    created: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + 48 + payload.len());
    msg.extend_from_slice(SIGNING_CONTEXT);
    let fields = (kind, publisher, created, payload);
    // An empty fallback would leave only the context signed, so that one signature verified
    // for every record: a failure here is a bug, never silently tolerated.
    msg.extend_from_slice(
        &postcard::to_stdvec(&fields)
            .expect("postcard encodes a tuple of plain values into a Vec without error"),
    );
    msg
}

impl SignedRecord {
    /// Signs `payload` with `key`. Fails if the encoded record would exceed [`MAX_RECORD`].
    pub fn sign(
        key: &SigningKey,
        kind: RecordKind,
        created: u64,
        payload: Vec<u8>,
    ) -> Result<SignedRecord, RecordError> {
        let publisher = PublicKey(key.verifying_key().to_bytes());
        let msg = signed_message(kind, &publisher, created, &payload);
        let signature = Signature(key.sign(&msg).to_bytes());
        let record = SignedRecord {
            kind,
            publisher,
            created,
            payload,
            signature,
        };
        let size = record.encoded_len();
        if size > MAX_RECORD {
            return Err(RecordError::TooLarge { size });
        }
        Ok(record)
    }

    /// Checks the signature (strict ed25519 verification).
    pub fn verify_signature(&self) -> Result<(), RecordError> {
        let key =
            VerifyingKey::from_bytes(&self.publisher.0).map_err(|_| RecordError::BadPublicKey)?;
        let msg = signed_message(self.kind, &self.publisher, self.created, &self.payload);
        let sig = DalekSignature::from_bytes(&self.signature.0);
        key.verify_strict(&msg, &sig)
            .map_err(|_| RecordError::BadSignature)
    }

    /// The postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect(
            "postcard encodes a record (plain fields, byte vectors) into a Vec without error",
        )
    }

    /// Size of the postcard encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        postcard::experimental::serialized_size(self)
            .expect("postcard sizes a record (plain fields, byte vectors) without error")
    }

    /// Decodes a record, refusing oversize input and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<SignedRecord, RecordError> {
        if bytes.len() > MAX_RECORD {
            return Err(RecordError::TooLarge { size: bytes.len() });
        }
        let (record, rest) = postcard::take_from_bytes::<SignedRecord>(bytes)
            .map_err(|e| RecordError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(RecordError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(record)
    }

    /// The record id: blake3 of the signed encoding. Two signings of one payload at different
    /// times have different record ids; the store pages values in this order.
    pub fn id(&self) -> RecordId {
        RecordId(*blake3::hash(&self.encode()).as_bytes())
    }

    /// The content id: blake3 of the kind, the publisher and the payload, without the creation
    /// time or the signature. The same statement by the same publisher has one content id
    /// however often (and whenever) it is signed again, so a holder keeps one record per
    /// content id and key (the newest, see [`RecordStore`](crate::RecordStore)) and a reader
    /// counts it once.
    pub fn content_id(&self) -> RecordId {
        let fields = (self.kind, &self.publisher, &self.payload);
        let mut hasher = blake3::Hasher::new();
        hasher.update(CONTENT_CONTEXT);
        hasher.update(
            &postcard::to_stdvec(&fields)
                .expect("postcard encodes a tuple of plain values into a Vec without error"),
        );
        RecordId(*hasher.finalize().as_bytes())
    }
}

/// The hook a node uses to decide whether to store a record under a key. It runs after the
/// generic size check; implementations normally call [`SignedRecord::verify_signature`].
pub trait RecordPolicy: Send + Sync + fmt::Debug {
    /// `Ok` if `record` may be stored under `key`.
    fn check(&self, key: &Id, record: &SignedRecord) -> Result<(), RecordError>;

    /// The [content id](SignedRecord::content_id) of the record that `record` (already
    /// checked) reports on, when it is a report stored under the same keys as its subject (a
    /// reproduction names the packet it re-ran). Holders rank a key's values by the reports
    /// they hold on each ([`RecordStore`](crate::RecordStore)). The default: it reports on
    /// nothing.
    fn subject_of(&self, _record: &SignedRecord) -> Option<RecordId> {
        None
    }

    /// Whether `report` (whose [`subject_of`](Self::subject_of) is `subject`'s content id)
    /// confirms `subject` (`Some(true)`), contradicts it (`Some(false)`) or says nothing a
    /// holder can judge (`None`, the default). Both records are checked; a holder asks once
    /// per pair it holds.
    fn supports(&self, _report: &SignedRecord, _subject: &SignedRecord) -> Option<bool> {
        None
    }
}

/// The default policy: any payload kind under any key, as long as the signature verifies.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignatureOnly;

impl RecordPolicy for SignatureOnly {
    fn check(&self, _key: &Id, record: &SignedRecord) -> Result<(), RecordError> {
        record.verify_signature()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn sign_verify_round_trip() {
        let r =
            SignedRecord::sign(&key(1), RecordKind::Raw, 1_700_000_000, b"hello".to_vec()).unwrap();
        r.verify_signature().unwrap();
        let back = SignedRecord::decode(&r.encode()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.id(), r.id());
    }

    #[test]
    fn the_content_id_ignores_the_time_and_the_record_id_does_not() {
        let first = SignedRecord::sign(&key(1), RecordKind::Raw, 1, b"same".to_vec()).unwrap();
        let later = SignedRecord::sign(&key(1), RecordKind::Raw, 99, b"same".to_vec()).unwrap();
        assert_ne!(first.id(), later.id());
        assert_eq!(first.content_id(), later.content_id());
        let other = SignedRecord::sign(&key(2), RecordKind::Raw, 1, b"same".to_vec()).unwrap();
        assert_ne!(first.content_id(), other.content_id(), "another publisher");
        let outcome = SignedRecord::sign(&key(1), RecordKind::Outcome, 1, b"same".to_vec());
        assert_ne!(
            first.content_id(),
            outcome.unwrap().content_id(),
            "another kind"
        );
        assert_ne!(first.content_id(), first.id());
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let mut r = SignedRecord::sign(&key(1), RecordKind::Raw, 1, b"hello".to_vec()).unwrap();
        r.payload[0] ^= 1;
        assert_eq!(r.verify_signature(), Err(RecordError::BadSignature));
        let mut r2 = SignedRecord::sign(&key(1), RecordKind::Raw, 1, b"hello".to_vec()).unwrap();
        r2.publisher = PublicKey(key(2).verifying_key().to_bytes());
        assert_eq!(r2.verify_signature(), Err(RecordError::BadSignature));
    }

    #[test]
    fn oversize_payload_is_refused_with_its_size() {
        let err = SignedRecord::sign(&key(1), RecordKind::Raw, 1, vec![0; 500]).unwrap_err();
        assert!(matches!(err, RecordError::TooLarge { size } if size > MAX_RECORD));
        // The largest payload that fits: 512 minus the fixed overhead.
        let overhead = SignedRecord::sign(&key(1), RecordKind::Raw, u64::MAX, vec![])
            .unwrap()
            .encoded_len();
        let fits = MAX_RECORD - overhead - 1; // one more byte for the length varint growing to 2
        assert!(SignedRecord::sign(&key(1), RecordKind::Raw, u64::MAX, vec![7; fits]).is_ok());
    }

    #[test]
    fn decode_rejects_garbage_and_trailing_bytes() {
        assert!(SignedRecord::decode(&[0xff; 20]).is_err());
        let r = SignedRecord::sign(&key(1), RecordKind::Raw, 1, b"x".to_vec()).unwrap();
        let mut bytes = r.encode();
        bytes.push(0);
        assert!(SignedRecord::decode(&bytes).is_err());
    }
}
