//! Seeded random draws the simulator needs beyond uniform numbers: normal, log-normal and
//! Weibull variates, and independent streams derived from the run seed.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The simulator's random generator.
pub(crate) type SimRng = Xoshiro256PlusPlus;

/// An independent generator for one purpose (`stream`) of a run seeded with `seed`, so that
/// changing one model (say, loss) does not shift the draws of another (say, the workload).
pub(crate) fn stream(seed: u64, stream: u64) -> SimRng {
    SimRng::seed_from_u64(mix(seed, stream))
}

/// Mixes two numbers into a well-spread seed (splitmix64 finaliser).
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in (0, 1] that is a pure function of `seed`, `a` and `b` (a counter-based
/// generator). The engine draws each datagram's jitter and loss from its sender and number
/// this way, so a draw does not depend on which thread sent what first.
pub(crate) fn unit_of(seed: u64, a: u64, b: u64) -> f64 {
    let bits = mix(mix(seed, a), b) >> 11;
    // 53 random bits: (bits + 1) / 2^53 lies in (0, 1].
    (bits + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in (0, 1]: safe to take the logarithm of.
pub(crate) fn open_unit(rng: &mut SimRng) -> f64 {
    1.0 - rng.random::<f64>()
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut SimRng) -> f64 {
    let u = open_unit(rng);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A log-normal draw with the given median and shape `sigma` (of the underlying normal).
pub(crate) fn log_normal(rng: &mut SimRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A Weibull draw with the given median and shape. Shape below 1 gives the heavy tail measured
/// for peer-to-peer session lengths: many short sessions, a few very long ones.
pub(crate) fn weibull(rng: &mut SimRng, median: f64, shape: f64) -> f64 {
    let scale = median / std::f64::consts::LN_2.powf(1.0 / shape);
    scale * (-open_unit(rng).ln()).powf(1.0 / shape)
}

/// An exponential draw with the given mean.
pub(crate) fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * open_unit(rng).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn medians_match_their_parameters() {
        let mut rng = stream(7, 1);
        let w = median(
            (0..20_000)
                .map(|_| weibull(&mut rng, 3600.0, 0.5))
                .collect(),
        );
        assert!((w / 3600.0 - 1.0).abs() < 0.05, "weibull median {w}");
        let l = median(
            (0..20_000)
                .map(|_| log_normal(&mut rng, 50.0, 0.8))
                .collect(),
        );
        assert!((l / 50.0 - 1.0).abs() < 0.05, "log-normal median {l}");
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = stream(1, 1).random();
        let b: u64 = stream(1, 2).random();
        assert_ne!(a, b);
        assert_eq!(a, stream(1, 1).random::<u64>());
    }
}
