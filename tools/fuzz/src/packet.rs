//! Bytes into outcome-packet and signed-record decoding, three ways:
//!
//! 1. as a signed record off the network: `SignedRecord::decode` and plain postcard agree, a
//!    decoded record re-encodes to a record that decodes the same, and `OutcomePacket::
//!    from_record` and the outcome record policy open or refuse it without panicking;
//! 2. as a packet body: `OutcomeBody::decode`, then validation and semantic keys;
//! 3. as the payload of a freshly signed outcome record, so the bytes get past the signature
//!    check: `OutcomePacket::from_record` accepts it exactly when the body decodes and validates.

use qis_core::constants::MAX_RECORD;
use qis_core::{Id, Identity, RecordKind, RecordPolicy, SignedRecord};
use qis_outcomes::{
    OutcomeBody, OutcomePacket, OutcomePolicy, TYPICAL_CREATED, packet_example, packet_keys,
    parse_packet_file, validate_body,
};
use std::sync::OnceLock;

fn publisher() -> &'static Identity {
    static PUBLISHER: OnceLock<Identity> = OnceLock::new();
    PUBLISHER.get_or_init(|| Identity::from_secret_key([7; 32]))
}

/// The fuzz target.
pub fn run(data: &[u8]) {
    as_record(data);
    let body = as_body(data);
    as_signed_payload(data, body);
}

fn as_record(data: &[u8]) {
    let decoded = SignedRecord::decode(data);
    if let Ok(record) = &decoded {
        let plain: SignedRecord =
            postcard::from_bytes(data).expect("what decode accepts, postcard accepts");
        assert_eq!(&plain, record);
        let again = SignedRecord::decode(&record.encode()).expect("a decoded record re-decodes");
        assert_eq!(&again, record);
        assert_eq!(again.id(), record.id());
        assert_eq!(record.encoded_len(), record.encode().len());
        let key = Id::hash(b"key");
        let _ = OutcomePolicy::default().check(&key, record);
        let _ = OutcomePolicy::allowing_raw().check(&key, record);
        if let Ok(packet) = OutcomePacket::from_record(record.clone()) {
            assert!(
                validate_body(&packet.body).is_ok(),
                "an opened packet is valid"
            );
            assert!(
                !packet.keys().is_empty(),
                "a packet is stored under some key"
            );
        }
    }
    // The network path is the record path.
    match (OutcomePacket::decode(data), &decoded) {
        (Ok(packet), Ok(record)) => assert_eq!(&packet.record, record),
        (Ok(_), Err(e)) => panic!("a packet opened from bytes that are no record: {e}"),
        (Err(_), _) => {}
    }
}

/// The body, if the bytes are a valid one.
fn as_body(data: &[u8]) -> Option<OutcomeBody> {
    let body = OutcomeBody::decode(data).ok()?;
    // Re-encoding is stable (the bytes may differ from `data`: the decoder may accept a
    // non-minimal encoding, but never one that re-encodes differently twice).
    let encoded = body.encode();
    let again = OutcomeBody::decode(&encoded).expect("a decoded body re-decodes");
    assert_eq!(again.encode(), encoded);
    validate_body(&body).ok()?;
    let _ = packet_keys(&body);
    Some(body)
}

fn as_signed_payload(data: &[u8], valid_body: Option<OutcomeBody>) {
    let Ok(record) = SignedRecord::sign(
        publisher().signing_key(),
        RecordKind::Outcome,
        TYPICAL_CREATED,
        data.to_vec(),
    ) else {
        assert!(data.len() > MAX_RECORD / 2, "a small payload signs");
        return;
    };
    let opened = OutcomePacket::from_record(record.clone());
    assert_eq!(
        opened.is_ok(),
        valid_body.is_some(),
        "opening a signed record agrees with decoding and validating its payload: {:?}",
        opened.as_ref().err()
    );
    let from_bytes = OutcomePacket::decode(&record.encode());
    assert_eq!(from_bytes.is_ok(), opened.is_ok());
    if let Ok(packet) = opened {
        assert_eq!(packet.record, record);
        // Not necessarily `data` itself: postcard accepts non-minimal varints.
        let canonical = packet.body.encode();
        assert_eq!(
            OutcomeBody::decode(&canonical).map(|b| b.encode()),
            Ok(canonical)
        );
    }
}

/// A valid body, and the record that carries it.
pub fn seeds() -> Vec<Vec<u8>> {
    let body = parse_packet_file(&packet_example())
        .expect("the example parses")
        .build()
        .expect("the example is a valid packet");
    let packet = OutcomePacket::sign(body.clone(), publisher().signing_key(), TYPICAL_CREATED)
        .expect("the example signs");
    vec![body.encode(), packet.encode()]
}
