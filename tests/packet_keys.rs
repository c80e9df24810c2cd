//! Semantic keys at each level, and ranking of merged query results: a Swahili summarisation
//! fine-tuner with no exact peer still gets evidence from related contexts, ranked below exact
//! matches.

use ed25519_dalek::SigningKey;
use qis_core::Id;
use qis_outcomes::*;
use qis_outcomes::{KEY_PREFIX, Ranked, jaccard, rank};
use qis_outcomes::{
    LEGACY_KEY_PREFIX, LEGACY_KEY_SCHEME_VERSION, TASK_VOCABULARY, legacy_packet_keys,
};
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
                "qis/key/v2/exact/llama-3-8b/summarization/news,swahili"
            ),
            (
                "family-task",
                "qis/key/v2/family-task/llama-3-8b/summarization"
            ),
            ("task-tag", "qis/key/v2/task-tag/summarization/news"),
            ("task-tag", "qis/key/v2/task-tag/summarization/swahili"),
            ("task", "qis/key/v2/task/summarization"),
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
    // The current scheme's keys are the packet's; the previous scheme's follow.
    let keys = query.keys();
    assert_eq!(keys[..p.keys().len()], p.keys());
    assert!(
        keys[p.keys().len()..]
            .iter()
            .all(|k| k.text.starts_with(LEGACY_KEY_PREFIX))
    );
    // Without a family only the task-level keys are asked for.
    let anonymous = Query::new(None, "summarization", &["swahili"]);
    let levels: Vec<KeyLevel> = anonymous.keys().iter().map(|k| k.level).collect();
    assert_eq!(
        levels,
        vec![
            KeyLevel::TaskTag,
            KeyLevel::Task,
            KeyLevel::TaskTag,
            KeyLevel::Task
        ]
    );
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
    assert_ne!(
        other.id(),
        first.id(),
        "another publisher's is another packet"
    );
    let query = Query::new(Some("llama-3-8b"), "summarization", &["news"]);
    let ranked = rank(&query, [first.clone(), later.clone(), first, other]);
    assert_eq!(ranked.len(), 2);
    let kept = ranked.iter().find(|r| r.id() == later.id()).unwrap();
    assert_eq!(kept.packet.created(), later.created());
}

/// A packet as a qis of key scheme 1 published it: the task as typed, stored under the
/// scheme-1 keys only.
fn publish_legacy(packets: &[OutcomePacket]) -> BTreeMap<Id, Vec<OutcomePacket>> {
    let mut store: BTreeMap<Id, Vec<OutcomePacket>> = BTreeMap::new();
    for p in packets {
        for key in legacy_packet_keys(&p.body) {
            assert!(key.text.starts_with("qis/key/v1/"), "{}", key.text);
            store.entry(key.id).or_default().push(p.clone());
        }
    }
    store
}

/// A signed packet whose task is exactly `task` (as a scheme-1 draft left it, no vocabulary).
fn packet_with_raw_task(task: &str, seed: u8) -> OutcomePacket {
    let mut body = packet("llama-3-8b", "summarization", &["news"], seed).body;
    body.task = task.into();
    OutcomePacket::sign(body, &SigningKey::from_bytes(&[seed; 32]), 1_760_000_000).unwrap()
}

#[test]
fn british_and_american_spellings_and_abbreviations_give_the_same_keys() {
    let british = packet("llama-3-8b", "Summarisation", &["news"], 1);
    let american = packet("llama-3-8b", "summarization", &["news"], 1);
    assert_eq!(
        british.body.task, "summarization",
        "drafts are canonicalised"
    );
    assert_eq!(british.keys(), american.keys());
    let typed = |task| Query::new(Some("llama-3-8b"), task, &["news"]);
    let current = |q: &Query| -> Vec<SemanticKey> {
        q.keys()
            .into_iter()
            .filter(|k| k.text.starts_with(KEY_PREFIX))
            .collect()
    };
    assert_eq!(
        current(&typed("summarisation")),
        current(&typed("summarization"))
    );
    assert_eq!(current(&typed("summarisation")), american.keys());
    assert_eq!(typed("QA").task, "question-answering");
    assert_eq!(typed("question answering").task, "question-answering");
    assert_eq!(KEY_SCHEME_VERSION, LEGACY_KEY_SCHEME_VERSION + 1);
}

