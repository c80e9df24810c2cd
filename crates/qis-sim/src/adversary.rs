//! Adversarial nodes (`qis sim --adversaries F --attack LIST`). An adversary runs the real
//! protocol core, like every other node: it joins, proves its id and answers pings, so it
//! earns its place in honest routing tables. What it does with the requests that matter is
//! decided here, in a wrapper the datagram passes through before reaching its core: drop it,
//! answer it with lies, or hand it to the core. The core's logic stays the one every node
//! runs; an adversary's lies are built with the same codec and carry its genuine proof.
//!
//! Adversaries collude: a lie about the closest nodes to a target lists the adversaries
//! closest to it (the strongest lie a routing answer can tell: every contact in it is another
//! liar). Each adversary drawn at `--adversaries F` runs one attack of the list, assigned in
//! turn; the targeted attacks (`eclipse-key`, `sybil-table`) are run by extra nodes with ground
//! ids instead (see `targeted`), through the same wrapper.

use super::addresses::Addresses;
use crate::truth::LiveIndex;
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role, StoreStatus};
use qis_core::wire::{Token, TxId};
use qis_core::{Credentials, Id, SimAddr, Time};
use std::collections::BTreeMap;

/// One adversarial behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attack {
    /// Answers pings (to stay in tables) and drops every other request.
    Drop,
    /// Answers every FIND_NODE and FIND_VALUE with the colluders closest to the target.
    Misroute,
    /// Targeted (extra nodes with ground ids, see `targeted`): nodes whose ids are the closest
    /// to chosen keys an attacker's grinding budget buys. They acknowledge and discard stores
    /// of those keys, answer FIND_VALUE for them and FIND_NODE near them with colluders, and
    /// behave honestly otherwise, so they earn table places.
    EclipseKey,
    /// Targeted (extra nodes with ground ids, see `targeted`): nodes whose ids fill the buckets
    /// of one honest victim's routing table; they bootstrap through the victim, answer its
    /// lookups with colluders, and behave honestly toward everyone else.
    SybilTable,
    /// Acknowledges every store and discards it; answers FIND_VALUE with colluders, as if it
    /// held nothing.
    CensorStore,
    /// Stores honestly but serves a key's values only to the address that stored them (the
    /// publisher checking its own put); everyone else gets colluders.
    ServePublisherOnly,
    /// Behaves well until the measurement window is a quarter through, then misroutes and
    /// censors stores.
    OnOff,
}

impl Attack {
    /// Every attack, in the order of the names `--attack` takes.
    pub const ALL: [Attack; 7] = [
        Attack::Drop,
        Attack::Misroute,
        Attack::EclipseKey,
        Attack::SybilTable,
        Attack::CensorStore,
        Attack::ServePublisherOnly,
        Attack::OnOff,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Attack::Drop => "drop",
            Attack::Misroute => "misroute",
            Attack::EclipseKey => "eclipse-key",
            Attack::SybilTable => "sybil-table",
            Attack::CensorStore => "censor-store",
            Attack::ServePublisherOnly => "serve-publisher-only",
            Attack::OnOff => "on-off",
        }
    }

    /// The attack called `name`.
    pub fn from_name(name: &str) -> Option<Attack> {
        Attack::ALL.into_iter().find(|a| a.name() == name)
    }

    /// True for the targeted attacks (`eclipse-key`, `sybil-table`): run by extra nodes with
    /// ground ids (`SimConfig::targeted`), not by slots drawn at `--adversaries F`.
    pub fn is_targeted(self) -> bool {
        matches!(self, Attack::EclipseKey | Attack::SybilTable)
    }
}

/// Which nodes are adversaries and what they do.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversaryConfig {
    /// Fraction of nodes that are adversaries (each slot is one with this probability, drawn
    /// from the seed; node 0, the first bootstrap node, is always honest).
    pub fraction: f64,
    /// The attacks, assigned to adversaries in turn.
    pub attacks: Vec<Attack>,
}

/// What the adversaries did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttackCounts {
    /// Requests dropped.
    pub dropped: u64,
    /// Routing answers replaced by colluders.
    pub misrouted: u64,
    /// Stores acknowledged and discarded.
    pub stores_discarded: u64,
    /// Value requests answered with colluders instead of the values held.
    pub values_withheld: u64,
    /// At the end of the run, the share of honest nodes' routing-table entries that are
    /// adversaries (their share of the nodes is the fraction asked for: more means the attack
    /// crowded honest contacts out of tables).
    pub table_share: f64,
}

/// What the wrapper decided for one datagram.
pub(crate) enum Verdict {
    /// Hand it to the adversary's core.
    Pass,
    /// Swallow it.
    Drop,
    /// Swallow it and send this answer instead.
    Answer(Vec<u8>),
}

