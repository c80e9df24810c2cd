//! The compared strategies: how a publisher picks its next recipe.

use crate::network::{Found, Network};
use crate::recipe::Recipe;
use crate::world::{CONTEXTS, Context, FAMILIES, TASKS};
use qis_core::RecordId;
use qis_outcomes::{
    Claim, Evidence, KeyLevel, Ledger, LevelWeights, OutcomeBody, Query, recommend, standing,
};
use serde::Serialize;

/// The claims among `found` that the client's run of `ran` in context `c` checks
/// ([`standing::closest`]: the same selection a saved recommendation makes for the CLI).
pub fn checked_claims(found: &[Found], c: &Context, ran: &OutcomeBody) -> Vec<Claim> {
    let mut similarities = Similarities::new(c);
    standing::closest(
        found
            .iter()
            .filter(|f| f.body.method == ran.method)
            .filter_map(|f| {
                let (similarity, level) = similarities.of(f)?;
                let claim = Claim::checked_by(f.id, f.publisher, &f.body, similarity, ran);
                Some(Claim {
                    level: Some(level),
                    ..claim
                })
            }),
    )
}

/// A way of choosing a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// No network: the default recipe, always.
    NoNetwork,
    /// The original write-up's router: the exact context's key only, and the single packet
    /// claiming the largest gain, copied.
    Writeup,
    /// qis: every key level, ranked by similarity, weighed by the client's own standing
    /// model, synthesised by [`recommend()`]; followed only when some of its weight has standing
    /// (otherwise the default recipe).
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
    /// The packets it rests on, heaviest first (the next packet records them as `built_on`).
    pub built_on: Vec<RecordId>,
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
}

/// The query's similarity to each found packet ([`Query::similarity`]), computed once per
/// distinct context of the world: thousands of packets share a few hundred contexts.
struct Similarities {
    query: Query,
    memo: Vec<Option<Option<(f64, KeyLevel)>>>,
}

impl Similarities {
    fn new(c: &Context) -> Similarities {
        Similarities {
            query: query_for(c),
            memo: vec![None; CONTEXTS],
        }
    }

    /// The similarity of `found` to the query, and the key level it matches at.
    fn of(&mut self, found: &Found) -> Option<(f64, KeyLevel)> {
        let compute = |q: &Query| q.similarity(&found.body).map(|s| (s.score, s.level));
        match found.context {
            Some(i) => *self.memo[i].get_or_insert_with(|| compute(&self.query)),
            None => compute(&self.query),
        }
    }
}

/// The query a publisher in `c` asks.
pub fn query_for(c: &Context) -> Query {
    Query::new(Some(FAMILIES[c.family]), TASKS[c.task], &c.tags())
}

/// The advice of `strategy` in context `c`, from what `network` holds and (for qis) the
/// client's own `ledger`, at time `now`; with the packets it found.
pub fn advise(
    strategy: Strategy,
    network: &Network,
    c: &Context,
    ledger: &Ledger,
    now: u64,
) -> (Advice, Vec<Found>) {
    match strategy {
        Strategy::NoNetwork => (Advice::default_recipe(), Vec::new()),
        Strategy::Writeup => writeup(network, c),
        Strategy::Qis => qis(network, c, ledger, now),
    }
}

fn writeup(network: &Network, c: &Context) -> (Advice, Vec<Found>) {
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
    let advice = match best {
        Some(best) => Advice {
            recipe: Recipe::from_stated(&best.body.method, |key| {
                best.body.hyperparam(key).and_then(|v| v.as_f64())
            }),
            built_on: vec![best.id],
            liar_weight: None,
            evidence: found.len(),
            established: 0.0,
        },
        None => Advice::default_recipe(),
    };
    (advice, found)
}

fn qis(network: &Network, c: &Context, ledger: &Ledger, now: u64) -> (Advice, Vec<Found>) {
    let mut similarities = Similarities::new(c);
    let found = network.query(&similarities.query);
    let mut evidence: Vec<Evidence> = found
        .iter()
        .filter_map(|f| {
            let (similarity, level) = similarities.of(f)?;
            let mut e = Evidence::shared(f.id, f.publisher, f.created, f.body.clone(), similarity);
            e.level = Some(level);
            Some(e)
        })
        .collect();
    let reproductions = network.reproductions(&similarities.query);
    let standing = standing::standings(&evidence, &reproductions, ledger, now);
    standing::apply(&mut evidence, &standing);
    LevelWeights::learn(ledger, now).apply(&mut evidence);
    let Some(rec) = recommend(&evidence) else {
        return (Advice::default_recipe(), found);
    };
    let (mut lies, mut total) = (0.0, 0.0);
    for e in &evidence {
        let w = e.weight();
        total += w;
        if network.is_lie(&e.id) {
            lies += w;
        }
    }
    // A client follows only advice somebody vouches for: with no standing behind any of the
    // evidence (a young network, or one flooded with fresh keys), it runs its default.
    let recipe = if rec.established_share > 0.0 {
        Recipe::from_recommendation(&rec)
    } else {
        Recipe::default_recipe()
    };
    let advice = Advice {
        recipe,
        built_on: rec
            .contributors
            .iter()
            .take(qis_outcomes::limits::MAX_BUILT_ON)
            .copied()
            .collect(),
        liar_weight: (total > 0.0).then(|| lies / total),
        evidence: evidence.len(),
        established: rec.established_share,
    };
    (advice, found)
}
