//! An estimate of a live network's size from how densely node ids crowd around random targets.
//!
//! Node ids are uniform over the id space (hashes), so for a random target the XOR distances
//! of the N nodes to it, read as fractions u of the id space, are N independent uniforms on
//! [0, 1). The j-th smallest, u_(j), then has a Beta(j, N − j + 1) distribution: for N ≫ j,
//! N · u_(j) is close to a Gamma(j, 1) variable, whose median is about j − 1/3. So one lookup
//! that found the j closest nodes gives the median-unbiased estimate
//!
//! ```text
//! N̂ = (j − 1/3) / u_(j)
//! ```
//!
//! and the probe reports the median of N̂ over its lookups, with a 95% interval for that median
//! from the order statistics of the per-lookup estimates (distribution-free). One lookup's
//! estimate has a relative spread of about 1/√(j − 2) (24% at j = k = 20), so the median of L
//! lookups is within about ±1.25 · 24% / √L (±3% at L = 100, ±7% at 20) of the truth, before
//! the systematic errors:
//!
//! * a lookup that missed some of the true closest nodes (recall below 1) measures a larger
//!   u_(j), so the estimate is low by about the share missed;
//! * the address limits of a lookup's result (a few nodes per /24 and per host, loopback
//!   exempt) skip nodes of crowded blocks, with the same effect;
//! * a lookup that found fewer than k nodes ran out of candidates: it saw the whole network,
//!   so its estimate is the count it found.

use qis_core::Id;
use serde::{Deserialize, Serialize};

/// The offset that makes one lookup's estimate median-unbiased: the median of Gamma(j, 1) is
/// about j − 1/3.
const GAMMA_MEDIAN_OFFSET: f64 = 1.0 / 3.0;

/// The z-score of a two-sided 95% interval.
const Z_95: f64 = 1.96;

/// The size estimate of one lookup toward `target` that found `closest` (closest first, the
/// nodes that answered) with width `k`: `None` when it found nobody.
pub fn lookup_estimate(target: &Id, closest: &[Id], k: usize) -> Option<f64> {
    let j = closest.len();
    if j == 0 {
        return None;
    }
    if j < k {
        // Fewer than k answered: the lookup ran out of candidates, having seen everyone.
        return Some(j as f64);
    }
    let u = fraction(target, &closest[j - 1]);
    (u > 0.0).then(|| (j as f64 - GAMMA_MEDIAN_OFFSET) / u)
}

/// The XOR distance of `a` and `b` as a fraction of the id space, from its top 128 bits
/// (enough for any network of fewer than about 2^100 nodes).
fn fraction(a: &Id, b: &Id) -> f64 {
    let distance = a.distance(b);
    let mut top = [0u8; 16];
    top.copy_from_slice(&distance.as_bytes()[..16]);
    u128::from_be_bytes(top) as f64 / 2f64.powi(128)
}

/// The network size estimated from many lookups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SizeEstimate {
    /// The median of the lookups' estimates (0 when no lookup found anyone).
    pub nodes: f64,
    /// Lower end of the 95% interval of that median.
    pub low: f64,
    /// Upper end of the 95% interval of that median.
    pub high: f64,
    /// Lookups that gave an estimate.
    pub lookups_used: u64,
}

impl SizeEstimate {
    /// The median of `estimates` (sorted in place) and its 95% interval: the order statistics
    /// L/2 ± 1.96 · √L / 2, clamped to the sample.
    pub fn of(estimates: &mut [f64]) -> SizeEstimate {
        if estimates.is_empty() {
            return SizeEstimate::default();
        }
        estimates.sort_by(f64::total_cmp);
        let n = estimates.len();
        let at = |q: f64| estimates[((n - 1) as f64 * q).round() as usize];
        let half = Z_95 * (n as f64).sqrt() / 2.0 / n as f64;
        SizeEstimate {
            nodes: round1(at(0.5)),
            low: round1(at((0.5 - half).max(0.0))),
            high: round1(at((0.5 + half).min(1.0))),
            lookups_used: n as u64,
        }
    }
}

/// Rounds to one decimal: a node count is not known better than that.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids of a network of `n` nodes, made by hashing their numbers: uniform, like real ids.
    fn network(n: u32, salt: u32) -> Vec<Id> {
        (0..n)
            .map(|i| Id::hash(&[salt.to_le_bytes(), i.to_le_bytes()].concat()))
            .collect()
    }

    /// The estimate from `lookups` random targets, each seeing the true k closest.
    fn estimate(nodes: &[Id], lookups: u32, k: usize) -> SizeEstimate {
        let mut estimates: Vec<f64> = (0..lookups)
            .filter_map(|t| {
                let target = Id::hash(&t.to_be_bytes());
                let mut closest = nodes.to_vec();
                closest.sort_by(|a, b| a.cmp_distance(b, &target));
                closest.truncate(k);
                lookup_estimate(&target, &closest, k)
            })
            .collect();
        SizeEstimate::of(&mut estimates)
    }

    #[test]
    fn the_median_estimate_is_close_and_its_interval_holds_the_truth() {
        for (n, salt) in [(50, 1), (1000, 2), (5000, 3)] {
            let e = estimate(&network(n, salt), 200, 20);
            let error = (e.nodes - f64::from(n)).abs() / f64::from(n);
            assert!(error < 0.1, "N = {n}: {e:?}");
            assert!(e.low <= e.nodes && e.nodes <= e.high, "{e:?}");
            assert_eq!(e.lookups_used, 200);
        }
    }

    #[test]
    fn a_network_smaller_than_k_is_counted() {
        let nodes = network(7, 4);
        let e = estimate(&nodes, 10, 20);
        assert_eq!(e.nodes, 7.0);
        assert_eq!(lookup_estimate(&Id::hash(b"t"), &[], 20), None);
        assert_eq!(SizeEstimate::of(&mut []), SizeEstimate::default());
    }
}
