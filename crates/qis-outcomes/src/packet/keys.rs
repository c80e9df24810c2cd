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
//! | exact context | `qis/key/v2/exact/{family}/{task}/{tag,tag,…}` | 1 key |
//! | family + task | `qis/key/v2/family-task/{family}/{task}` | 1 key |
//! | task + tag | `qis/key/v2/task-tag/{task}/{tag}` | 1 key per tag (≤ [`MAX_TAGS`]) |
//! | task alone | `qis/key/v2/task/{task}` | 1 key |
//! | parent task + tag | `qis/key/v2/task-tag/{parent}/{tag}` | a specialised task only: 1 key per implied or own tag (≤ [`MAX_TAGS`]) |
//! | parent task | `qis/key/v2/task/{parent}` | a specialised task only: 1 key |
//!
//! Each key is [`Id::hash`] of its string. The strings are domain-separated ([`KEY_PREFIX`] plus
//! the level) so a key of one level can never equal a key of another, and versioned
//! ([`KEY_SCHEME_VERSION`]) so the scheme can change without old and new keys colliding. All
//! parts are canonical tokens (lower case, no `/` or `,`), so the strings are unambiguous. A
//! packet with *n* tags is stored under `3 + n` keys, at most 9; one of a specialised task
//! (see below) under up to 7 more.
//!
//! # Task vocabulary and parents (key scheme 2)
//!
//! The task in every key is the [vocabulary's](super::vocab) canonical name, applied before the
//! key is derived: `summarisation`, `summary` and `summarization` give the same keys. A
//! specialised task is also stored under its parent's keys, with the tags its name stands for:
//! a `legal-summarization` packet tagged `swahili` is found under
//! `task-tag/summarization/legal`, `task-tag/summarization/swahili` and `task/summarization`,
//! and a query for a specialised task asks those keys too. So a rare context falls back to its
//! parent task and its language tag instead of finding nothing, and evidence from it reaches
//! the parent task's fine-tuners (ranked below every packet of their own task).
//!
//! # The previous scheme
//!
//! Scheme 1 hashed the task token as typed, with no parent keys, under `qis/key/v1/`. Packets
//! published under it live until their last republish expires, so a query asks the scheme-1
//! keys of its context too ([`LEGACY_KEY_PREFIX`]; the task as typed and its canonical name)
//! and a node accepts a packet under either scheme's keys; publishing uses scheme 2 only. The
//! scheme-1 keys can be dropped from queries once no qis of scheme 1 republishes: a record
//! expires [`RECORD_TTL`](qis_core::constants::RECORD_TTL) after its last store.
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
//! | parent task | a task with the same parent (or the parent itself) | 0.02 + 0.05·J′ + 0.02·L (0.02–0.09) |
//! | — | unrelated task | 0: not evidence, dropped |
//!
//! Tasks are compared by canonical name (a scheme-1 packet may spell its task otherwise). For
//! the parent level, *J′* is the Jaccard index of the tag sets with each side's implied tags
//! added (a `legal-summarization` packet counts as `summarization` tagged `legal`).
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
use super::vocab::{canonical_task, parent_of, root_of};
use qis_core::Id;
use qis_core::RecordId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

/// The key scheme version as a literal, so that [`KEY_SCHEME_VERSION`] and the `v2` inside
/// [`KEY_PREFIX`] come from one place (`concat!` takes literals only).
macro_rules! key_scheme_version {
    () => {
        2
    };
}

/// The previous key scheme's version, as a literal (see [`key_scheme_version`]).
macro_rules! legacy_key_scheme_version {
    () => {
        1
    };
}

/// Version of the semantic key scheme: which strings a packet is stored under. Changing the
/// levels, their order or the canonical forms bumps it; the new keys then never collide with
/// the old ones. Version 2 canonicalises task names through the vocabulary and adds the parent
/// task's keys (see the module documentation).
pub const KEY_SCHEME_VERSION: u8 = key_scheme_version!();

/// Prefix of every semantic key string: `qis/key/v{KEY_SCHEME_VERSION}/`.
pub const KEY_PREFIX: &str = concat!("qis/key/v", key_scheme_version!(), "/");

/// The previous scheme, still asked by queries and accepted by nodes while packets published
/// under it live.
pub const LEGACY_KEY_SCHEME_VERSION: u8 = legacy_key_scheme_version!();