/// The adversaries of a run: who they are, their credentials and what they have done.
#[derive(Debug, Default)]
pub(crate) struct Adversaries {
    /// Live adversaries' ids, for answering with the colluders closest to a target.
    live: LiveIndex,
    /// Slot of each live adversary id.
    slot_of: BTreeMap<Id, u32>,
    /// Each adversary's credentials, to prove itself in the answers it makes up.
    credentials: BTreeMap<u32, Credentials>,
    /// For `ServePublisherOnly`: the address that stored each key at each adversary.
    storers: BTreeMap<(u32, Id), SimAddr>,
    /// When `OnOff` adversaries turn.
    pub turn_at: Option<Time>,
    /// For `EclipseKey`: the eclipsed keys.
    pub eclipsed: Vec<Id>,
    /// For `EclipseKey`: a FIND_NODE target sharing at least this many leading bits with an
    /// eclipsed key is "near" it (its range holds about k to 2k honest nodes).
    pub near_bits: usize,
    /// For `SybilTable`: the victim's slot.
    pub victim: Option<u32>,
    /// What they did.
    pub counts: AttackCounts,
}

/// What the wrapper needs to know of the message and its adversary.
pub(crate) struct Intercept<'a> {
    /// The adversary's slot.
    pub slot: u32,
    /// The sender's slot.
    pub from: u32,
    /// The sender's address (its main socket, or its audit socket).
    pub source: SimAddr,
    /// The datagram.
    pub payload: &'a [u8],
    /// The run's network.
    pub network: NetworkId,
    /// Replication factor: how many colluders a lie lists.
    pub k: usize,
    /// Now.
    pub now: Time,
    /// Every slot's address (a lie names colluders by their addresses).
    pub addresses: &'a Addresses,
}

impl Adversaries {
    /// Records that adversary `slot` is up with `credentials`.
    pub(crate) fn up(&mut self, slot: u32, credentials: Credentials) {
        self.live.insert(credentials.id());
        self.slot_of.insert(credentials.id(), slot);
        self.credentials.insert(slot, credentials);
    }

    /// True if `id` is a live adversary.
    pub(crate) fn is_adversary_id(&self, id: &Id) -> bool {
        self.slot_of.contains_key(id)
    }

    /// Records that adversary `slot` went down.
    pub(crate) fn down(&mut self, slot: u32) {
        if let Some(credentials) = self.credentials.remove(&slot) {
            self.live.remove(&credentials.id());
            self.slot_of.remove(&credentials.id());
        }
    }

    /// Decides what adversary `at.slot`, running `attack`, does with a datagram.
    pub(crate) fn intercept(&mut self, attack: Attack, at: &Intercept<'_>) -> Verdict {
        let Ok(message) = wire::decode::<SimAddr>(at.payload, at.network) else {
            return Verdict::Pass;
        };
        if !message.body.is_request() {
            return Verdict::Pass;
        }
        let attack = match attack {
            Attack::OnOff if self.turn_at.is_some_and(|t| at.now >= t) => Attack::CensorStore,
            Attack::OnOff => return Verdict::Pass,
            Attack::EclipseKey => return self.eclipse(at, &message),
            Attack::SybilTable => return self.sybil(at, &message),
            other => other,
        };
        match (attack, &message.body) {
            (_, Body::Ping) => Verdict::Pass,
            (Attack::Drop, _) => {
                self.counts.dropped += 1;
                Verdict::Drop
            }
            (Attack::Misroute, Body::FindNode { target, .. }) => {
                self.counts.misrouted += 1;
                self.lie_about_closest(at, &message.header, *target)
            }
            (Attack::Misroute | Attack::CensorStore, Body::FindValue { key, .. }) => {
                self.counts.values_withheld += 1;
                self.lie_about_closest(at, &message.header, *key)
            }
            (Attack::CensorStore, Body::Store { .. }) => self.discard_store(at, &message.header),
            (Attack::ServePublisherOnly, Body::Store { key, .. }) => {
                self.storers.insert((at.slot, *key), at.source);
                Verdict::Pass
            }
            (Attack::ServePublisherOnly, Body::FindValue { key, .. }) => {
                if self.storers.get(&(at.slot, *key)) == Some(&at.source) {
                    return Verdict::Pass;
                }
                self.counts.values_withheld += 1;
                self.lie_about_closest(at, &message.header, *key)
            }
            _ => Verdict::Pass,
        }
    }

