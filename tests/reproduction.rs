//! Reproduction reports: the record (size, versions, what a node stores and where), and what
//! synthesis makes of them: a failed reproduction lowers a packet, one that holds raises its
//! publisher, and reports by keys nobody vouches for (Sybils) or on one's own packet change
//! nothing.

use ed25519_dalek::SigningKey;
use qis_core::{Id, RecordKind, RecordPolicy, SignedRecord};
use qis_outcomes::standing::{self, standings};
use qis_outcomes::*;

const NOW: u64 = 1_800_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A packet by `publisher` claiming +`gain` on 1,000 samples.
fn packet(publisher: u8, gain: f64) -> OutcomePacket {
    let mut draft = parse_packet_file(&packet_example()).unwrap();
    draft.baseline = Some(0.4);
    draft.outcome = Some(0.4 + gain);
    draft.delta = None;
    draft.eval_samples = Some(1000);
    draft.confidence = Some(0.9);
    OutcomePacket::sign(draft.build().unwrap(), &key(publisher), NOW).unwrap()
}

/// `reproducer`'s re-run of `x`, realising +`gain` on 1,000 samples.
fn report(reproducer: u8, x: &OutcomePacket, gain: f64) -> Reproduction {
    let body = ReproductionBody::of_packet(x, 0.4, 0.4 + gain as f32, 1000, true);
    Reproduction::sign(body, x, &key(reproducer), NOW).unwrap()
}

fn evidence(p: &OutcomePacket) -> Evidence {
    let mut e = Evidence::new(p.id(), p.publisher(), p.body.clone(), 1.0);
    e.created = p.created();
    e
}

/// A ledger that trusts `trusted` outright and has checked `claims` (publisher, claimed,
/// realised) with its own runs.
fn ledger(trusted: &[u8], claims: &[(&OutcomePacket, f64)]) -> Ledger {
    Ledger {
        outcomes: claims
            .iter()
            .map(|(x, realised)| OwnOutcome {
                checked: vec![Claim {
                    id: x.id(),
                    publisher: x.publisher(),
                    gain: x.body.normalized_gain(),
                    eval_samples: x.body.eval_samples,
                    weight: 1.0,
                    level: None,
                }],
                realised: *realised,
                eval_samples: 1000,
                created: NOW,
            })
            .collect(),
        trusted: trusted
            .iter()
            .map(|n| qis_core::PublicKey(key(*n).verifying_key().to_bytes()))
            .collect(),
    }
}

fn weighed(found: &[&OutcomePacket], reports: &[&Reproduction], ledger: &Ledger) -> Vec<Evidence> {
    let mut evidence: Vec<Evidence> = found.iter().map(|p| evidence(p)).collect();
    let reports: Vec<Reproduced> = reports.iter().map(|r| Reproduced::of_report(r)).collect();
    let map = standings(&evidence, &reports, ledger, NOW);
    standing::apply(&mut evidence, &map);
    evidence
}

#[test]
fn a_report_fits_a_record_round_trips_and_is_stored_only_under_its_packets_keys() {
    let x = packet(1, 0.05);
    let r = report(2, &x, 0.04);
    assert_eq!(r.record.kind, RecordKind::Reproduction);
    let size = r.record.encoded_len();
    assert!(size <= qis_core::constants::MAX_RECORD, "{size}");
    let again = Reproduction::from_record(SignedRecord::decode(&r.record.encode()).unwrap());
    assert_eq!(again.unwrap(), r);
    let policy = OutcomePolicy::strict();
    for k in x.keys() {
        // Under every key of the reproduced packet but the crowded task-alone key.
        let accepted = policy.check(&k.id, &r.record).is_ok();
        assert_eq!(accepted, k.level != KeyLevel::Task, "{}", k.text);
        assert_eq!(r.keys().contains(&k), accepted);
    }
    assert_eq!(r.keys().len(), x.keys().len() - 1);
    let elsewhere = Id::hash(b"some other context");
    assert!(policy.check(&elsewhere, &r.record).is_err());
    // A forged report (its gain raised after signing) is refused as a bad signature.
    let mut forged = r.record.clone();
    let mut body = r.body.clone();
    body.outcome = 0.9;
    forged.payload = body.encode();
    assert!(matches!(
        policy.check(&x.keys()[0].id, &forged),
        Err(qis_core::RecordError::BadSignature)
    ));
    assert!(Reproduction::from_record(x.record.clone()).is_err());
    assert!(OutcomePacket::from_record(r.record.clone()).is_err());
}