/// Prefix of the previous scheme's key strings: `qis/key/v{LEGACY_KEY_SCHEME_VERSION}/`.
pub const LEGACY_KEY_PREFIX: &str = concat!("qis/key/v", legacy_key_scheme_version!(), "/");

const _: () = assert!(LEGACY_KEY_SCHEME_VERSION + 1 == KEY_SCHEME_VERSION);

/// The granularity of a semantic key, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// Spelled as in key strings ([`KeyLevel::label`]), in the ledger and saved recommendations.
#[serde(rename_all = "kebab-case")]
pub enum KeyLevel {
    /// Same family, task and tags.
    Exact,
    /// Same family and task.
    FamilyTask,
    /// Same task and one tag.
    TaskTag,
    /// Same task.
    Task,
    /// A related task: the same parent, or one is the other's parent. Only a similarity level:
    /// the keys it is found under are the parent's task + tag and task keys.
    ParentTask,
}

impl KeyLevel {
    /// The level's name inside key strings.
    pub fn label(self) -> &'static str {
        match self {
            KeyLevel::Exact => "exact",
            KeyLevel::FamilyTask => "family-task",
            KeyLevel::TaskTag => "task-tag",
            KeyLevel::Task => "task",
            KeyLevel::ParentTask => "parent-task",
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
    fn new(prefix: &str, level: KeyLevel, parts: &[&str]) -> SemanticKey {
        let text = format!("{prefix}{}/{}", level.label(), parts.join("/"));
        SemanticKey {
            level,
            id: Id::hash(text.as_bytes()),
            text,
        }
    }
}

/// The key set of one scheme (`prefix`) for a (canonical) context, most specific first.
fn prefixed_keys(
    prefix: &str,
    family: Option<&str>,
    task: &str,
    tags: &[String],
) -> Vec<SemanticKey> {
    let mut keys = Vec::with_capacity(3 + tags.len());
    if let Some(family) = family {
        keys.push(SemanticKey::new(
            prefix,
            KeyLevel::Exact,
            &[family, task, &tags.join(",")],
        ));
        keys.push(SemanticKey::new(
            prefix,
            KeyLevel::FamilyTask,
            &[family, task],
        ));
    }
    for tag in tags.iter().take(MAX_TAGS) {
        keys.push(SemanticKey::new(prefix, KeyLevel::TaskTag, &[task, tag]));
    }
    keys.push(SemanticKey::new(prefix, KeyLevel::Task, &[task]));
    keys
}

/// The tags of a context lifted to its task's parent: the implied tags first (so they always
/// get a key), then the context's own, each once, at most [`MAX_TAGS`].
fn lifted_tags(implies: &[&str], tags: &[String]) -> Vec<String> {
    let mut lifted: Vec<String> = Vec::with_capacity(implies.len() + tags.len());
    for tag in implies
        .iter()
        .copied()
        .chain(tags.iter().map(String::as_str))
    {
        if !lifted.iter().any(|t| t == tag) {
            lifted.push(tag.to_string());
        }
    }
    lifted.truncate(MAX_TAGS);
    lifted
}

/// The current scheme's keys of a context whose task is canonical: its own, then, for a
/// specialised task, its parent's task + tag and task keys.
fn scheme_keys(family: Option<&str>, task: &str, tags: &[String]) -> Vec<SemanticKey> {
    let mut keys = prefixed_keys(KEY_PREFIX, family, task, tags);
    if let Some((parent, implies)) = parent_of(task) {
        for tag in lifted_tags(implies, tags) {
            keys.push(SemanticKey::new(
                KEY_PREFIX,
                KeyLevel::TaskTag,
                &[parent, &tag],
            ));
        }
        keys.push(SemanticKey::new(KEY_PREFIX, KeyLevel::Task, &[parent]));
    }
    keys
}

/// The current scheme's keys of a context (family folded, tags canonical), the task
/// canonicalised by the vocabulary first: what a packet or a reproduction of that context is
/// stored under.
pub(crate) fn context_keys(family: Option<&str>, task: &str, tags: &[String]) -> Vec<SemanticKey> {
    scheme_keys(family, &canonical_task(task), tags)
}

/// The keys a (validated) packet body is stored under: the current scheme's, with the task's
/// canonical name (so a packet whose task is spelt otherwise, as a scheme-1 qis let it be, is
/// filed where a current one is).
pub fn packet_keys(body: &OutcomeBody) -> Vec<SemanticKey> {
    context_keys(Some(&body.family), &body.task, &body.tags)
}

/// The previous scheme's keys of a packet body (its task as written, no parent keys): where a
/// qis of that scheme stored it. A node still accepts a packet under them.
pub fn legacy_packet_keys(body: &OutcomeBody) -> Vec<SemanticKey> {
    prefixed_keys(
        LEGACY_KEY_PREFIX,
        Some(&body.family),
        &body.task,
        &body.tags,
    )
}

/// What a fine-tuner is about to do: the context to find evidence for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Query {
    /// Base model family, if decided (folded like a packet's).
    pub family: Option<String>,
    /// Task type (the vocabulary's canonical name).
    pub task: String,
    /// Domain tags (canonical; only the first [`MAX_TAGS`] after sorting get keys).
    pub tags: Vec<String>,
    /// The task as typed (a canonical token, before the vocabulary): scheme-1 packets were
    /// filed under what their publishers typed.
    #[serde(skip)]
    pub typed_task: String,
}

