//! How close two packets' recipes are: an outcome observed with one recipe says something
//! about a claim made for another only as far as the two recipes agree.
//!
//! Different tunings or objectives: 0. Otherwise the product, over the hyperparameters both
//! state, of `exp(−(d / s)²)` with `d` the difference in the key's natural unit and `s` its
//! scale: the learning rate in decades (`s` = 0.3, so ×2 off gives 0.37), integer sizes such as
//! rank, alpha and batch in doublings (`s` = 1), epochs in epochs (`s` = 1), any other number
//! relatively (`s` = 0.5), and text or flags 1 when equal, 0.5 when not. A key one side does
//! not state is not held against either.

use crate::packet::hyper::HyperKind;
use crate::packet::{HyperKey, HyperValue, OutcomeBody};

/// Scale of learning-rate differences, in decades.
pub const LEARNING_RATE_SCALE: f64 = 0.3;

/// Factor for a text or flag hyperparameter that differs.
pub const TEXT_MISMATCH: f64 = 0.5;

/// The proximity of `a`'s recipe to `b`'s, in `[0, 1]` (1: the same recipe).
pub fn recipe_proximity(a: &OutcomeBody, b: &OutcomeBody) -> f64 {
    if a.method != b.method {
        return 0.0;
    }
    a.hyperparams
        .iter()
        .filter_map(|(key, x)| b.hyperparam(key).map(|y| factor(key, x, y)))
        .product()
}

fn factor(key: &HyperKey, x: &HyperValue, y: &HyperValue) -> f64 {
    let (Some(p), Some(q)) = (x.as_f64(), y.as_f64()) else {
        return if x == y { 1.0 } else { TEXT_MISMATCH };
    };
    if matches!(x, HyperValue::Bool(_)) || matches!(y, HyperValue::Bool(_)) {
        return if x == y { 1.0 } else { TEXT_MISMATCH };
    }
    let d = if key.log_scale() {
        if p <= 0.0 || q <= 0.0 {
            return 0.0;
        }
        (p / q).log10().abs() / LEARNING_RATE_SCALE
    } else if *key == HyperKey::Epochs {
        (p - q).abs()
    } else if key.kind() == HyperKind::Integer {
        if p <= 0.0 || q <= 0.0 {
            return if p == q { 1.0 } else { 0.0 };
        }
        (p / q).log2().abs()
    } else {
        let reference = p.abs().max(q.abs()).max(f64::MIN_POSITIVE);
        (p - q).abs() / reference / 0.5
    };
    (-d * d).exp()
}
