//! The compared strategies: how a publisher picks its next recipe.

use crate::network::{Found, Network};
use crate::recipe::Recipe;
use crate::world::{Context, FAMILIES, TASKS};
use qis_core::RecordId;
use qis_outcomes::{Claim, Evidence, KeyLevel, Ledger, OutcomeBody, Query, recommend, standing};
use serde::Serialize;

/// Contributors of a recommendation the client's ledger checks against its outcome (the
/// heaviest ones: a saved recommendation lists them all).
pub const LEDGER_CONTRIBUTORS: usize = 16;

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
    /// The packets it rests on, heaviest first: the first
    /// [`MAX_BUILT_ON`](qis_outcomes::limits::MAX_BUILT_ON) are what the next packet records as
    /// `built_on`, up to [`LEDGER_CONTRIBUTORS`] what the client's ledger checks.
    pub built_on: Vec<Found>,
    /// The share of the evidence weight that liars' packets held, when evidence was weighed.
    pub liar_weight: Option<f64>,
    /// Packets weighed.
    pub evidence: usize,
    /// Share of the weight from publishers with standing.
    pub established: f64,
}

impl Advice {
    fn default_recipe() -> Advice {
        Advice {
            recipe: Recipe::default_recipe(),
            built_on: Vec::new(),
            liar_weight: None,
            evidence: 0,
            established: 0.0,
        }
    }

    /// The ids of the packets a new packet records as built on.
    pub fn built_on_ids(&self) -> Vec<RecordId> {
        self.built_on
            .iter()
            .take(qis_outcomes::limits::MAX_BUILT_ON)
            .map(|f| f.id)
            .collect()
    }

    /// The claims the ledger keeps once `ran` (the client's own packet body) is known.
    pub fn claims(&self, ran: &OutcomeBody) -> Vec<Claim> {
        self.built_on
            .iter()
            .map(|f| Claim::of(f.id, f.publisher, &f.body, ran))
            .collect()
    }
}

/// The query a publisher in `c` asks.
pub fn query_for(c: &Context) -> Query {
    Query::new(Some(FAMILIES[c.family]), TASKS[c.task], &c.tags())
}

/// The advice of `strategy` in context `c`, from what `network` holds and (for qis) the
/// client's own `ledger`, at time `now`.
pub fn advise(
    strategy: Strategy,
    network: &Network,
    c: &Context,
    ledger: &Ledger,
    now: u64,
) -> Advice {
    match strategy {
        Strategy::NoNetwork => Advice::default_recipe(),
        Strategy::Writeup => writeup(network, c),
        Strategy::Qis => qis(network, c, ledger, now),
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
        .filter(|f| {
            query
                .similarity(&f.body)
                .is_some_and(|s| s.level == KeyLevel::Exact)
        })
        .fold(None, |best: Option<&Found>, candidate| match best {
            Some(b) if b.body.gain() >= candidate.body.gain() => Some(b),
            _ => Some(candidate),
        });
    match best {
        Some(best) => Advice {
            recipe: Recipe::from_stated(&best.body.method, |key| {
                best.body.hyperparam(key).and_then(|v| v.as_f64())
            }),
            built_on: vec![best.clone()],
            liar_weight: None,
            evidence: found.len(),
            established: 0.0,
        },
        None => Advice::default_recipe(),
    }
}

fn qis(network: &Network, c: &Context, ledger: &Ledger, now: u64) -> Advice {
    let query = query_for(c);
    let found = network.query(&query);
    let mut evidence: Vec<Evidence> = found
        .iter()
        .filter_map(|f| {
            let similarity = query.similarity(&f.body)?.score;
            Some(Evidence::shared(
                f.id,
                f.publisher,
                f.created,
                f.body.clone(),
                similarity,
            ))
        })
        .collect();
    let standing = standing::standings(&evidence, ledger, now);
    standing::apply(&mut evidence, &standing);
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
    let by_id: std::collections::HashMap<RecordId, &Found> =
        found.iter().map(|f| (f.id, f)).collect();
    Advice {
        recipe: Recipe::from_recommendation(&rec),
        built_on: rec
            .contributors
            .iter()
            .take(LEDGER_CONTRIBUTORS)
            .filter_map(|id| by_id.get(id).map(|f| (*f).clone()))
            .collect(),
        liar_weight: (total > 0.0).then(|| lies / total),
        evidence: evidence.len(),
        established: rec.established_share,
    }
}
