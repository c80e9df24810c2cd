//! What a node stores: `OutcomePolicy` refuses forged, invalid, misplaced and (by default) raw
//! records.

use ed25519_dalek::SigningKey;
use qis_core::Id;
use qis_core::{PublicKey, RecordError, RecordKind, RecordPolicy, SignedRecord};
use qis_outcomes::*;
use qis_outcomes::{packet_example as template, parse_packet_file};

fn signer(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn good_packet() -> OutcomePacket {
    let body = parse_packet_file(&template()).unwrap().build().unwrap();
    OutcomePacket::sign(body, &signer(1), 1_760_000_000).unwrap()
}

#[test]
fn a_valid_packet_is_accepted_under_each_of_its_keys_only() {
    let packet = good_packet();
    let policy = OutcomePolicy::default();
    for key in packet.keys() {
        policy.check(&key.id, &packet.record).unwrap();
    }
    let elsewhere = Id::hash(b"qis/key/v2/task/translation");
    let err = policy.check(&elsewhere, &packet.record).unwrap_err();
    assert_eq!(
        err,
        RecordError::Refused("key is not one of the packet's semantic keys".into())
    );
}

#[test]
fn forged_signatures_are_refused() {
    let packet = good_packet();
    let key = packet.keys()[0].id;
    let policy = OutcomePolicy::default();

    let mut tampered = packet.record.clone();
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 1;
    assert_eq!(
        policy.check(&key, &tampered),
        Err(RecordError::BadSignature)
    );

    let mut stolen = packet.record.clone();
    stolen.publisher = PublicKey(signer(2).verifying_key().to_bytes());
    assert_eq!(policy.check(&key, &stolen), Err(RecordError::BadSignature));

    let mut redated = packet.record.clone();
    redated.created += 1;
    assert_eq!(policy.check(&key, &redated), Err(RecordError::BadSignature));

    let mut zeroed = packet.record.clone();
    zeroed.signature.0 = [0; 64];
    assert_eq!(policy.check(&key, &zeroed), Err(RecordError::BadSignature));

    assert!(matches!(
        OutcomePacket::from_record(tampered),
        Err(PacketError::Record(RecordError::BadSignature))
    ));
}

#[test]
fn validly_signed_but_invalid_bodies_are_refused() {
    let policy = OutcomePolicy::default();
    let body = parse_packet_file(&template()).unwrap().build().unwrap();
    let key = qis_outcomes::packet_keys(&body)[0].id;

    // Garbage payload, correctly signed.
    let garbage = SignedRecord::sign(&signer(1), RecordKind::Outcome, 1, vec![0xff; 40]).unwrap();
    let err = policy.check(&key, &garbage).unwrap_err();
    assert!(
        matches!(&err, RecordError::Refused(m) if m.contains("does not decode")),
        "{err}"
    );

    // A non-canonical body (family not folded) signed by hand: its keys would not be reproducible.
    let mut raw_family = body.clone();
    raw_family.family = "Meta-Llama-3-8B".into();
    let record =
        SignedRecord::sign(&signer(1), RecordKind::Outcome, 1, raw_family.encode()).unwrap();
    let err = policy.check(&key, &record).unwrap_err();
    assert!(
        matches!(&err, RecordError::Refused(m) if m.starts_with("family:")),
        "{err}"
    );

    // An invalid confidence.
    let mut overconfident = body.clone();
    overconfident.confidence = 3.0;
    let record =
        SignedRecord::sign(&signer(1), RecordKind::Outcome, 1, overconfident.encode()).unwrap();
    let err = policy.check(&key, &record).unwrap_err();
    assert!(
        matches!(&err, RecordError::Refused(m) if m.starts_with("confidence:")),
        "{err}"
    );

    // Trailing bytes after a valid body.
    let mut padded = body.encode();
    padded.push(0);
    let record = SignedRecord::sign(&signer(1), RecordKind::Outcome, 1, padded).unwrap();
    assert!(policy.check(&key, &record).is_err());
}

#[test]
fn raw_records_depend_on_the_flag() {
    let raw = SignedRecord::sign(&signer(1), RecordKind::Raw, 1, b"hello".to_vec()).unwrap();
    let key = Id::hash(b"anything");
    assert!(matches!(
        OutcomePolicy::strict().check(&key, &raw),
        Err(RecordError::Refused(_))
    ));
    assert_eq!(OutcomePolicy::default(), OutcomePolicy::strict());
    OutcomePolicy::allowing_raw().check(&key, &raw).unwrap();
    let mut forged = raw.clone();
    forged.payload[0] ^= 1;
    assert_eq!(
        OutcomePolicy::allowing_raw().check(&key, &forged),
        Err(RecordError::BadSignature)
    );
    // An outcome packet is never accepted as raw and vice versa.
    assert!(matches!(
        OutcomePacket::from_record(raw),
        Err(PacketError::NotOutcome(_))
    ));
}
