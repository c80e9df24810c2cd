//! Confidence from standard errors.
//!
//! With standard errors `se_b` (baseline) and `se_o` (outcome), the delta's standard error is
//! taken as `se = √(se_b² + se_o²)` and its z-score as `z = |delta| / se`. The confidence is the
//! two-sided normal coverage `erf(z / √2)`: the probability that a difference this large is not
//! sampling noise. z = 1 gives 0.68, z = 1.96 gives 0.95, z = 3 gives 0.997, no difference gives
//! 0.
//!
//! Treating the two runs as independent is conservative: both models are usually scored on the
//! same items, and a paired test (which needs per-item results) would give a smaller `se`.
//! Where a metric is a proportion on the unit scale and no standard error is reported (the
//! Trainer's `eval_accuracy`), the binomial `√(p(1-p)/n)` is used for each score.

/// `erf(x)` (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7).
pub(crate) fn erf(x: f64) -> f64 {
    if x == 0.0 {
        // Exact, so that "no difference" gives a confidence of exactly 0.
        return 0.0;
    }
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

/// The confidence for `delta` given the two standard errors; `None` when they give no
/// information (zero, negative or non-finite).
pub fn from_stderr(delta: f64, se_baseline: f64, se_outcome: f64) -> Option<f64> {
    let se = (se_baseline * se_baseline + se_outcome * se_outcome).sqrt();
    if !(se.is_finite() && se > 0.0 && delta.is_finite()) {
        return None;
    }
    let z = delta.abs() / se;
    Some(erf(z / std::f64::consts::SQRT_2).clamp(0.0, 1.0))
}

/// The binomial standard error of a proportion `p` measured on `n` items.
pub fn binomial_stderr(p: f64, n: u64) -> Option<f64> {
    ((0.0..=1.0).contains(&p) && n > 0).then(|| (p * (1.0 - p) / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        assert!(erf(0.0).abs() < 1e-7);
        assert!((erf(1.0) - 0.842_700_79).abs() < 2e-7);
        assert!((erf(-1.0) + 0.842_700_79).abs() < 2e-7);
        assert!((erf(1.96 / std::f64::consts::SQRT_2) - 0.95).abs() < 1e-4);
    }

    #[test]
    fn confidence_grows_with_the_z_score() {
        assert_eq!(from_stderr(0.0, 0.01, 0.01), Some(0.0));
        let one_sigma = from_stderr(0.01, 0.01, 0.0).unwrap();
        assert!((one_sigma - 0.6827).abs() < 1e-3);
        // The medqa fixture: 0.5161 → 0.5931 with stderrs 0.01401 and 0.01377 (z ≈ 3.92).
        let medqa = from_stderr(0.5931 - 0.5161, 0.01401, 0.01377).unwrap();
        assert!((medqa - 0.99991).abs() < 2e-5, "{medqa}");
        assert_eq!(from_stderr(0.1, 0.0, 0.0), None);
        assert_eq!(from_stderr(0.1, f64::NAN, 0.0), None);
        assert_eq!(binomial_stderr(0.5, 100), Some(0.05));
        assert_eq!(binomial_stderr(1.5, 100), None);
    }
}