#[test]
fn another_format_version_and_bad_fields_are_refused_by_name() {
    let x = packet(1, 0.05);
    let mut payload = report(2, &x, 0.04).body.encode();
    payload[0] = REPRODUCTION_FORMAT_VERSION + 1;
    assert!(matches!(
        ReproductionBody::decode(&payload),
        Err(ReproductionError::Version { found, .. }) if found == REPRODUCTION_FORMAT_VERSION + 1
    ));
    assert!(matches!(
        ReproductionBody::decode(&[]),
        Err(ReproductionError::Decode(_))
    ));
    let mut nan = ReproductionBody::of_packet(&x, 0.4, f32::NAN, 1000, true);
    assert!(nan.validate().unwrap_err().to_string().contains("outcome"));
    nan.outcome = 0.5;
    nan.eval_samples = 0;
    assert!(
        nan.validate()
            .unwrap_err()
            .to_string()
            .contains("eval_samples")
    );
}

#[test]
fn a_report_must_be_measured_like_its_packet_and_not_be_by_its_publisher() {
    let x = packet(1, 0.05);
    let mut other_benchmark = ReproductionBody::of_packet(&x, 0.4, 0.45, 1000, true);
    other_benchmark.benchmark = "mmlu".into();
    let error = Reproduction::sign(other_benchmark, &x, &key(2), NOW).unwrap_err();
    assert!(
        matches!(error, ReproductionError::Setting { .. }),
        "{error}"
    );
    let own = ReproductionBody::of_packet(&x, 0.4, 0.45, 1000, true);
    assert_eq!(
        Reproduction::sign(own, &x, &key(1), NOW).unwrap_err(),
        ReproductionError::OwnPacket
    );
    // From a drafted re-run: what it leaves unsaid is the packet's; a different metric is
    // refused with both settings named.
    let mut draft = Draft {
        baseline: Some(0.4),
        outcome: Some(0.43),
        eval_samples: Some(500),
        held_out: Some(true),
        ..Draft::default()
    };
    let body = ReproductionBody::from_draft(&x, &draft).unwrap();
    assert_eq!(body.setting(), x.body.setting());
    assert_eq!(body.eval_samples, 500);
    draft.metric = Some("acc_norm".into());
    let error = ReproductionBody::from_draft(&x, &draft).unwrap_err();
    assert!(error.to_string().contains("acc_norm"), "{error}");
}

#[test]
fn a_failed_reproduction_lowers_the_packet_and_its_publisher() {
    // Publisher 1 is established by the client's own run; reproducer 9 is trusted. The
    // re-run falls short of x's claim by more than the tolerance (≈ 0.083 at 1,000 samples
    // each).
    let x = packet(1, 0.15);
    let earlier = packet(1, 0.05);
    let ledger = ledger(&[9], &[(&earlier, 0.05)]);
    let before = weighed(&[&x, &earlier], &[], &ledger);
    let failed = report(9, &x, -0.02);
    let after = weighed(&[&x, &earlier], &[&failed], &ledger);
    assert!(
        after[0].weight() < 0.6 * before[0].weight(),
        "{} vs {}",
        after[0].weight(),
        before[0].weight()
    );
    assert!(after[0].standing < before[0].standing);
    // The publisher's other packet loses only what the publisher's standing lost.
    assert!(after[1].weight() < before[1].weight());
    assert!(after[1].weight() > after[0].weight());
}

#[test]
fn a_reproduction_that_holds_raises_the_publisher() {
    let x = packet(1, 0.05);
    let ledger = ledger(&[9], &[]);
    let before = weighed(&[&x], &[], &ledger);
    assert_eq!(
        before[0].standing, 0.0,
        "nobody has observed publisher 1 yet"
    );
    let held = report(9, &x, 0.045);
    let after = weighed(&[&x], &[&held], &ledger);
    assert!(after[0].standing >= 0.25, "{}", after[0].standing);
    assert!(after[0].weight() > 100.0 * before[0].weight());
}

#[test]
fn sybil_and_self_reproductions_change_nothing() {
    // A fresh key's lie, "reproduced" by another fresh key and by the liar itself.
    let lie = packet(5, 0.2);
    let ledger = ledger(&[9], &[]);
    let alone = weighed(&[&lie], &[], &ledger);
    let sybil = report(6, &lie, 0.2);
    let with_sybil = weighed(&[&lie], &[&sybil], &ledger);
    assert_eq!(alone, with_sybil);
    // A self-report cannot be signed through the API; one crafted by hand counts for nothing
    // even when its author is established.
    let body = ReproductionBody::of_packet(&lie, 0.4, 0.6, 1000, true);
    let own = Reproduction::sign_body(body, &key(5), NOW).unwrap();
    let trusted = self::ledger(&[9, 5], &[]);
    assert_eq!(
        weighed(&[&lie], &[], &trusted),
        weighed(&[&lie], &[&own], &trusted)
    );
}

