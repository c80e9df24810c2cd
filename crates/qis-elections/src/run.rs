//! One run: N publishers over R rounds, every strategy on its own network.

use crate::network::Network;
use crate::publisher::{Publisher, Role};
use crate::random::{Purpose, stream};
use crate::squat::{Squat, Squatters, target_key};
use crate::strategy::{Advice, Strategy, advise};
use crate::world::World;
use qis_outcomes::{Ledger, OwnOutcome};
use serde::Serialize;

/// What to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Publishers.
    pub publishers: u64,
    /// Rounds.
    pub rounds: u64,
    /// Share of publishers who lie, in `[0, 1]`.
    pub liar_share: f64,
    /// Seed of the world and of every publisher.
    pub seed: u64,
    /// A key-squatting attack on the most popular task's key, if any.
    pub squat: Squat,
}

/// Mean regret of the honest publishers' advice in one round, per strategy, and what qis's
/// synthesis weighed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Round {
    /// Round number, from 1.
    pub round: u64,
    /// Regret with no network.
    pub no_network: f64,
    /// Regret with the write-up's router.
    pub writeup: f64,
    /// Regret with qis.
    pub qis: f64,
    /// qis's regret for publishers working in a rare language.
    pub qis_rare: f64,
    /// qis's regret for the others.
    pub qis_common: f64,
    /// Mean share of qis's evidence weight held by liars' packets (queries with evidence).
    pub liar_weight: f64,
    /// Mean packets weighed per qis query.
    pub evidence: f64,
    /// Packets held by qis's network after the round.
    pub packets: usize,
    /// Share of qis's advice per tuning, in [`TUNINGS`](crate::recipe::TUNINGS) order.
    pub qis_tunings: Vec<f64>,
    /// Mean share of qis's evidence weight from publishers with standing.
    pub established: f64,
    /// Share of the honest packets filed under the squatted key (the most popular task's)
    /// still held there, in qis's network.
    pub squatted_key_honest_held: Option<f64>,
    /// Values under the squatted key in qis's network.
    pub squatted_key_values: usize,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// What was simulated.
    pub config: Config,
    /// Honest publishers, and those in a rare language.
    pub honest: usize,
    /// Honest publishers in a rare language.
    pub honest_rare: usize,
    /// Per round.
    pub rounds: Vec<Round>,
}

#[derive(Default)]
struct Sums {
    tunings: [f64; crate::recipe::TUNINGS.len()],
    established: f64,
    regret: f64,
    rare: f64,
    common: f64,
    liar_weight: f64,
    weighed: u64,
    evidence: f64,
}

/// Every honest publisher's advice, computed on every core (queries only read the network;
/// the order of the result is the publishers' order, so the report does not depend on the
/// number of threads).
fn advise_all(
    strategy: Strategy,
    network: &Network,
    honest: &[&Publisher],
    ledgers: &[Ledger],
    now: u64,
) -> Vec<Advice> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = honest.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = honest
            .chunks(chunk)
            .zip(ledgers.chunks(chunk))
            .map(|(part, ledgers)| {
                scope.spawn(move || {
                    part.iter()
                        .zip(ledgers)
                        .map(|(p, ledger)| advise(strategy, network, &p.context, ledger, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("advice threads do not panic"))
            .collect()
    })
}

/// Runs `config`; `progress` is called after each round with its number.
pub fn run(config: &Config, mut progress: impl FnMut(u64)) -> Report {
    let world = World::new(config.seed);
    let publishers: Vec<Publisher> = (0..config.publishers)
        .map(|i| Publisher::new(config.seed, i, config.liar_share))
        .collect();
    let honest: Vec<&Publisher> = publishers
        .iter()
        .filter(|p| p.role == Role::Honest)
        .collect();
    let honest_rare = honest.iter().filter(|p| p.context.is_rare()).count();
    let mut networks: Vec<Network> = Strategy::ALL.iter().map(|_| Network::new()).collect();
    // Each honest publisher's own results, per strategy (only qis reads them).
    let mut ledgers: Vec<Vec<Ledger>> = Strategy::ALL
        .iter()
        .map(|_| vec![Ledger::default(); honest.len()])
        .collect();
    let squatters = Squatters::new(config.seed, config.squat);
    let mut squatted_key = None;
    let mut rounds = Vec::new();
    for round in 1..=config.rounds {
        let mut sums: Vec<Sums> = Strategy::ALL.iter().map(|_| Sums::default()).collect();
        for (s, strategy) in Strategy::ALL.iter().enumerate() {
            let network = &mut networks[s];
            // Everyone asks before anyone deposits: a round is one synchronous step.
            let now = crate::publisher::created_at(round);
            let advice = advise_all(*strategy, network, &honest, &ledgers[s], now);
            let sum = &mut sums[s];
            for (p, a) in honest.iter().zip(&advice) {
                let regret = world.best_gain(&p.context) - world.true_gain(&p.context, &a.recipe);
                sum.regret += regret;
                if p.context.is_rare() {
                    sum.rare += regret;
                } else {
                    sum.common += regret;
                }
                if let Some(share) = a.liar_weight {
                    sum.liar_weight += share;
                    sum.weighed += 1;
                }
                sum.evidence += a.evidence as f64;
                sum.tunings[a.recipe.tuning] += 1.0;
                sum.established += a.established;
            }
            if *strategy == Strategy::NoNetwork {
                continue;
            }
            for ((p, a), ledger) in honest.iter().zip(&advice).zip(&mut ledgers[s]) {
                let mut rng = stream(config.seed, Purpose::Explore, p.index, round);
                let ran = a.recipe.explore(&mut rng);
                let built_on = a.built_on_ids();
                if let Some(packet) = p.honest_packet(&world, config.seed, round, &ran, &built_on) {
                    network.publish(&packet, p.prefix, false);
                    if let Some(key) = target_key(&packet) {
                        network.watch(key, packet.id());
                        squatted_key = Some(key);
                    }
                    ledger.outcomes.push(OwnOutcome {
                        built_on: a.claims(&packet.body),
                        realised: packet.body.normalized_gain(),
                        eval_samples: packet.body.eval_samples,
                        created: packet.created(),
                    });
                }
            }
            for p in publishers.iter().filter(|p| p.role == Role::Liar) {
                if let Some(packet) = p.lying_packet(config.seed, round) {
                    network.publish(&packet, p.prefix, true);
                }
            }
            squatters.publish(&world, config.seed, round, network);
        }
        let n = honest.len().max(1) as f64;
        let rare = honest_rare.max(1) as f64;
        let common = (honest.len() - honest_rare).max(1) as f64;
        let qis = &sums[2];
        rounds.push(Round {
            round,
            no_network: sums[0].regret / n,
            writeup: sums[1].regret / n,
            qis: qis.regret / n,
            qis_rare: qis.rare / rare,
            qis_common: qis.common / common,
            liar_weight: qis.liar_weight / qis.weighed.max(1) as f64,
            evidence: qis.evidence / n,
            packets: networks[2].packets(),
            qis_tunings: qis.tunings.iter().map(|t| t / n).collect(),
            established: qis.established / n,
            squatted_key_honest_held: networks[2].watched_held(),
            squatted_key_values: squatted_key.map_or(0, |k| networks[2].values_under(&k)),
        });
        progress(round);
    }
    Report {
        config: *config,
        honest: honest.len(),
        honest_rare,
        rounds,
    }
}
