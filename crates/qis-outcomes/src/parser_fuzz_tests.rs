//! Nothing a file or a peer sends can panic the parsers: arbitrary text and bytes go through
//! every entry point that reads untrusted input.

use crate::packet::fromrun::files::{check_all_finite, count, parse_json};
use crate::packet::fromrun::llamafactory::flat_yaml;
use crate::packet::template::parse_packet_file;
use crate::packet::*;
use proptest::prelude::*;
use qis_core::Id;
use qis_core::{RecordPolicy, SignedRecord};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_parsers_never_panic(text in "\\PC{0,200}") {
        let _ = parse_packet_file(&text).map(|d| d.build());
        if let Ok(value) = parse_json("f.json", &text) {
            let _ = check_all_finite(&value, "f.json");
            let _ = count(&value, "f.json", "n");
        }
        let _ = flat_yaml(&text);
        let _ = family::fold_family(&text);
        let _ = Method::parse(&text);
        let _ = HyperKey::parse(&text);
        let _ = HyperValue::parse(&text);
        let _ = Query::new(Some(&text), &text, &[text.as_str()]).keys();
    }

    #[test]
    fn json_with_python_tokens_never_panics(parts in proptest::collection::vec(
        prop_oneof![Just("{"), Just("}"), Just("\""), Just("NaN"), Just("-Infinity"), Just(":"), Just(","), Just("1"), Just("\\"), Just("é")],
        0..40,
    )) {
        let text: String = parts.concat();
        let _ = parse_json("f.json", &text);
    }

    #[test]
    fn payload_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = OutcomeBody::decode(&bytes);
        let _ = OutcomePacket::decode(&bytes);
        if let Ok(record) = SignedRecord::decode(&bytes) {
            let _ = OutcomePolicy::default().check(&Id::hash(b"k"), &record);
        }
    }
}