#[test]
fn a_repeated_or_mismeasured_report_adds_nothing() {
    let x = packet(1, 0.05);
    let ledger = ledger(&[9], &[]);
    let once = weighed(&[&x], &[&report(9, &x, 0.045)], &ledger);
    let second = {
        let body = ReproductionBody::of_packet(&x, 0.4, 0.446, 1000, true);
        Reproduction::sign(body, &x, &key(9), NOW + 60).unwrap()
    };
    let twice = weighed(&[&x], &[&report(9, &x, 0.045), &second], &ledger);
    assert!((once[0].standing - twice[0].standing).abs() < 1e-12);
    // Measured on another benchmark: not a reproduction of x.
    let mut body = ReproductionBody::of_packet(&x, 0.4, 0.45, 1000, true);
    body.benchmark = "mmlu".into();
    let elsewhere = Reproduction::sign_body(body, &key(9), NOW).unwrap();
    assert_eq!(
        weighed(&[&x], &[], &ledger),
        weighed(&[&x], &[&elsewhere], &ledger)
    );
}

#[test]
fn a_crowd_of_fresh_keys_carries_at_most_the_unproven_share() {
    let honest = packet(1, 0.05);
    let ledger = ledger(&[1], &[]);
    let crowd: Vec<OutcomePacket> = (100..160).map(|n| packet(n, 0.2)).collect();
    let mut found: Vec<&OutcomePacket> = vec![&honest];
    found.extend(&crowd);
    let weighed = weighed(&found, &[], &ledger);
    let total: f64 = weighed.iter().map(Evidence::weight).sum();
    let unproven: f64 = weighed
        .iter()
        .filter(|e| e.standing == 0.0)
        .map(Evidence::weight)
        .sum();
    let share = unproven / total;
    assert!(
        (share - standing::UNPROVEN_SHARE).abs() < 1e-9,
        "60 fresh keys hold {share} of the weight"
    );
    // Without anyone established, the crowd keeps its (floor) weight: synthesis still works.
    let nobody = weighed_without_standing(&found);
    assert!(nobody.iter().all(|e| e.trust == standing::TRUST_FLOOR));
}

fn weighed_without_standing(found: &[&OutcomePacket]) -> Vec<Evidence> {
    weighed(found, &[], &Ledger::default())
}

/// What a holder serves first under a key it holds `packets` and `reports` under, with the
/// real store and policy a node uses: the ids of the packets, best-ranked first.
fn served_first(packets: &[&OutcomePacket], reports: &[&Reproduction]) -> Vec<qis_core::RecordId> {
    let policy = std::sync::Arc::new(OutcomePolicy::strict());
    let mut store = qis_core::RecordStore::with_policy(Default::default(), policy.clone());
    let key = reports[0].keys()[0].id;
    let records = packets
        .iter()
        .map(|p| &p.record)
        .chain(reports.iter().map(|r| &r.record));
    for record in records {
        policy.check(&key, record).unwrap();
        store
            .put(key, record.clone(), qis_core::Time::ZERO, None)
            .unwrap();
    }
    store
        .best_first(&key)
        .into_iter()
        .filter(|(_, stored)| stored.record.kind == RecordKind::Outcome)
        .map(|(_, stored)| stored.record.content_id())
        .collect()
}

#[test]
fn holders_serve_first_the_packets_others_reproduced_and_last_the_ones_that_failed() {
    let (confirmed, inflated, unchecked) = (packet(1, 0.05), packet(2, 0.3), packet(3, 0.06));
    let holds = [report(4, &confirmed, 0.05), report(5, &confirmed, 0.06)];
    let fails = report(6, &inflated, 0.0);
    let order = served_first(
        &[&inflated, &unchecked, &confirmed],
        &[&holds[0], &holds[1], &fails],
    );
    assert_eq!(order, vec![confirmed.id(), unchecked.id(), inflated.id()]);
    // The liar confirming its own packet, or a report measured otherwise, moves nothing.
    let own = report_by_publisher(2, &inflated);
    let order = served_first(&[&inflated, &unchecked], &[&own, &fails]);
    assert_eq!(order.last(), Some(&inflated.id()));
}

/// A "reproduction" of `x` by its own publisher `publisher` (signed from the body:
/// `Reproduction::sign` refuses a report on one's own packet), claiming it holds.
fn report_by_publisher(publisher: u8, x: &OutcomePacket) -> Reproduction {
    let body = ReproductionBody::of_packet(x, 0.4, 0.7, 1000, true);
    Reproduction::sign_body(body, &key(publisher), NOW).unwrap()
}
