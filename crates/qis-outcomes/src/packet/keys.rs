//! Semantic keys: where a packet is stored, and how a query finds packets from *similar*
//! contexts, not only identical ones.
//!
//! The seed hashed `family|task|sorted tags` into one key, so a query found only packets from
//! the identical context: a Swahili summarisation run with no exact peer found nothing, although
//! summarisation runs in other languages and on other models hold useful evidence. qis stores
//! each packet under a small set of keys at several granularities, and a query asks for the same
//! set.
//!
//! # Levels
//!
//! | level | canonical string hashed to the key | stored under |
//! |---|---|---|
//! | exact context | `qis/key/v1/exact/{family}/{task}/{tag,tag,…}` | 1 key |
//! | family + task | `qis/key/v1/family-task/{family}/{task}` | 1 key |
//! | task + tag | `qis/key/v1/task-tag/{task}/{tag}` | 1 key per tag (≤ [`MAX_TAGS`]) |
//! | task alone | `qis/key/v1/task/{task}` | 1 key |
//!
//! Each key is [`Id::hash`] of its string. The strings are domain-separated ([`KEY_PREFIX`] plus
//! the level) so a key of one level can never equal a key of another, and versioned
//! ([`KEY_SCHEME_VERSION`]) so the scheme can change without old and new keys colliding. All
//! parts are canonical tokens (lower case, no `/` or `,`), so the strings are unambiguous. A
//! packet with *n* tags is stored under `3 + n` keys, at most 9.
//!
//! A [`Query`] (family, task, tags) yields the same key set; a client fetches all of them, merges
//! the answers, drops duplicates by packet id, and [`rank`]s the packets by similarity to the
//! query, computed from each packet's own body (not from the key it came from, which a hostile
//! holder could misreport).
//!
//! # Similarity
//!
//! With *J* the Jaccard index of the two tag sets (1 when both are empty) and *L* = 1 when the
//! families share a lineage (`llama-3-8b` and `llama-3-70b`, see
//! [`family_lineage`]), else 0:
//!
//! | level (best that applies) | condition | score |
//! |---|---|---|
//! | exact | same family, task and tags | 1.0 |
//! | family + task | same family and task | 0.6 + 0.2·J (0.6–0.8) |
//! | task + tag | same task, ≥ 1 shared tag | 0.3 + 0.2·J + 0.05·L (0.3–0.55) |
//! | task | same task | 0.1 + 0.05·L (0.1–0.15) |
//! | — | different task | 0: not evidence, dropped |
//!
//! The ranges do not overlap, so every exact match ranks above every family + task match, and so
//! on; within a level, more shared tags and a related model family rank higher. Ties are broken
//! by packet id, so a ranking is deterministic. The score also weights the packet in
//! [synthesis](crate::synth).

use super::body::OutcomeBody;
use super::canon::{canonical_tags, canonical_token};
use super::family::{family_lineage, fold_family};
use super::limits::MAX_TAGS;
use super::signed::OutcomePacket;
use qis_core::Id;
use qis_core::RecordId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

/// The key scheme version as a literal, so that [`KEY_SCHEME_VERSION`] and the `v1` inside
/// [`KEY_PREFIX`] come from one place (`concat!` takes literals only).
macro_rules! key_scheme_version {
    () => {
        1
    };
}

/// Version of the semantic key scheme: which strings a packet is stored under. Changing the
/// levels, their order or the canonical forms bumps it; the new keys then never collide with
/// the old ones, and old and new packets simply live under different keys.
pub const KEY_SCHEME_VERSION: u8 = key_scheme_version!();

/// Prefix of every semantic key string: `qis/key/v{KEY_SCHEME_VERSION}/`.
pub const KEY_PREFIX: &str = concat!("qis/key/v", key_scheme_version!(), "/");

/// The granularity of a semantic key, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum KeyLevel {
    /// Same family, task and tags.
    Exact,
    /// Same family and task.
    FamilyTask,
    /// Same task and one tag.
    TaskTag,
    /// Same task.
    Task,
}

impl KeyLevel {
    /// The level's name inside key strings.
    pub fn label(self) -> &'static str {
        match self {
            KeyLevel::Exact => "exact",
            KeyLevel::FamilyTask => "family-task",
            KeyLevel::TaskTag => "task-tag",
            KeyLevel::Task => "task",
        }
    }
}

impl fmt::Display for KeyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One key a packet is stored (or looked up) under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemanticKey {
    /// Its granularity.
    pub level: KeyLevel,
    /// The canonical string hashed to `id`.
    pub text: String,
    /// The DHT key.
    pub id: Id,
}

impl SemanticKey {
    fn new(level: KeyLevel, parts: &[&str]) -> SemanticKey {
        let text = format!("{KEY_PREFIX}{}/{}", level.label(), parts.join("/"));
        SemanticKey {
            level,
            id: Id::hash(text.as_bytes()),
            text,
        }
    }
}

