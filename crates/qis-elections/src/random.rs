//! Deterministic random streams. Every draw that must be the same across the compared
//! strategies (a publisher's exploration in round r, its evaluation noise) comes from a stream
//! derived from (seed, purpose, publisher, round), so the strategies differ only in what they
//! recommend.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator every stream uses.
pub(crate) type Rng = Xoshiro256PlusPlus;

/// What a stream is for: streams of different purposes never share draws.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    /// The hidden structure of the world.
    World = 1,
    /// Who the publishers are: context, role, key.
    Publishers = 2,
    /// A publisher's departure from the recommendation in one round.
    Explore = 3,
    /// The evaluation noise of one run.
    Evaluate = 4,
    /// A liar's claim in one round.
    Lie = 5,
    /// Whether a publisher reproduces a packet in one round, which one, and its evaluation.
    Reproduce = 6,
}

/// The stream for `purpose`, publisher `who` and round `round`.
pub(crate) fn stream(seed: u64, purpose: Purpose, who: u64, round: u64) -> Rng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
    bytes[16..24].copy_from_slice(&who.to_le_bytes());
    bytes[24..].copy_from_slice(&round.to_le_bytes());
    Rng::from_seed(*blake3::hash(&bytes).as_bytes())
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut Rng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// An index drawn with probability proportional to `weights`.
pub(crate) fn weighted_index(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut pick = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if pick < *w {
            return i;
        }
        pick -= w;
    }
    weights.len() - 1
}
