//! One run: N publishers over R rounds, every strategy on its own network.

use crate::network::Network;
use crate::publisher::{LiarMode, Publisher, Role};
use crate::random::{Purpose, stream};
use crate::recipe::Recipe;
use crate::squat::{Squat, Squatters, target_key};
use crate::strategy::{Advice, Strategy, advise, checked_claims};
use crate::world::World;
use qis_core::RecordId;
use qis_outcomes::{Ledger, OwnOutcome};
use qis_outcomes::{OutcomePacket, Reproduction};
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
    /// How the liars lie.
    pub liar_mode: LiarMode,
    /// Share of honest publishers who reproduce one packet per round, in `[0, 1]`
    /// ([`REPRODUCE_SHARE`](crate::publisher::REPRODUCE_SHARE) by default).
    pub reproduce_share: f64,
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
    /// Reproduction reports held by qis's network after the round.
    pub reproductions: usize,
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

/// One honest publisher's round: the advice, and (where the strategy uses a network) the
/// packet of the run it made and the entry its ledger gains.
struct Step {
    advice: Advice,
    packet: Option<OutcomePacket>,
    outcome: Option<OwnOutcome>,
    /// A reproduction of a packet it found, and its own ledger entry for it (qis only: no
    /// other strategy reads reproductions).
    reproduction: Option<(Reproduction, OwnOutcome)>,
}

/// What one honest publisher does in `round`: ask, run its own variation, deposit.
struct RoundStep<'a> {
    strategy: Strategy,
    network: &'a Network,
    world: &'a World,
    seed: u64,
    round: u64,
    reproduce_share: f64,
}

impl RoundStep<'_> {
    fn step(&self, p: &Publisher, ledger: &Ledger) -> Step {
        let now = crate::publisher::created_at(self.round);
        let (advice, found) = advise(self.strategy, self.network, &p.context, ledger, now);
        if self.strategy == Strategy::NoNetwork {
            return Step {
                advice,
                packet: None,
                outcome: None,
                reproduction: None,
            };
        }
        let mut rng = stream(self.seed, Purpose::Explore, p.index, self.round);
        let ran = advice.recipe.explore(&mut rng);
        let packet = p.honest_packet(self.world, self.seed, self.round, &ran, &advice.built_on);
        let outcome = packet.as_ref().map(|packet| OwnOutcome {
            checked: checked_claims(&found, &p.context, &packet.body),
            realised: packet.body.normalized_gain(),
            eval_samples: packet.body.eval_samples,
            created: packet.created(),
        });
        let reproduction = (self.strategy == Strategy::Qis)
            .then(|| {
                p.reproduction(
                    self.world,
                    self.seed,
                    self.round,
                    &found,
                    self.reproduce_share,
                )
            })
            .flatten();
        Step {
            advice,
            packet,
            outcome,
            reproduction,
        }
    }

    /// Every honest publisher's step, computed on every core (steps only read the network;
    /// the result is in the publishers' order, so the report does not depend on the number of
    /// threads).
    fn steps(&self, honest: &[&Publisher], ledgers: &[Ledger]) -> Vec<Step> {
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
                            .map(|(p, ledger)| self.step(p, ledger))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().expect("step threads do not panic"))
                .collect()
        })
    }
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
    let liars: Vec<&Publisher> = publishers.iter().filter(|p| p.role == Role::Liar).collect();
    let mut previous_lies: Vec<(RecordId, Recipe)> = Vec::new();
    let mut previous_lie_packets: Vec<OutcomePacket> = Vec::new();
    let mut squatted_key = None;
    let mut rounds = Vec::new();
    for round in 1..=config.rounds {
        // The adversaries' packets of this round, the same for every network.
        let mut lies: Vec<(OutcomePacket, u128)> = Vec::new();
        let mut lie_reports: Vec<(Reproduction, u128)> = Vec::new();
        for p in &liars {
            let mine = p.lying_packets(config.seed, round, config.liar_mode, &previous_lies);
            let reports = p.lying_reproductions(
                config.seed,
                round,
                config.liar_mode,
                &mine,
                &previous_lie_packets,
            );
            lie_reports.extend(reports.into_iter().map(|r| (r, p.prefix)));
            lies.extend(mine.into_iter().map(|packet| (packet, p.prefix)));
        }
        let squats = squatters.packets(&world, config.seed, round);
        let mut sums: Vec<Sums> = Strategy::ALL.iter().map(|_| Sums::default()).collect();
        for (s, strategy) in Strategy::ALL.iter().enumerate() {
            // Everyone asks before anyone deposits: a round is one synchronous step.
            let steps = RoundStep {
                strategy: *strategy,
                network: &networks[s],
                world: &world,
                seed: config.seed,
                round,
                reproduce_share: config.reproduce_share,
            }
            .steps(&honest, &ledgers[s]);
            let network = &mut networks[s];
            let sum = &mut sums[s];
            for (p, step) in honest.iter().zip(&steps) {
                let a = &step.advice;
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
            for ((p, step), ledger) in honest.iter().zip(steps).zip(&mut ledgers[s]) {
                if let Some(packet) = step.packet {
                    network.publish(&packet, p.prefix, false);
                    if let Some(key) = target_key(&packet) {
                        network.watch(key, packet.record.id());
                        squatted_key = Some(key);
                    }
                }
                ledger.outcomes.extend(step.outcome);
                if let Some((report, own)) = step.reproduction {
                    network.publish_reproduction(&report, p.prefix);
                    ledger.outcomes.push(own);
                }
            }
            for (packet, prefix) in lies.iter().chain(&squats) {
                network.publish(packet, *prefix, true);
            }
            if *strategy == Strategy::Qis {
                for (report, prefix) in &lie_reports {
                    network.publish_reproduction(report, *prefix);
                }
            }
        }
        previous_lies = lies
            .iter()
            .map(|(packet, _)| {
                let body = &packet.body;
                let recipe = Recipe::from_stated(&body.method, |key| {
                    body.hyperparam(key).and_then(|v| v.as_f64())
                });
                (packet.id(), recipe)
            })
            .collect();
        previous_lie_packets = lies.into_iter().map(|(packet, _)| packet).collect();
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
            reproductions: networks[2].reports(),
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
