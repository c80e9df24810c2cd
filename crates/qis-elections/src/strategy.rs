//! The compared strategies: how a publisher picks its next recipe.

use crate::network::Network;
use crate::recipe::Recipe;
use crate::world::{Context, FAMILIES, TASKS};
use qis_core::RecordId;
use qis_outcomes::{Evidence, KeyLevel, OutcomeBody, Query, recommend};
use serde::Serialize;
use std::sync::Arc;

/// A way of choosing a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// No network: the default recipe, always.
    NoNetwork,
    /// The original write-up's router: the exact context's key only, and the single packet
    /// claiming the largest gain, copied.
    Writeup,
    /// qis: every key level, ranked by similarity, synthesised by [`recommend`].
    Qis,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 3] = [Strategy::NoNetwork, Strategy::Writeup, Strategy::Qis];

    /// The label in reports.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::NoNetwork => "no-network",
            Strategy::Writeup => "write-up",
            Strategy::Qis => "qis",
        }
    }
}

/// What a strategy advised.
#[derive(Clone, Debug, PartialEq)]
pub struct Advice {
    /// The recipe to run.
    pub recipe: Recipe,
    /// The packets it rests on (what the next packet records as `built_on`).
    pub built_on: Vec<RecordId>,
    /// The share of the evidence weight that liars' packets held, when evidence was weighed.
    pub liar_weight: Option<f64>,
    /// Packets weighed.
    pub evidence: usize,
}

impl Advice {
    fn default_recipe() -> Advice {
        Advice {
            recipe: Recipe::default_recipe(),
            built_on: Vec::new(),
            liar_weight: None,
            evidence: 0,
        }
    }
}

/// The query a publisher in `c` asks.
pub fn query_for(c: &Context) -> Query {
    Query::new(Some(FAMILIES[c.family]), TASKS[c.task], &c.tags())
}

/// The advice of `strategy` in context `c`, from what `network` holds.
pub fn advise(strategy: Strategy, network: &Network, c: &Context) -> Advice {
    match strategy {
        Strategy::NoNetwork => Advice::default_recipe(),
        Strategy::Writeup => writeup(network, c),
        Strategy::Qis => qis(network, c),
    }
}

fn writeup(network: &Network, c: &Context) -> Advice {
    let query = query_for(c);
    let exact: Vec<_> = query
        .keys()
        .into_iter()
        .filter(|k| k.level == KeyLevel::Exact)
        .collect();
    let found = network.found(&exact);
    // Largest claimed gain; ties by packet id (the found list is in id order).
    let best = found
        .iter()
        .filter(|(_, body)| {
            query
                .similarity(body)
                .is_some_and(|s| s.level == KeyLevel::Exact)
        })
        .fold(
            None,
            |best: Option<&(RecordId, Arc<OutcomeBody>)>, candidate| match best {
                Some(b) if b.1.gain() >= candidate.1.gain() => Some(b),
                _ => Some(candidate),
            },
        );
    match best {
        Some((id, body)) => Advice {
            recipe: Recipe::from_stated(&body.method, |key| {
                body.hyperparam(key).and_then(|v| v.as_f64())
            }),
            built_on: vec![*id],
            liar_weight: None,
            evidence: found.len(),
        },
        None => Advice::default_recipe(),
    }
}

fn qis(network: &Network, c: &Context) -> Advice {
    let query = query_for(c);
    let evidence: Vec<Evidence> = network
        .query(&query)
        .into_iter()
        .filter_map(|(id, body)| {
            let similarity = query.similarity(&body)?.score;
            Some(Evidence::shared(id, body, similarity))
        })
        .collect();
    let Some(rec) = recommend(&evidence) else {
        return Advice::default_recipe();
    };
    let (mut lies, mut total) = (0.0, 0.0);
    for e in &evidence {
        let w = e.weight();
        total += w;
        if network.is_lie(&e.id) {
            lies += w;
        }
    }
    Advice {
        recipe: Recipe::from_recommendation(&rec),
        built_on: rec.contributors.iter().take(4).copied().collect(),
        liar_weight: (total > 0.0).then(|| lies / total),
        evidence: evidence.len(),
    }
}
