//! Publishers: who they are, and the packets they deposit, honest or not.

use crate::random::{Purpose, Rng, stream, weighted_index};
use crate::recipe::Recipe;
use crate::world::{Context, DOMAINS, FAMILIES, LANGUAGES, TASKS, World};
use ed25519_dalek::SigningKey;
use qis_core::RecordId;
use qis_outcomes::{DataScale, Draft, OutcomePacket, ScoreScale, confidence_from_stderr};
use rand::RngExt;

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

    /// A liar's packet in round `round`: [`LIAR_CLAIM`] for a recipe far from anything that
    /// works (a learning rate 10–30× off the default, extreme rank and epochs).
    pub fn lying_packet(&self, seed: u64, round: u64) -> Option<OutcomePacket> {
        let mut rng = stream(seed, Purpose::Lie, self.index, round);
        let (gain, confidence, eval) = LIAR_CLAIM;
        let recipe = poison(&mut rng);
        let outcome = (self.baseline + gain).min(1.0);
        self.packet(&recipe, outcome, eval, confidence, &[], round)
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
