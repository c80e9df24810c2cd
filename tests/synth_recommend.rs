//! Synthesis on hand-built evidence sets with known answers: weighted medians (log space for
//! learning rates), votes, method choice by expected gain, tie rules, weights, determinism.

use qis_core::{PublicKey, RecordId};
use qis_outcomes::*;
use qis_outcomes::{Evidence, recommend};
use qis_outcomes::{packet_example as template, parse_packet_file};
use qis_outcomes::{render_json as to_json, render_table as table};
use std::sync::Arc;

struct Run {
    id: u8,
    method: &'static str,
    gain: f64,
    params: Vec<(HyperKey, HyperValue)>,
}

fn run(id: u8, method: &'static str, gain: f64, params: &[(HyperKey, HyperValue)]) -> Run {
    Run {
        id,
        method,
        gain,
        params: params.to_vec(),
    }
}

fn evidence(r: &Run) -> Evidence {
    let mut draft = parse_packet_file(&template()).unwrap();
    draft.method = Method::parse(r.method);
    draft.baseline = Some(0.5);
    draft.outcome = Some(0.5 + r.gain);
    draft.delta = None;
    draft.eval_samples = Some(100);
    draft.confidence = Some(1.0);
    draft.hyperparams = r.params.clone();
    let body = draft.build().unwrap();
    Evidence::new(RecordId([r.id; 32]), PublicKey([r.id; 32]), body, 1.0)
}

fn lr(x: f32) -> (HyperKey, HyperValue) {
    (HyperKey::LearningRate, HyperValue::Float(x))
}
fn rank(r: i64) -> (HyperKey, HyperValue) {
    (HyperKey::LoraRank, HyperValue::Int(r))
}
fn sched(s: &str) -> (HyperKey, HyperValue) {
    (HyperKey::Scheduler, HyperValue::Text(s.into()))
}

fn param(rec: &qis_outcomes::Recommendation, key: HyperKey) -> (HyperValue, f64, usize) {
    let p = rec
        .hyperparams
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no {key}"));
    (p.value.clone(), p.support, p.stated_by)
}

