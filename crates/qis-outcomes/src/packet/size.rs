//! The size budget. A packet is a [`SignedRecord`] of at most [`MAX_RECORD`] bytes, signature
//! included; a packet that would not fit is refused with its size and the fields taking the most
//! room, so the publisher knows what to shorten.
//!
//! Fixed cost of the envelope: kind (1 byte) + publisher key (32) + creation time (a varint, 5
//! bytes for any date between 1978 and 3058) + payload length (1–2) + signature (64) ≈ 103
//! bytes, which leaves about 409 bytes for the body (its first byte is the format version).

use super::body::OutcomeBody;
use super::error::PacketError;
use qis_core::constants::MAX_RECORD;
use qis_core::{PublicKey, RecordKind, Signature, SignedRecord};
use serde::Serialize;

/// A creation time whose varint has the width of any present-day time (5 bytes), used to size
/// a packet before it is signed.
pub const TYPICAL_CREATED: u64 = 1_800_000_000;

/// How many of the largest fields a size refusal lists.
const LARGEST_LISTED: usize = 3;

/// The encoded size of the record that would carry `body`, signature included. The signature
/// and key values do not change the size, so none is needed.
pub fn record_size(body: &OutcomeBody, created: u64) -> usize {
    let record = SignedRecord {
        kind: RecordKind::Outcome,
        publisher: PublicKey([0; 32]),
        created,
        payload: body.encode(),
        signature: Signature([0; 64]),
    };
    record.encoded_len()
}

fn size_of<T: Serialize + ?Sized>(value: &T) -> usize {
    postcard::experimental::serialized_size(value)
        .expect("postcard sizes every body field (plain values, strings, vectors) without error")
}

/// The encoded size of every body field, largest first (ties in field order).
pub(crate) fn field_sizes(body: &OutcomeBody) -> Vec<(String, usize)> {
    let mut sizes = vec![
        ("family", size_of(&body.family)),
        ("task", size_of(&body.task)),
        ("tags", size_of(&body.tags)),
        ("data_scale", size_of(&body.data_scale)),
        ("benchmark", size_of(&body.benchmark)),
        ("metric", size_of(&body.metric)),
        ("filter", size_of(&body.filter)),
        ("shots", size_of(&body.shots)),
        ("score_scale", size_of(&body.score_scale)),
        ("higher_is_better", size_of(&body.higher_is_better)),
        ("baseline", size_of(&body.baseline)),
        ("outcome", size_of(&body.outcome)),
        ("method", size_of(&body.method)),
        ("hyperparameters", size_of(&body.hyperparams)),
        ("held_out", size_of(&body.held_out)),
        ("eval_samples", size_of(&body.eval_samples)),
        ("confidence", size_of(&body.confidence)),
        ("built_on", size_of(&body.built_on)),
    ];
    sizes.sort_by_key(|s| std::cmp::Reverse(s.1));
    sizes
        .into_iter()
        .map(|(field, bytes)| (field.to_string(), bytes))
        .collect()
}

/// `Ok(size)` if the record carrying `body` fits [`MAX_RECORD`], else
/// [`PacketError::TooLarge`] with the size and the largest fields.
pub fn check_size(body: &OutcomeBody, created: u64) -> Result<usize, PacketError> {
    let size = record_size(body, created);
    if size <= MAX_RECORD {
        return Ok(size);
    }
    let mut largest = field_sizes(body);
    largest.truncate(LARGEST_LISTED);
    Err(PacketError::TooLarge {
        size,
        limit: MAX_RECORD,
        largest,
    })
}
