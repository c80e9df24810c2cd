//! Publishers: who they are, and the packets they deposit, honest or not.

use crate::network::Found;
use crate::random::{Purpose, Rng, stream, weighted_index};
use crate::recipe::Recipe;
use crate::world::{Context, DOMAINS, FAMILIES, LANGUAGES, TASKS, World};
use ed25519_dalek::SigningKey;
use qis_core::RecordId;
use qis_outcomes::limits::MAX_BUILT_ON;
use qis_outcomes::{Claim, OwnOutcome, Reproduction, ReproductionBody};
use qis_outcomes::{DataScale, Draft, OutcomePacket, ScoreScale, confidence_from_stderr};
use rand::RngExt;
use serde::Serialize;

/// How a publisher behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Reports what its runs really observed.
    Honest,
    /// Claims a large, confident gain for a recipe it never validated.
    Liar,
}

/// What a liar claims: the gain, the confidence and the evaluation size that today's weights
/// reward most (the measured example).
pub const LIAR_CLAIM: (f64, f64, u32) = (0.2, 0.95, 2000);

/// How liars lie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiarMode {
    /// One key, one inflated claim for a bad recipe every round.
    #[default]
    Inflate,
    /// As inflate, but building on other liars' packets with their recipe and claim, so that
    /// their reports vouch for each other.
    Collude,
    /// A fresh key every round (a caught liar coming back as somebody new).
    Whitewash,
    /// [`SYBIL_KEYS`] × 2 fresh keys every round: the same lie, the second half building on the
    /// first (self-made reports).
    Sybil,
}

impl LiarMode {
    /// Every mode.
    pub const ALL: [LiarMode; 4] = [
        LiarMode::Inflate,
        LiarMode::Collude,
        LiarMode::Whitewash,
        LiarMode::Sybil,
    ];

    /// The name on the command line and in reports.
    pub fn label(self) -> &'static str {
        match self {
            LiarMode::Inflate => "inflate",
            LiarMode::Collude => "collude",
            LiarMode::Whitewash => "whitewash",
            LiarMode::Sybil => "sybil",
        }
    }
}

/// Keys a Sybil liar makes per round for each half of its lie.
pub const SYBIL_KEYS: u64 = 5;

/// Share of honest publishers who reproduce one packet per round, by default (the issue's
/// fixed default).
pub const REPRODUCE_SHARE: f64 = 0.2;

/// Packets a reproducer chooses among: the largest claimed gains it found.
pub const REPRODUCE_CANDIDATES: usize = 8;

/// Evaluation sizes an honest run uses, drawn uniformly.
pub const EVAL_SIZES: [u32; 4] = [250, 500, 1000, 2000];

/// One publisher.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// Its index.
    pub index: u64,
    /// Its context (fixed: a publisher keeps working on one problem).
    pub context: Context,
    /// How it behaves.
    pub role: Role,
    /// Its signing key.
    pub key: SigningKey,
    /// The base model's score on its benchmark.
    pub baseline: f64,
    /// The wide address prefix its stores come from.
    pub prefix: u128,
}

impl Publisher {
    /// Publisher `index` of the world of `seed`; liars are drawn with probability
    /// `liar_share`.
    pub fn new(seed: u64, index: u64, liar_share: f64) -> Publisher {
        let mut rng = stream(seed, Purpose::Publishers, index, 0);
        let context = Context {
            family: rng.random_range(0..FAMILIES.len()),
            task: rng.random_range(0..TASKS.len()),
            language: weighted_index(&mut rng, &LANGUAGES.map(|(_, w)| w)),
            domain: weighted_index(&mut rng, &DOMAINS.map(|(_, w)| w)),
        };
        let role = if rng.random_bool(liar_share.clamp(0.0, 1.0)) {
            Role::Liar
        } else {
            Role::Honest
        };
        let secret: [u8; 32] = rng.random();
        Publisher {
            index,
            context,
            role,
            key: SigningKey::from_bytes(&secret),
            baseline: rng.random_range(0.25..0.65),
            prefix: u128::from(index) << 8,
        }
    }

    /// The packet of an honest run of `ran` in round `round`, built on `built_on`.
    pub fn honest_packet(
        &self,
        world: &World,
        seed: u64,
        round: u64,
        ran: &Recipe,
        built_on: &[RecordId],
    ) -> Option<OutcomePacket> {
        let mut rng = stream(seed, Purpose::Evaluate, self.index, round);
        let eval = EVAL_SIZES[rng.random_range(0..EVAL_SIZES.len())];
        let sd = World::noise_sd(eval);
        let observed = world.true_gain(&self.context, ran) + sd * crate::random::normal(&mut rng);
        let outcome = (self.baseline + observed).clamp(0.0, 1.0);
        let delta = outcome - self.baseline;
        let se = sd / std::f64::consts::SQRT_2;
        let confidence = confidence_from_stderr(delta, se, se).unwrap_or(0.0);
        self.packet(ran, outcome, eval, confidence, built_on, round)
    }