#[test]
fn medians_and_votes_over_equal_evidence() {
    let runs = [
        run(1, "qlora", 0.05, &[lr(1e-4), rank(8), sched("cosine")]),
        run(2, "qlora", 0.05, &[lr(2e-4), rank(16), sched("cosine")]),
        run(3, "qlora", 0.05, &[lr(3e-4), rank(16), sched("linear")]),
    ];
    let evidence: Vec<Evidence> = runs.iter().map(evidence).collect();
    let rec = recommend(&evidence).unwrap();
    assert_eq!(rec.method.to_string(), "qlora");
    assert_eq!(
        param(&rec, HyperKey::LearningRate).0,
        HyperValue::Float(2e-4)
    );
    // 1e-4 is 50% away from 2e-4, 3e-4 is 50% away: only the median itself agrees.
    assert!((param(&rec, HyperKey::LearningRate).1 - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        param(&rec, HyperKey::LoraRank),
        (HyperValue::Int(16), 2.0 / 3.0, 3)
    );
    assert_eq!(
        param(&rec, HyperKey::Scheduler).0,
        HyperValue::Text("cosine".into())
    );
    assert!((param(&rec, HyperKey::Scheduler).1 - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(rec.evidence_count, 3);
    assert_eq!(rec.agreement, 1.0);
    assert!((rec.expected_gain - 0.05).abs() < 1e-6);
    assert_eq!(
        rec.contributors,
        vec![RecordId([1; 32]), RecordId([2; 32]), RecordId([3; 32])]
    );
}

#[test]
fn larger_gains_pull_the_hyperparameters() {
    // Same weight, but the runs with rank 64 improved more than the others.
    let runs = [
        run(1, "lora", 0.02, &[rank(8)]),
        run(2, "lora", 0.02, &[rank(8)]),
        run(3, "lora", 0.03, &[rank(64)]),
        run(4, "lora", 0.035, &[rank(64)]),
    ];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(param(&rec, HyperKey::LoraRank).0, HyperValue::Int(64));
    // But a gain counts only up to twice the median: one huge claim cannot outvote three
    // runs that agree.
    let runs = [
        run(1, "lora", 0.02, &[rank(8)]),
        run(2, "lora", 0.02, &[rank(8)]),
        run(3, "lora", 0.02, &[rank(8)]),
        run(4, "lora", 0.5, &[rank(128)]),
    ];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(param(&rec, HyperKey::LoraRank).0, HyperValue::Int(8));
    // A run that hurt does not vote for its settings, though it lowers the expected gain.
    let runs = [
        run(1, "lora", 0.02, &[rank(8)]),
        run(2, "lora", -0.04, &[rank(128)]),
    ];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(
        param(&rec, HyperKey::LoraRank),
        (HyperValue::Int(8), 1.0, 2)
    );
    assert!((rec.expected_gain - (-0.01)).abs() < 1e-6);
}

#[test]
fn the_method_is_chosen_by_expected_gain_not_by_count() {
    // Methods are ranked by their median gain less one standard error (the runs' spread, at
    // least their evaluation noise plus the context slack, over √runs): three qlora runs at
    // +6 points beat five lora runs at +2.5, although lora has more packets.
    let mut runs: Vec<Run> = (1..=5).map(|i| run(i, "lora", 0.025, &[])).collect();
    runs.extend((6..=8).map(|i| run(i, "qlora", 0.06, &[])));
    runs.push(run(9, "full", -0.01, &[]));
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(rec.method.to_string(), "qlora");
    assert!((rec.agreement - 3.0 / 9.0).abs() < 1e-9);
    let order: Vec<String> = rec.methods.iter().map(|m| m.method.to_string()).collect();
    assert_eq!(order, vec!["qlora", "lora", "full"]);
    assert!((rec.methods[1].expected_gain - 0.025).abs() < 1e-6);
    assert_eq!(
        rec.contributors,
        vec![RecordId([6; 32]), RecordId([7; 32]), RecordId([8; 32])]
    );
    // One run better by less than its own noise does not switch the method.
    let mut runs: Vec<Run> = (1..=5).map(|i| run(i, "lora", 0.025, &[])).collect();
    runs.push(run(6, "qlora", 0.06, &[]));
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(rec.method.to_string(), "lora");
}

#[test]
fn ties_follow_the_stated_rules() {
    // Equal gain and weight: the canonical method order decides (lora before qlora).
    let runs = [run(1, "qlora", 0.05, &[]), run(2, "lora", 0.05, &[])];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    assert_eq!(rec.method.to_string(), "lora");
    // Equal split: learning rate takes the geometric midpoint, rank the lower value, text votes
    // the smaller text.
    let runs = [
        run(1, "lora", 0.05, &[lr(1e-5), rank(8), sched("linear")]),
        run(2, "lora", 0.05, &[lr(1e-3), rank(16), sched("cosine")]),
    ];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    let HyperValue::Float(rate) = param(&rec, HyperKey::LearningRate).0 else {
        panic!()
    };
    assert!((f64::from(rate) - 1e-4).abs() < 1e-9, "{rate}");
    assert_eq!(param(&rec, HyperKey::LoraRank).0, HyperValue::Int(8));
    assert_eq!(
        param(&rec, HyperKey::Scheduler),
        (HyperValue::Text("cosine".into()), 0.5, 2)
    );
}

#[test]
fn weights_follow_evidence_quality() {
    let mut base = evidence(&run(1, "lora", 0.05, &[]));
    let w = base.weight();
    // 1 × 1 × 0.9 (confidence 1, credited up to its bound) × √100 × 1
    assert!((w - 9.0).abs() < 1e-9, "{w}");
    Arc::make_mut(&mut base.body).held_out = false;
    assert!((base.weight() - 4.5).abs() < 1e-9);
    Arc::make_mut(&mut base.body).held_out = true;
    Arc::make_mut(&mut base.body).eval_samples = 400;
    assert!((base.weight() - 18.0).abs() < 1e-9);
    // Samples beyond the bound buy nothing.
    Arc::make_mut(&mut base.body).eval_samples = 1_000_000;
    assert!((base.weight() - 0.9 * f64::from(EVAL_SAMPLES_BOUND).sqrt()).abs() < 1e-9);
    Arc::make_mut(&mut base.body).eval_samples = 400;
    base.similarity = 0.5;
    Arc::make_mut(&mut base.body).confidence = 0.5;
    base.trust = 2.0;
    // 2 × 0.5² (similarity counts squared) × 0.5 × √400
    assert!((base.weight() - 5.0).abs() < 1e-9);
    base.trust = f64::NAN;
    assert_eq!(base.weight(), 0.0);
    base.trust = -1.0;
    assert_eq!(base.weight(), 0.0);
    assert!(recommend(&[base]).is_none());
    assert!(recommend(&[]).is_none());
}

#[test]
fn expected_gain_and_range_are_weighted() {
    let mut a = evidence(&run(1, "lora", 0.01, &[]));
    let mut b = evidence(&run(2, "lora", 0.05, &[]));
    let c = evidence(&run(3, "lora", 0.10, &[]));
    a.similarity = 1.0;
    b.trust = 2.0; // twice the weight
    a.trust = 1.0;
    let rec = recommend(&[a, b, c]).unwrap();
    // The weighted median: 0.01 holds a quarter of the weight, 0.05 the next half.
    assert!(
        (rec.expected_gain - 0.05).abs() < 1e-6,
        "{}",
        rec.expected_gain
    );
    assert!((rec.gain_range.0 - 0.01).abs() < 1e-6);
    assert!((rec.gain_range.1 - 0.10).abs() < 1e-6);
    // Contributors heaviest first.
    assert_eq!(rec.contributors[0], RecordId([2; 32]));
}

#[test]
fn percent_and_lower_is_better_scores_compare_on_one_scale() {
    let mut percent = evidence(&run(1, "lora", 0.0, &[]));
    Arc::make_mut(&mut percent.body).score_scale = ScoreScale::Percent;
    Arc::make_mut(&mut percent.body).baseline = 50.0;
    Arc::make_mut(&mut percent.body).outcome = 55.0;
    assert!((percent.gain() - 0.05).abs() < 1e-9);
    let mut loss = evidence(&run(2, "qlora", 0.0, &[]));
    Arc::make_mut(&mut loss.body).score_scale = ScoreScale::Unbounded;
    Arc::make_mut(&mut loss.body).higher_is_better = false;
    Arc::make_mut(&mut loss.body).baseline = 2.0;
    Arc::make_mut(&mut loss.body).outcome = 1.8;
    assert!((loss.gain() - 0.1).abs() < 1e-6); // 10% lower loss
    let rec = recommend(&[percent, loss]).unwrap();
    assert_eq!(rec.method.to_string(), "qlora");
}

#[test]
fn synthesis_is_deterministic() {
    let runs = [
        run(9, "qlora", 0.03, &[lr(2e-4), rank(16), sched("cosine")]),
        run(4, "lora", 0.02, &[lr(1e-4), rank(8)]),
        run(7, "qlora", 0.06, &[lr(1e-4), rank(32), sched("linear")]),
        run(1, "qlora", 0.01, &[lr(5e-4), rank(16)]),
    ];
    let forward: Vec<Evidence> = runs.iter().map(evidence).collect();
    let mut backward = forward.clone();
    backward.reverse();
    backward.push(forward[0].clone()); // a duplicate counts once
    let a = recommend(&forward).unwrap();
    let b = recommend(&backward).unwrap();
    assert_eq!(a, b);
    assert_eq!(table(&a), table(&b));
    assert_eq!(
        serde_json::to_string(&to_json(&a)).unwrap(),
        serde_json::to_string(&to_json(&b)).unwrap()
    );
}

#[test]
fn renders_as_table_and_json() {
    let runs = [
        run(1, "qlora", 0.05, &[lr(2e-4), rank(16), sched("cosine")]),
        run(2, "qlora", 0.07, &[lr(2e-4), rank(16), sched("cosine")]),
        run(3, "lora", 0.02, &[lr(1e-4)]),
    ];
    let rec = recommend(&runs.iter().map(evidence).collect::<Vec<_>>()).unwrap();
    let text = table(&rec);
    println!("{text}");
    assert!(text.starts_with("method qlora: expected +6.0 points (80% of evidence: +5.0 to +7.0, agreement 67%, 3 packets from 3 publishers)"), "{text}");
    assert!(text.contains("standing: 100% of the weight"), "{text}");
    assert!(
        text.contains("learning_rate            2e-4     100%         2"),
        "{text}"
    );
    assert!(
        text.contains("contributors: 0101010101010101 0202020202020202"),
        "{text}"
    );
    let json = serde_json::to_value(to_json(&rec)).unwrap();
    assert_eq!(json["method"], "qlora");
    assert_eq!(json["hyperparameters"][0]["name"], "lora_rank");
    assert_eq!(json["hyperparameters"][0]["value"], 16);
    assert_eq!(json["hyperparameters"][1]["value"], 0.0002);
    assert_eq!(json["hyperparameters"][2]["value"], "cosine");
    assert_eq!(json["contributors"][0], "01".repeat(32));
    assert_eq!(json["methods"][1]["method"], "lora");
    assert_eq!(json["publishers"], 3);
    assert_eq!(json["only_losses"], false);
}

#[test]
fn one_publisher_or_only_losses_say_so() {
    // Two packets of one publisher: one voice, no spread claimed.
    let mut a = evidence(&run(1, "lora", 0.05, &[lr(2e-4)]));
    let mut b = evidence(&run(2, "lora", 0.07, &[lr(2e-4)]));
    a.publisher = PublicKey([9; 32]);
    b.publisher = PublicKey([9; 32]);
    let rec = recommend(&[a.clone(), b.clone()]).unwrap();
    assert!(rec.single_source());
    let text = table(&rec);
    assert!(
        text.contains("2 packet(s) from 1 publisher: no independent evidence, no spread"),
        "{text}"
    );
    // Together they weigh what one of them weighs alone.
    let alone = recommend(std::slice::from_ref(&a)).unwrap();
    assert_eq!(alone.methods[0].weight_share, 1.0);
    let c = evidence(&run(3, "qlora", 0.06, &[]));
    let with_other = recommend(&[a, b, c.clone()]).unwrap();
    let lora = with_other
        .methods
        .iter()
        .find(|m| m.method.to_string() == "lora")
        .unwrap();
    assert!(
        (lora.weight_share - 0.5).abs() < 1e-9,
        "{}",
        lora.weight_share
    );
    // Gains measured on different benchmarks say they were pooled, and how far apart.
    let mut other = evidence(&run(6, "lora", 0.03, &[]));
    let mut body = (*other.body).clone();
    body.benchmark = "arc_challenge".into();
    other.body = Arc::new(body);
    let rec = recommend(&[evidence(&run(7, "lora", 0.05, &[])), other]).unwrap();
    assert_eq!(rec.settings.len(), 2);
    let text = table(&rec);
    assert!(
        text.contains("measured 2 ways, gains pooled in unit-interval points: "),
        "{text}"
    );
    assert!(
        text.contains("arc_challenge rougel (0-shot) (1 packets, median +3.0)"),
        "{text}"
    );
    // Evidence that only ever hurt says so.
    let hurt = [
        evidence(&run(4, "lora", -0.02, &[])),
        evidence(&run(5, "qlora", -0.01, &[])),
    ];
    let rec = recommend(&hurt).unwrap();
    assert!(rec.only_losses());
    assert!(table(&rec).starts_with("every method's evidence shows a loss"));
}

#[test]
fn swahili_query_to_recommendation_end_to_end() {
    use ed25519_dalek::SigningKey;
    use qis_outcomes::NoFeedback;
    use qis_outcomes::rank as rank_found;
    let publish = |family: &str, tags: &[&str], method: &str, gain: f64, rate: f32, seed: u8| {
        let mut draft = parse_packet_file(&template()).unwrap();
        draft.family = Some(family.into());
        draft.tags = tags.iter().map(|t| t.to_string()).collect();
        draft.method = Method::parse(method);
        draft.baseline = Some(0.2);
        draft.outcome = Some(0.2 + gain);
        draft.delta = None;
        draft.set_hyperparam(HyperKey::LearningRate, HyperValue::Float(rate));
        OutcomePacket::sign(
            draft.build().unwrap(),
            &SigningKey::from_bytes(&[seed; 32]),
            1,
        )
        .unwrap()
    };
    let found = vec![
        publish("llama-3-8b", &["english", "news"], "qlora", 0.04, 2e-4, 1),
        publish("mistral-7b", &["news", "swahili"], "qlora", 0.05, 1e-4, 2),
        publish("qwen2.5-7b", &["french"], "full", 0.03, 1e-5, 3),
    ];
    let query = Query::new(
        Some("meta-llama/Meta-Llama-3-8B"),
        "summarization",
        &["swahili", "news"],
    );
    let ranked = rank_found(&query, found);
    let evidence: Vec<Evidence> = ranked
        .iter()
        .map(|r| Evidence::from_ranked(r, &NoFeedback))
        .collect();
    let rec = recommend(&evidence).unwrap();
    assert_eq!(rec.method.to_string(), "qlora");
    assert_eq!(rec.evidence_count, 3);
    // Both QLoRA runs contribute. Parameter weights are similarity × gain (other factors equal):
    // llama 0.667 × 0.04 = 0.0267 for 2e-4 against mistral 0.5 × 0.05 = 0.025 for 1e-4, so the
    // weighted median is 2e-4, and the same-family run is the heavier contributor.
    assert_eq!(rec.contributors.len(), 2);
    assert_eq!(
        param(&rec, HyperKey::LearningRate).0,
        HyperValue::Float(2e-4)
    );
    assert_eq!(rec.contributors[0], ranked[0].id());
}

#[test]
fn the_recommendation_says_what_each_level_and_each_packet_weighed() {
    let runs = [
        run(1, "lora", 0.05, &[lr(2e-4)]),
        run(2, "lora", 0.04, &[lr(1e-4)]),
        run(3, "lora", 0.06, &[lr(3e-4)]),
    ];
    let mut evidence: Vec<Evidence> = runs.iter().map(evidence).collect();
    evidence[0].level = Some(KeyLevel::Exact);
    evidence[1].level = Some(KeyLevel::Exact);
    evidence[2].level = Some(KeyLevel::Task);
    evidence[2].similarity = 0.1;
    // Packets 1 and 2 from one publisher: they share its weight.
    evidence[1].publisher = evidence[0].publisher;
    let rec = recommend(&evidence).unwrap();
    let levels: Vec<(KeyLevel, usize)> = rec.levels.iter().map(|l| (l.level, l.packets)).collect();
    assert_eq!(levels, [(KeyLevel::Exact, 2), (KeyLevel::Task, 1)]);
    let share: f64 = rec.levels.iter().map(|l| l.weight_share).sum();
    assert!((share - 1.0).abs() < 1e-9);
    // The task-level packet weighs 0.1² of an exact one.
    assert!(rec.levels[1].weight_share < 0.02, "{:?}", rec.levels);
    assert_eq!(rec.weighed.len(), 3);
    let first = &rec.weighed[0];
    assert_eq!(first.publisher_packets, 2);
    assert_eq!(first.level, Some(KeyLevel::Exact));
    assert_eq!(first.samples, 100);
    assert!((first.confidence - CONFIDENCE_BOUND).abs() < 1e-6);
    let json = serde_json::to_value(to_json(&rec)).unwrap();
    assert_eq!(json["levels"][0]["level"], "exact");
    assert_eq!(json["weighed"][2]["level"], "task");
    assert!(table(&rec).contains("weight by key level: exact"));
}

/// A client whose own outcomes found the task-level packets mispredicting weighs them less:
/// the learned level weight is a factor of each packet's weight and is reported per level.
#[test]
fn a_level_the_clients_outcomes_found_wanting_weighs_less() {
    use qis_outcomes::{Claim, Ledger, LevelWeights, OwnOutcome};
    let runs = [
        run(1, "lora", 0.05, &[lr(2e-4)]),
        run(2, "lora", 0.04, &[lr(1e-4)]),
    ];
    let mut evidence: Vec<Evidence> = runs.iter().map(evidence).collect();
    evidence[0].level = Some(KeyLevel::Exact);
    evidence[1].level = Some(KeyLevel::Task);
    let before = recommend(&evidence).unwrap().levels[1].weight_share;
    // Five outcomes in which a task-level claim of +0.20 realised nothing.
    let mispredicted = OwnOutcome {
        checked: vec![Claim {
            id: evidence[1].id,
            publisher: evidence[1].publisher,
            gain: 0.2,
            eval_samples: 1000,
            weight: 1.0,
            level: Some(KeyLevel::Task),
        }],
        realised: 0.0,
        eval_samples: 1000,
        created: 0,
    };
    let ledger = Ledger {
        outcomes: vec![mispredicted; 5],
        trusted: Vec::new(),
    };
    LevelWeights::learn(&ledger, 0).apply(&mut evidence);
    assert_eq!(evidence[0].level_weight, 1.0);
    assert!((evidence[1].level_weight - 0.5).abs() < 1e-12);
    let rec = recommend(&evidence).unwrap();
    assert!(rec.levels[1].weight_share < before, "{:?}", rec.levels);
    assert_eq!(rec.levels[1].learned_weight, evidence[1].level_weight);
    assert!(table(&rec).contains("learned ×0.50"), "{}", table(&rec));
    let json = serde_json::to_value(to_json(&rec)).unwrap();
    assert_eq!(json["levels"][1]["learned_weight"], 0.5);
}
