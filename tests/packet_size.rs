//! Encoded size of typical packets against the seed's JSON for the same content.
//!
//! The seed serialised a packet as compact JSON (`separators=(",", ":")`) without baseline,
//! outcome, held-out flag, publisher key, creation time or signature. qis's record carries all of
//! those. Run with `--nocapture` to see the numbers.

use ed25519_dalek::SigningKey;
use qis_core::constants::MAX_RECORD;
use qis_outcomes::format_number;
use qis_outcomes::*;
use qis_outcomes::{Overrides, from_run};
use qis_outcomes::{packet_example as template, parse_packet_file};
use std::path::PathBuf;

/// The seed's `to_bytes()` for the same content, written the way Python's `json.dumps` would.
fn seed_json(body: &OutcomeBody) -> String {
    let params: serde_json::Map<String, serde_json::Value> = body
        .hyperparams
        .iter()
        .map(|(k, v)| {
            let value = match v {
                HyperValue::Int(i) => serde_json::json!(i),
                HyperValue::Float(x) => {
                    serde_json::json!(format_number(f64::from(*x)).parse::<f64>().unwrap_or(0.0))
                }
                HyperValue::Bool(b) => serde_json::json!(b),
                HyperValue::Text(s) => serde_json::json!(s),
            };
            (k.name().to_string(), value)
        })
        .collect();
    let delta = (body.delta() * 10_000.0).round() / 10_000.0;
    let confidence = (f64::from(body.confidence) * 1000.0).round() / 1000.0;
    // Field order as in the seed's dict literal; serde_json's map keeps insertion order only
    // with a feature, so the object is written by hand.
    format!(
        "{{\"family\":{},\"task\":{},\"tags\":{},\"scale\":{},\"bench\":{},\"delta\":{},\"method\":{},\"params\":{},\"n_eval\":{},\"conf\":{}}}",
        serde_json::json!(body.family),
        serde_json::json!(body.task),
        serde_json::json!(body.tags),
        serde_json::json!(body.data_scale.label()),
        serde_json::json!(body.benchmark),
        delta,
        serde_json::json!(body.method.to_string()),
        serde_json::Value::Object(params),
        body.eval_samples,
        confidence,
    )
}

fn sizes(name: &str, body: OutcomeBody) -> (usize, usize, usize) {
    let packet = OutcomePacket::sign(
        body.clone(),
        &SigningKey::from_bytes(&[3; 32]),
        1_760_000_000,
    )
    .unwrap();
    let record = packet.record.encoded_len();
    let payload = packet.record.payload.len();
    let seed = seed_json(&body).len();
    println!(
        "{name}: qis record {record} B (body {payload} B + key, time, signature); seed JSON {seed} B without key, time, signature, scores or held-out flag"
    );
    assert!(record <= MAX_RECORD);
    (record, payload, seed)
}

#[test]
fn typical_packets_are_far_below_the_limit_and_smaller_than_the_seed_json() {
    let medqa = from_run(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs/qlora-llama3-medqa"),
        &Overrides {
            task: Some("medical-qa".into()),
            tags: vec!["healthcare".into(), "en".into()],
            ..Overrides::default()
        },
    )
    .unwrap()
    .build()
    .unwrap();
    let (record, payload, seed) = sizes("qlora-llama3-medqa", medqa);
    // Measured: record 210 B, body 107 B, seed JSON 285 B. The whole signed record, with its
    // 32-byte key and 64-byte signature, is smaller than the seed's unsigned JSON, and the body
    // alone is under half of it.
    assert!(payload * 2 < seed, "body {payload} vs seed {seed}");
    assert!(record < seed, "record {record} vs seed {seed}");

    let template_body = parse_packet_file(&template()).unwrap().build().unwrap();
    let (record, payload, seed) = sizes("template (swahili summarisation)", template_body);
    assert!(
        payload * 2 < seed && record < seed,
        "{record} {payload} {seed}"
    );
}