/// The key set for a (canonical) context, most specific first.
pub(crate) fn context_keys(family: Option<&str>, task: &str, tags: &[String]) -> Vec<SemanticKey> {
    let mut keys = Vec::with_capacity(3 + tags.len());
    if let Some(family) = family {
        keys.push(SemanticKey::new(
            KeyLevel::Exact,
            &[family, task, &tags.join(",")],
        ));
        keys.push(SemanticKey::new(KeyLevel::FamilyTask, &[family, task]));
    }
    for tag in tags.iter().take(MAX_TAGS) {
        keys.push(SemanticKey::new(KeyLevel::TaskTag, &[task, tag]));
    }
    keys.push(SemanticKey::new(KeyLevel::Task, &[task]));
    keys
}

/// The keys a (validated) packet body is stored under.
pub fn packet_keys(body: &OutcomeBody) -> Vec<SemanticKey> {
    context_keys(Some(&body.family), &body.task, &body.tags)
}

/// What a fine-tuner is about to do: the context to find evidence for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Query {
    /// Base model family, if decided (folded like a packet's).
    pub family: Option<String>,
    /// Task type.
    pub task: String,
    /// Domain tags (canonical; only the first [`MAX_TAGS`] after sorting get keys).
    pub tags: Vec<String>,
}

impl Query {
    /// A query in canonical form: the family folded, task and tags canonical.
    pub fn new<S: AsRef<str>>(family: Option<&str>, task: &str, tags: &[S]) -> Query {
        let family = family.map(fold_family).filter(|f| !f.is_empty());
        let mut tags = canonical_tags(tags);
        tags.truncate(MAX_TAGS);
        Query {
            family,
            task: canonical_token(task),
            tags,
        }
    }

    /// The keys to look up, most specific first (no exact or family-task key without a family).
    pub fn keys(&self) -> Vec<SemanticKey> {
        context_keys(self.family.as_deref(), &self.task, &self.tags)
    }

    /// How similar a packet's context is to this query (see the module documentation).
    pub fn similarity(&self, body: &OutcomeBody) -> Option<Similarity> {
        if body.task != self.task {
            return None;
        }
        let jaccard = jaccard(&self.tags, &body.tags);
        let same_family = self.family.as_deref() == Some(body.family.as_str());
        let lineage = match &self.family {
            Some(family) if family_lineage(family) == family_lineage(&body.family) => 1.0,
            _ => 0.0,
        };
        let (level, score) = if same_family && jaccard == 1.0 {
            (KeyLevel::Exact, 1.0)
        } else if same_family {
            (KeyLevel::FamilyTask, 0.6 + 0.2 * jaccard)
        } else if jaccard > 0.0 {
            (KeyLevel::TaskTag, 0.3 + 0.2 * jaccard + 0.05 * lineage)
        } else {
            (KeyLevel::Task, 0.1 + 0.05 * lineage)
        };
        Some(Similarity { level, score })
    }
}

/// Where a packet's context stands relative to a query.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Similarity {
    /// The most specific level the packet matches at.
    pub level: KeyLevel,
    /// The score in `(0, 1]`.
    pub score: f64,
}

/// |a ∩ b| / |a ∪ b| for two sorted, deduplicated lists; 1 when both are empty.
pub fn jaccard(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let shared = a.iter().filter(|tag| b.binary_search(tag).is_ok()).count();
    let union = a.len() + b.len() - shared;
    shared as f64 / union as f64
}

/// A packet found for a query, with its similarity.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// The packet.
    pub packet: OutcomePacket,
    /// Its similarity to the query.
    pub similarity: Similarity,
}

impl Ranked {
    /// The packet id.
    pub fn id(&self) -> RecordId {
        self.packet.id()
    }
}

/// Merges the packets found under a query's keys: duplicates (by packet id, so the same body
/// signed at several times counts once, as its newest signing) dropped, packets for another task
/// dropped, the rest ranked by similarity, highest first, ties by packet id.
pub fn rank(query: &Query, found: impl IntoIterator<Item = OutcomePacket>) -> Vec<Ranked> {
    let mut unique: BTreeMap<RecordId, OutcomePacket> = BTreeMap::new();
    for packet in found {
        match unique.entry(packet.id()) {
            Entry::Vacant(slot) => {
                slot.insert(packet);
            }
            Entry::Occupied(mut slot) if packet.created() > slot.get().created() => {
                slot.insert(packet);
            }
            Entry::Occupied(_) => {}
        }
    }
    // Ids are hashes of the whole record: computed once here, not in every comparison.
    let mut ranked: Vec<(RecordId, Ranked)> = unique
        .into_iter()
        .filter_map(|(id, packet)| {
            query
                .similarity(&packet.body)
                .map(|similarity| (id, Ranked { packet, similarity }))
        })
        .collect();
    ranked.sort_by(|(a_id, a), (b_id, b)| {
        b.similarity
            .score
            .total_cmp(&a.similarity.score)
            .then_with(|| a_id.cmp(b_id))
    });
    ranked.into_iter().map(|(_, ranked)| ranked).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_prefix_carries_the_scheme_version() {
        assert_eq!(KEY_PREFIX, format!("qis/key/v{KEY_SCHEME_VERSION}/"));
        let query = Query::new(Some("llama-3-8b"), "summarization", &["news"]);
        assert!(query.keys().iter().all(|k| k.text.starts_with(KEY_PREFIX)));
    }
}