    /// `EclipseKey`: lies about the eclipsed keys and the ids near them, honest otherwise.
    fn eclipse(&mut self, at: &Intercept<'_>, message: &Message<SimAddr>) -> Verdict {
        let eclipsed = |key: &Id| self.eclipsed.contains(key);
        match &message.body {
            Body::Store { key, .. } if eclipsed(key) => self.discard_store(at, &message.header),
            Body::FindValue { key, .. } if eclipsed(key) => {
                self.counts.values_withheld += 1;
                self.lie_about_closest(at, &message.header, *key)
            }
            Body::FindNode { target, .. }
                if self
                    .eclipsed
                    .iter()
                    .any(|key| key.common_prefix_len(target) >= self.near_bits) =>
            {
                self.counts.misrouted += 1;
                self.lie_about_closest(at, &message.header, *target)
            }
            _ => Verdict::Pass,
        }
    }

    /// `SybilTable`: lies to the victim's lookups, honest otherwise.
    fn sybil(&mut self, at: &Intercept<'_>, message: &Message<SimAddr>) -> Verdict {
        if self.victim != Some(at.from) {
            return Verdict::Pass;
        }
        match &message.body {
            Body::FindNode { target, .. } => {
                self.counts.misrouted += 1;
                self.lie_about_closest(at, &message.header, *target)
            }
            Body::FindValue { key, .. } => {
                self.counts.values_withheld += 1;
                self.lie_about_closest(at, &message.header, *key)
            }
            _ => Verdict::Pass,
        }
    }

    /// The live adversary ids among the `k` closest to `target`, closest first.
    pub(crate) fn closest(&self, target: &Id, k: usize) -> Vec<Id> {
        self.live.closest(target, k)
    }

    /// A `Nodes` answer listing the k colluders closest to `target` (never the asker).
    fn lie_about_closest(&self, at: &Intercept<'_>, asked: &Header, target: Id) -> Verdict {
        let nodes: Vec<Contact<SimAddr>> = self
            .live
            .closest(&target, at.k + 1)
            .into_iter()
            .filter(|id| *id != asked.sender)
            .take(at.k)
            .filter_map(|id| {
                let slot = *self.slot_of.get(&id)?;
                Some(Contact {
                    id,
                    addr: at.addresses.of(slot),
                })
            })
            .collect();
        self.answer(
            at,
            asked,
            Body::Nodes {
                token: Token([0; qis_core::constants::TOKEN_BYTES]),
                cut: false,
                nodes,
            },
        )
    }

    /// Acknowledges a store it then discards.
    fn discard_store(&mut self, at: &Intercept<'_>, asked: &Header) -> Verdict {
        self.counts.stores_discarded += 1;
        let body = Body::StoreAck {
            status: StoreStatus::Stored,
        };
        self.answer(at, asked, body)
    }

    /// An answer from adversary `at.slot` with its genuine proof when challenged.
    fn answer(&self, at: &Intercept<'_>, asked: &Header, body: Body<SimAddr>) -> Verdict {
        let Some(credentials) = self.credentials.get(&at.slot) else {
            return Verdict::Pass;
        };
        let message = Message {
            header: Header {
                version: qis_core::constants::PROTOCOL_VERSION,
                network: at.network,
                txid: TxId(asked.txid.0),
                sender: credentials.id(),
                role: Role::Node,
                auth: credentials.answer_auth(asked),
            },
            body,
        };
        match wire::encode(&message) {
            Ok(bytes) => Verdict::Answer(bytes),
            Err(_) => Verdict::Drop,
        }
    }
}

/// True if slot `index` of a run with `seed` is an adversary at `fraction` (node 0 never is).
/// Drawn from a hash of the seed and the index, not from a random stream, so honest nodes see
/// the same draws with or without adversaries.
pub(crate) fn is_adversary(seed: u64, index: u32, fraction: f64) -> bool {
    if index == 0 || fraction <= 0.0 {
        return false;
    }
    let mut input = [0u8; 12];
    input[..8].copy_from_slice(&seed.to_le_bytes());
    input[8..].copy_from_slice(&index.to_le_bytes());
    let hash = blake3::derive_key("qis-sim 2026-12 adversary draw", &input);
    let draw = u64::from_le_bytes(hash[..8].try_into().expect("8 bytes"));
    (draw as f64 / u64::MAX as f64) < fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_names_round_trip() {
        for attack in Attack::ALL {
            assert_eq!(Attack::from_name(attack.name()), Some(attack));
        }
        assert_eq!(Attack::from_name("eclipse"), None);
        assert!(Attack::EclipseKey.is_targeted() && !Attack::Misroute.is_targeted());
    }

    #[test]
    fn the_adversary_fraction_is_about_what_was_asked() {
        let n = (0..10_000).filter(|&i| is_adversary(7, i, 0.2)).count();
        assert!((1_850..2_150).contains(&n), "{n}");
        assert!(!is_adversary(7, 0, 1.0));
    }
}