    /// A liar's packets in round `round` (see [`LiarMode`]); `previous` are the liars'
    /// packets of the round before, which colluders build on.
    pub fn lying_packets(
        &self,
        seed: u64,
        round: u64,
        mode: LiarMode,
        previous: &[(RecordId, Recipe)],
    ) -> Vec<OutcomePacket> {
        let mut rng = stream(seed, Purpose::Lie, self.index, round);
        let (gain, confidence, eval) = LIAR_CLAIM;
        let outcome = (self.baseline + gain).min(1.0);
        match mode {
            LiarMode::Inflate => {
                let recipe = poison(&mut rng);
                self.packet(&recipe, outcome, eval, confidence, &[], round)
                    .into_iter()
                    .collect()
            }
            LiarMode::Collude => {
                // Vouch for other liars: run "their" recipe, claim what they claimed.
                let picks: Vec<&(RecordId, Recipe)> = if previous.is_empty() {
                    Vec::new()
                } else {
                    (0..MAX_BUILT_ON)
                        .map(|_| &previous[rng.random_range(0..previous.len())])
                        .collect()
                };
                let recipe = picks
                    .first()
                    .map_or_else(|| poison(&mut rng), |p| p.1.clone());
                let mut built_on: Vec<RecordId> = picks.iter().map(|p| p.0).collect();
                built_on.sort();
                built_on.dedup();
                self.packet(&recipe, outcome, eval, confidence, &built_on, round)
                    .into_iter()
                    .collect()
            }
            LiarMode::Whitewash => {
                let fresh = self.with_key(seed, round, 0);
                let recipe = poison(&mut rng);
                fresh
                    .packet(&recipe, outcome, eval, confidence, &[], round)
                    .into_iter()
                    .collect()
            }
            LiarMode::Sybil => {
                // SYBIL_KEYS fresh keys, the same lie, each building on the others' packets.
                let recipe = poison(&mut rng);
                let first: Vec<OutcomePacket> = (0..SYBIL_KEYS)
                    .filter_map(|k| {
                        self.with_key(seed, round, k).packet(
                            &recipe,
                            outcome,
                            eval,
                            confidence,
                            &[],
                            round,
                        )
                    })
                    .collect();
                let ids: Vec<RecordId> = first.iter().map(|p| p.id()).take(MAX_BUILT_ON).collect();
                let mut all = first;
                all.extend((0..SYBIL_KEYS).filter_map(|k| {
                    self.with_key(seed, round, SYBIL_KEYS + k)
                        .packet(&recipe, outcome, eval, confidence, &ids, round)
                }));
                all
            }
        }
    }

    /// This publisher's reproduction in round `round`, if it makes one (with probability
    /// `share`): one of the [`REPRODUCE_CANDIDATES`] packets with the largest claimed gains
    /// among those `found` for its context (its own excepted), re-run in the packet's context
    /// with the packet's recipe and an evaluation of its own. Also the entry its own ledger
    /// gains: the re-run checks the claim at full weight.
    pub fn reproduction(
        &self,
        world: &World,
        seed: u64,
        round: u64,
        found: &[Found],
        share: f64,
    ) -> Option<(Reproduction, OwnOutcome)> {
        let mut rng = stream(seed, Purpose::Reproduce, self.index, round);
        if !rng.random_bool(share.clamp(0.0, 1.0)) {
            return None;
        }
        let me = qis_core::PublicKey(self.key.verifying_key().to_bytes());
        let mut candidates: Vec<&Found> = found.iter().filter(|f| f.publisher != me).collect();
        // Surprising claims are the ones worth checking: largest claimed gain first.
        candidates.sort_by(|a, b| {
            b.body
                .normalized_gain()
                .total_cmp(&a.body.normalized_gain())
                .then_with(|| a.id.cmp(&b.id))
        });
        candidates.truncate(REPRODUCE_CANDIDATES);
        if candidates.is_empty() {
            return None;
        }
        let x = candidates[rng.random_range(0..candidates.len())];
        let context = Context::of_body(&x.body)?;
        let recipe = Recipe::from_stated(&x.body.method, |key| {
            x.body.hyperparam(key).and_then(|v| v.as_f64())
        });
        let eval = EVAL_SIZES[rng.random_range(0..EVAL_SIZES.len())];
        let observed = world.true_gain(&context, &recipe)
            + World::noise_sd(eval) * crate::random::normal(&mut rng);
        let baseline = f64::from(x.body.baseline);
        let outcome = (baseline + observed).clamp(0.0, 1.0);
        let body =
            ReproductionBody::of_body(x.id, &x.body, x.body.baseline, outcome as f32, eval, true);
        let created = created_at(round);
        let report = Reproduction::sign_body(body, &self.key, created).ok()?;
        let own = OwnOutcome {
            checked: vec![Claim {
                id: x.id,
                publisher: x.publisher,
                gain: x.body.normalized_gain(),
                eval_samples: x.body.eval_samples,
                weight: 1.0,
                level: None,
            }],
            realised: report.body.normalized_gain(),
            eval_samples: eval,
            created,
        };
        Some((report, own))
    }

