//! Semantic keys at each level, and ranking of merged query results: a Swahili summarisation
//! fine-tuner with no exact peer still gets evidence from related contexts, ranked below exact
//! matches.

use ed25519_dalek::SigningKey;
use qis_core::Id;
use qis_outcomes::*;
use qis_outcomes::{KEY_PREFIX, Ranked, jaccard, rank};
use qis_outcomes::{packet_example as template, parse_packet_file};
use std::collections::BTreeMap;

fn packet(family: &str, task: &str, tags: &[&str], seed: u8) -> OutcomePacket {
    let mut draft = parse_packet_file(&template()).unwrap();
    draft.family = Some(family.into());
    draft.task = Some(task.into());
    draft.tags = tags.iter().map(|t| t.to_string()).collect();
    let body = draft.build().unwrap();
    OutcomePacket::sign(body, &SigningKey::from_bytes(&[seed; 32]), 1_760_000_000).unwrap()
}

#[test]
fn a_packet_has_one_key_per_level_and_one_per_tag() {
    let p = packet(
        "meta-llama/Meta-Llama-3-8B",
        "Summarization",
        &["Swahili", "news"],
        1,
    );
    let keys = p.keys();
    let texts: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.level.label(), k.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                "exact",
                "qis/key/v1/exact/llama-3-8b/summarization/news,swahili"
            ),
            (
                "family-task",
                "qis/key/v1/family-task/llama-3-8b/summarization"
            ),
            ("task-tag", "qis/key/v1/task-tag/summarization/news"),
            ("task-tag", "qis/key/v1/task-tag/summarization/swahili"),
            ("task", "qis/key/v1/task/summarization"),
        ]
    );
    for key in &keys {
        assert!(key.text.starts_with(KEY_PREFIX));
        assert_eq!(key.id, Id::hash(key.text.as_bytes()));
    }
    // No two levels can produce the same key, even for degenerate names.
    let no_tags = packet("task", "task", &[], 2);
    let ids: std::collections::BTreeSet<Id> = no_tags.keys().iter().map(|k| k.id).collect();
    assert_eq!(ids.len(), no_tags.keys().len());
}

#[test]
fn a_query_for_the_same_context_yields_the_packet_keys() {
    let p = packet("Llama-3-8B", "summarization", &["news", "swahili"], 1);
    let query = Query::new(
        Some("meta-llama/Meta-Llama-3-8B-Instruct"),
        " Summarization",
        &["SWAHILI", "news", "news"],
    );
    assert_eq!(query.keys(), p.keys());
    // Without a family only the task-level keys are asked for.
    let anonymous = Query::new(None, "summarization", &["swahili"]);
    let levels: Vec<KeyLevel> = anonymous.keys().iter().map(|k| k.level).collect();
    assert_eq!(levels, vec![KeyLevel::TaskTag, KeyLevel::Task]);
}

#[test]
fn jaccard_of_tag_sets() {
    let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(jaccard(&s(&[]), &s(&[])), 1.0);
    assert_eq!(jaccard(&s(&["a"]), &s(&[])), 0.0);
    assert_eq!(jaccard(&s(&["a", "b"]), &s(&["b", "c"])), 1.0 / 3.0);
    assert_eq!(jaccard(&s(&["a", "b"]), &s(&["a", "b"])), 1.0);
}

/// A stand-in for the DHT: key → packets stored under it.
fn publish_all(packets: &[OutcomePacket]) -> BTreeMap<Id, Vec<OutcomePacket>> {
    let mut store: BTreeMap<Id, Vec<OutcomePacket>> = BTreeMap::new();
    for p in packets {
        for key in p.keys() {
            store.entry(key.id).or_default().push(p.clone());
        }
    }
    store
}

fn lookup(store: &BTreeMap<Id, Vec<OutcomePacket>>, query: &Query) -> Vec<Ranked> {
    let found = query
        .keys()
        .into_iter()
        .flat_map(|k| store.get(&k.id).cloned().unwrap_or_default());
    rank(query, found)
}

