//! Weighted statistics with stated tie rules. Inputs with non-positive or non-finite weights
//! are ignored; results are `None` only when no weight remains.

/// How to split the difference when the weight divides exactly in half between two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Midpoint {
    /// The arithmetic mean of the two middle values.
    Arithmetic,
    /// The geometric mean (values compared in log space; both must be positive, else
    /// arithmetic).
    Geometric,
    /// The lower of the two (integer-valued parameters).
    Lower,
}

fn clean(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(v, w)| v.is_finite() && w.is_finite() && *w > 0.0)
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The weighted median of `(value, weight)` pairs: the smallest value whose cumulative weight
/// reaches half the total; on an exact half-way split, the `midpoint` of it and the next value.
pub(crate) fn weighted_median(points: &[(f64, f64)], midpoint: Midpoint) -> Option<f64> {
    let points = clean(points);
    let total: f64 = points.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let half = total / 2.0;
    let mut cumulative = 0.0;
    for (i, (value, weight)) in points.iter().enumerate() {
        cumulative += weight;
        if cumulative >= half {
            let next = points[i + 1..].iter().map(|(v, _)| *v).find(|v| v > value);
            return Some(match next {
                Some(next) if cumulative == half => match midpoint {
                    Midpoint::Arithmetic => (value + next) / 2.0,
                    Midpoint::Geometric if *value > 0.0 && next > 0.0 => (value * next).sqrt(),
                    Midpoint::Geometric => (value + next) / 2.0,
                    Midpoint::Lower => *value,
                },
                _ => *value,
            });
        }
    }
    points.last().map(|(v, _)| *v)
}

/// The weighted `q`-quantile (`q` in `[0, 1]`): the smallest value whose cumulative weight
/// reaches `q` of the total.
pub(crate) fn weighted_quantile(points: &[(f64, f64)], q: f64) -> Option<f64> {
    let points = clean(points);
    let total: f64 = points.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let target = q.clamp(0.0, 1.0) * total;
    let mut cumulative = 0.0;
    for (value, weight) in &points {
        cumulative += weight;
        if cumulative >= target {
            return Some(*value);
        }
    }
    points.last().map(|(v, _)| *v)
}

/// The weighted vote: the option with the most weight; ties go to the smallest option (by
/// `Ord`). Returns the winner and its share of the total weight.
pub(crate) fn weighted_vote<T: Ord + Clone>(votes: &[(T, f64)]) -> Option<(T, f64)> {
    let mut tally: std::collections::BTreeMap<T, f64> = std::collections::BTreeMap::new();
    for (option, weight) in votes {
        if weight.is_finite() && *weight > 0.0 {
            *tally.entry(option.clone()).or_insert(0.0) += weight;
        }
    }
    let total: f64 = tally.values().sum();
    // Iterating in ascending order and replacing only on strictly more weight keeps the
    // smallest option on a tie.
    let mut best: Option<(&T, f64)> = None;
    for (option, weight) in &tally {
        if best.is_none_or(|(_, w)| *weight > w) {
            best = Some((option, *weight));
        }
    }
    best.map(|(option, weight)| (option.clone(), weight / total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_picks_the_value_where_half_the_weight_is_reached() {
        assert_eq!(
            weighted_median(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)], Midpoint::Arithmetic),
            Some(2.0)
        );
        assert_eq!(
            weighted_median(&[(1.0, 5.0), (2.0, 1.0), (3.0, 1.0)], Midpoint::Arithmetic),
            Some(1.0)
        );
        assert_eq!(
            weighted_median(&[(3.0, 1.0), (1.0, 1.0), (2.0, 3.0)], Midpoint::Arithmetic),
            Some(2.0)
        );
        assert_eq!(weighted_median(&[], Midpoint::Arithmetic), None);
        assert_eq!(
            weighted_median(&[(1.0, 0.0), (f64::NAN, 1.0)], Midpoint::Arithmetic),
            None
        );
    }

    #[test]
    fn exact_half_splits_use_the_stated_midpoint() {
        let lr = [(1e-5, 1.0), (1e-3, 1.0)];
        assert!((weighted_median(&lr, Midpoint::Geometric).unwrap() - 1e-4).abs() < 1e-12);
        assert!((weighted_median(&lr, Midpoint::Arithmetic).unwrap() - 5.05e-4).abs() < 1e-12);
        assert_eq!(
            weighted_median(&[(8.0, 2.0), (16.0, 2.0)], Midpoint::Lower),
            Some(8.0)
        );
        // Equal values on both sides are not a split.
        assert_eq!(
            weighted_median(&[(8.0, 1.0), (8.0, 1.0)], Midpoint::Arithmetic),
            Some(8.0)
        );
    }

    #[test]
    fn quantiles_and_mean() {
        let points = [(0.01, 1.0), (0.05, 2.0), (0.10, 1.0)];
        assert_eq!(weighted_quantile(&points, 0.1), Some(0.01));
        assert_eq!(weighted_quantile(&points, 0.5), Some(0.05));
        assert_eq!(weighted_quantile(&points, 0.9), Some(0.10));
    }

    #[test]
    fn votes_break_ties_by_order() {
        assert_eq!(
            weighted_vote(&[("linear", 1.0), ("cosine", 1.0)]),
            Some(("cosine", 0.5))
        );
        assert_eq!(
            weighted_vote(&[("linear", 3.0), ("cosine", 1.0)]),
            Some(("linear", 0.75))
        );
        assert_eq!(
            weighted_vote(&[(true, 1.0), (false, 1.0)]),
            Some((false, 0.5))
        );
        assert_eq!(weighted_vote::<&str>(&[("x", 0.0)]), None);
    }
}