impl Query {
    /// A query in canonical form: the family folded, task and tags canonical.
    pub fn new<S: AsRef<str>>(family: Option<&str>, task: &str, tags: &[S]) -> Query {
        let family = family.map(fold_family).filter(|f| !f.is_empty());
        let mut tags = canonical_tags(tags);
        tags.truncate(MAX_TAGS);
        let typed_task = canonical_token(task);
        Query {
            family,
            task: canonical_task(&typed_task),
            tags,
            typed_task,
        }
    }

    /// The keys to look up, most specific first (no exact or family-task key without a
    /// family): the current scheme's, the parent's for a specialised task, then the previous
    /// scheme's for the task as typed and as canonically named, each key once.
    pub fn keys(&self) -> Vec<SemanticKey> {
        let family = self.family.as_deref();
        let mut keys = scheme_keys(family, &self.task, &self.tags);
        for task in [&self.typed_task, &self.task] {
            keys.extend(prefixed_keys(LEGACY_KEY_PREFIX, family, task, &self.tags));
        }
        let mut seen = std::collections::BTreeSet::new();
        keys.retain(|k| seen.insert(k.id));
        keys
    }

    /// How similar a packet's context is to this query (see the module documentation).
    pub fn similarity(&self, body: &OutcomeBody) -> Option<Similarity> {
        let task = canonical_task(&body.task);
        if task != self.task {
            return self.related_similarity(&task, body);
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

    /// The similarity of a packet of another task `task` (canonical) with the same parent as
    /// ours, or that is our parent or child: both contexts lifted to the parent.
    fn related_similarity(&self, task: &str, body: &OutcomeBody) -> Option<Similarity> {
        if root_of(task) != root_of(&self.task) {
            return None;
        }
        let implied = |task: &str| parent_of(task).map_or(&[][..], |(_, implies)| implies);
        let ours = canonical_tags(&lifted_tags(implied(&self.task), &self.tags));
        let theirs = canonical_tags(&lifted_tags(implied(task), &body.tags));
        let lineage = match &self.family {
            Some(family) if family_lineage(family) == family_lineage(&body.family) => 1.0,
            _ => 0.0,
        };
        Some(Similarity {
            level: KeyLevel::ParentTask,
            score: 0.02 + 0.05 * jaccard(&ours, &theirs) + 0.02 * lineage,
        })
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
/// signed at several times counts once, as its newest signing) dropped, packets for an
/// unrelated task dropped, the rest ranked by similarity, highest first, ties by packet id.
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
        assert_eq!(LEGACY_KEY_PREFIX, "qis/key/v1/");
        let query = Query::new(Some("llama-3-8b"), "summarization", &["news"]);
        let keys = query.keys();
        let current = keys
            .iter()
            .filter(|k| k.text.starts_with(KEY_PREFIX))
            .count();
        let legacy = keys
            .iter()
            .filter(|k| k.text.starts_with(LEGACY_KEY_PREFIX));
        assert_eq!((current, legacy.count()), (4, 4), "{keys:?}");
    }
}