    /// The reproductions liars of `mode` publish in round `round` to vouch for lies: a
    /// colluder "reproduces" one of the previous round's lies, a Sybil's second-half keys
    /// "reproduce" the first half's packets (`lies` are this liar's packets of the round); each
    /// reports the claimed gain.
    pub fn lying_reproductions(
        &self,
        seed: u64,
        round: u64,
        mode: LiarMode,
        lies: &[OutcomePacket],
        previous: &[OutcomePacket],
    ) -> Vec<Reproduction> {
        let mut rng = stream(seed, Purpose::Reproduce, self.index ^ (1 << 51), round);
        let vouch = |key: &SigningKey, x: &OutcomePacket| {
            let body =
                ReproductionBody::of_packet(x, x.body.baseline, x.body.outcome, LIAR_CLAIM.2, true);
            Reproduction::sign_body(body, key, created_at(round)).ok()
        };
        match mode {
            LiarMode::Collude if !previous.is_empty() => {
                let x = &previous[rng.random_range(0..previous.len())];
                vouch(&self.key, x).into_iter().collect()
            }
            LiarMode::Sybil => {
                let half = lies.len() / 2;
                (0..half)
                    .filter_map(|k| {
                        let key = self.with_key(seed, round, SYBIL_KEYS + k as u64).key;
                        vouch(&key, &lies[k])
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// This publisher under a fresh key (number `k` of round `round`).
    fn with_key(&self, seed: u64, round: u64, k: u64) -> Publisher {
        let mut rng = stream(seed, Purpose::Lie, self.index ^ (1 << 50), round * 1000 + k);
        let secret: [u8; 32] = rng.random();
        Publisher {
            key: SigningKey::from_bytes(&secret),
            ..self.clone()
        }
    }

    fn packet(
        &self,
        recipe: &Recipe,
        outcome: f64,
        eval_samples: u32,
        confidence: f64,
        built_on: &[RecordId],
        round: u64,
    ) -> Option<OutcomePacket> {
        let c = &self.context;
        let draft = Draft {
            family: Some(FAMILIES[c.family].into()),
            task: Some(TASKS[c.task].into()),
            tags: c.tags().iter().map(|t| t.to_string()).collect(),
            data_scale: Some(DataScale::Thousands),
            benchmark: Some(format!("{}_eval", TASKS[c.task])),
            metric: Some("acc".into()),
            filter: None,
            shots: Some(0),
            score_scale: Some(ScoreScale::Unit),
            higher_is_better: Some(true),
            baseline: Some(self.baseline),
            outcome: Some(outcome),
            delta: None,
            method: Some(recipe.method()),
            hyperparams: recipe.hyperparams(),
            held_out: Some(true),
            eval_samples: Some(u64::from(eval_samples)),
            confidence: Some(confidence.clamp(0.0, 1.0)),
            built_on: built_on
                .iter()
                .take(qis_outcomes::limits::MAX_BUILT_ON)
                .copied()
                .collect(),
        };
        let body = draft.build().ok()?;
        let created = created_at(round);
        OutcomePacket::sign(body, &self.key, created).ok()
    }
}

/// The creation time of round `round`'s packets: rounds an hour apart from a fixed epoch, so
/// the same seed signs the same bytes.
pub fn created_at(round: u64) -> u64 {
    1_800_000_000 + round * 3600
}

/// A recipe that looks plausible and works badly.
fn poison(rng: &mut Rng) -> Recipe {
    let off = if rng.random_bool(0.5) { 1.0 } else { -1.0 } * rng.random_range(1.0..1.5);
    Recipe {
        tuning: rng.random_range(0..crate::recipe::TUNINGS.len()),
        learning_rate: 2e-4 * 10f64.powf(off),
        rank: if rng.random_bool(0.5) { 4 } else { 128 },
        epochs: if rng.random_bool(0.5) { 1 } else { 5 },
    }
}