#[test]
fn swahili_summarisation_without_exact_peers_still_finds_related_evidence() {
    let english_news_mistral = packet(
        "mistralai/Mistral-7B-v0.1",
        "summarization",
        &["english", "news"],
        1,
    );
    let french_qwen = packet("Qwen/Qwen2.5-7B-Instruct", "summarization", &["french"], 2);
    let english_llama = packet(
        "meta-llama/Meta-Llama-3-8B",
        "summarization",
        &["english"],
        3,
    );
    let swahili_translation = packet("meta-llama/Meta-Llama-3-8B", "translation", &["swahili"], 4);
    let legal_llama_70b = packet(
        "meta-llama/Meta-Llama-3-70B",
        "summarization",
        &["legal"],
        5,
    );
    let swahili_news_gemma = packet(
        "google/gemma-2-9b-it",
        "summarization",
        &["news", "swahili"],
        6,
    );
    let store = publish_all(&[
        english_news_mistral.clone(),
        french_qwen.clone(),
        english_llama.clone(),
        swahili_translation.clone(),
        legal_llama_70b.clone(),
        swahili_news_gemma.clone(),
    ]);
    let query = Query::new(
        Some("meta-llama/Meta-Llama-3-8B"),
        "summarization",
        &["swahili", "news"],
    );
    let ranked = lookup(&store, &query);
    let order: Vec<_> = ranked
        .iter()
        .map(|r| (r.packet.body.family.as_str(), r.similarity.level))
        .collect();
    assert_eq!(
        order,
        vec![
            ("llama-3-8b", KeyLevel::FamilyTask), // same model and task, other language
            ("gemma-2-9b", KeyLevel::TaskTag),    // same task and both tags, other model
            ("mistral-7b", KeyLevel::TaskTag),    // same task, shares "news"
            ("llama-3-70b", KeyLevel::Task),      // same task, related model line
            ("qwen2.5-7b", KeyLevel::Task),       // same task only
        ]
    );
    // Each packet appears once although it was found under several keys; other tasks never.
    assert!(ranked.iter().all(|r| r.id() != swahili_translation.id()));
    let scores: Vec<f64> = ranked.iter().map(|r| r.similarity.score).collect();
    assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");

    // An exact peer, once published, ranks above everything else.
    let exact = packet("Llama-3-8B", "summarization", &["news", "swahili"], 7);
    let mut all: Vec<OutcomePacket> = store.values().flatten().cloned().collect();
    all.push(exact.clone());
    let store = publish_all(&all);
    let ranked = lookup(&store, &query);
    assert_eq!(ranked[0].id(), exact.id());
    assert_eq!(ranked[0].similarity.level, KeyLevel::Exact);
    assert_eq!(ranked[0].similarity.score, 1.0);
    assert_eq!(ranked.len(), 6);
}

#[test]
fn ranking_is_deterministic_and_ties_break_by_id() {
    let a = packet("mistral-7b", "summarization", &["french"], 1);
    let b = packet("qwen2.5-7b", "summarization", &["german"], 2);
    let query = Query::new(Some("llama-3-8b"), "summarization", &["swahili"]);
    let forward = rank(&query, vec![a.clone(), b.clone()]);
    let backward = rank(&query, vec![b.clone(), a.clone(), b.clone()]);
    assert_eq!(forward, backward);
    assert_eq!(forward.len(), 2);
    assert!(forward[0].id() < forward[1].id());
}

#[test]
fn the_same_body_signed_again_is_one_packet_ranked_once_as_its_newest_signing() {
    let first = packet("llama-3-8b", "summarization", &["news"], 7);
    let later = OutcomePacket::sign(
        first.body.clone(),
        &SigningKey::from_bytes(&[7; 32]),
        first.created() + 3600,
    )
    .unwrap();
    assert_ne!(first.record.id(), later.record.id(), "two records");
    assert_eq!(first.id(), later.id(), "one packet");
    let other = packet("llama-3-8b", "summarization", &["news"], 8);
    assert_ne!(other.id(), first.id(), "another publisher's is another packet");
    let query = Query::new(Some("llama-3-8b"), "summarization", &["news"]);
    let ranked = rank(&query, [first.clone(), later.clone(), first, other]);
    assert_eq!(ranked.len(), 2);
    let kept = ranked.iter().find(|r| r.id() == later.id()).unwrap();
    assert_eq!(kept.packet.created(), later.created());
}