#[test]
fn a_packet_published_under_the_previous_scheme_is_still_found() {
    // Published by a scheme-1 qis as typed ("summarisation"), and as the canonical name.
    let british = packet_with_raw_task("summarisation", 1);
    let american = packet_with_raw_task("summarization", 2);
    let store = publish_legacy(&[british.clone(), american.clone()]);
    for typed in ["summarisation", "summarization"] {
        let query = Query::new(Some("llama-3-8b"), typed, &["news"]);
        let found: Vec<_> = lookup(&store, &query).iter().map(Ranked::id).collect();
        assert!(found.contains(&american.id()), "{typed}");
        if typed == "summarisation" {
            // The task as typed finds what a scheme-1 publisher typed the same way.
            assert!(found.contains(&british.id()));
        }
    }
    // Both are the same task to the ranking, exact matches.
    let query = Query::new(Some("llama-3-8b"), "summarisation", &["news"]);
    let ranked = lookup(&store, &query);
    assert!(ranked.iter().all(|r| r.similarity.level == KeyLevel::Exact));
    // And a node accepts them under their scheme-1 keys.
    let policy = OutcomePolicy::strict();
    for key in legacy_packet_keys(&british.body) {
        qis_core::RecordPolicy::check(&policy, &key.id, &british.record).unwrap();
    }
}

#[test]
fn a_rare_specialised_task_falls_back_to_its_parent_task_and_language_tag() {
    // Plenty of summarisation evidence in Swahili and elsewhere, none for legal summarisation.
    let swahili = packet("gemma-2-9b", "summarization", &["swahili"], 1);
    let english = packet("qwen2.5-7b", "summarization", &["english"], 2);
    let translation = packet("gemma-2-9b", "translation", &["swahili"], 3);
    let store = publish_all(&[swahili.clone(), english.clone(), translation.clone()]);
    let query = Query::new(Some("llama-3-8b"), "Legal Summarisation", &["swahili"]);
    assert_eq!(query.task, "legal-summarization");
    let texts: Vec<String> = query.keys().into_iter().map(|k| k.text).collect();
    assert!(texts.contains(&"qis/key/v2/task-tag/summarization/swahili".to_string()));
    assert!(texts.contains(&"qis/key/v2/task-tag/summarization/legal".to_string()));
    assert!(texts.contains(&"qis/key/v2/task/summarization".to_string()));
    let ranked = lookup(&store, &query);
    let ids: Vec<_> = ranked.iter().map(Ranked::id).collect();
    assert_eq!(
        ids,
        vec![swahili.id(), english.id()],
        "the language tag ranks first"
    );
    assert!(
        ranked
            .iter()
            .all(|r| r.similarity.level == KeyLevel::ParentTask)
    );
    assert!(
        ranked.iter().all(|r| r.similarity.score < 0.1),
        "below any same-task match"
    );

    // A legal-summarisation packet is in turn found by a summarisation query tagged legal,
    // and by a sibling specialisation, below the same-task evidence.
    let legal = packet("llama-3-8b", "legal-summarization", &["swahili"], 4);
    assert!(legal.keys().len() <= 9 + 7);
    let store = publish_all(&[swahili.clone(), legal.clone()]);
    let parent = Query::new(Some("llama-3-8b"), "summarization", &["legal", "swahili"]);
    let ranked = lookup(&store, &parent);
    assert_eq!(
        ranked.iter().map(Ranked::id).collect::<Vec<_>>(),
        vec![swahili.id(), legal.id()]
    );
    assert_eq!(ranked[1].similarity.level, KeyLevel::ParentTask);
    let sibling = Query::new(None, "medical-summarization", &["swahili"]);
    let found: Vec<_> = lookup(&store, &sibling).iter().map(Ranked::id).collect();
    assert!(found.contains(&legal.id()) && found.contains(&swahili.id()));
    // Unrelated tasks stay out.
    let qa = Query::new(None, "medical-qa", &["swahili"]);
    assert!(lookup(&store, &qa).is_empty());
}

#[test]
fn the_readme_lists_every_task_of_the_vocabulary() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for entry in TASK_VOCABULARY {
        for name in std::iter::once(&entry.name).chain(entry.synonyms) {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README lacks `{name}`"
            );
        }
    }
}
