//! A recipe: the fine-tuning configuration a publisher runs and a strategy recommends.

use crate::random::{Rng, normal};
use qis_outcomes::{HyperKey, HyperValue, Method, Objective, Recommendation, Tuning};
use rand::RngExt;
use serde::Serialize;

/// The tunings the world knows (all supervised).
pub const TUNINGS: [Tuning; 4] = [Tuning::Lora, Tuning::Qlora, Tuning::Dora, Tuning::Full];

/// Smallest and largest LoRA rank a publisher runs.
pub const RANKS: (u32, u32) = (4, 128);

/// Fewest and most epochs a publisher runs.
pub const EPOCHS: (u32, u32) = (1, 5);

/// A fine-tuning configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recipe {
    /// Index into [`TUNINGS`].
    pub tuning: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// LoRA rank (ignored by a full fine-tune).
    pub rank: u32,
    /// Epochs.
    pub epochs: u32,
}

impl Recipe {
    /// What a fine-tuner runs without any evidence: the common LoRA defaults.
    pub fn default_recipe() -> Recipe {
        Recipe {
            tuning: 0,
            learning_rate: 2e-4,
            rank: 16,
            epochs: 3,
        }
    }

    /// The method as a packet states it.
    pub fn method(&self) -> Method {
        Method {
            tuning: TUNINGS[self.tuning].clone(),
            objective: Objective::Sft,
        }
    }

    /// The hyperparameters as a packet states them (a full fine-tune has no rank).
    pub fn hyperparams(&self) -> Vec<(HyperKey, HyperValue)> {
        let mut params = vec![
            (
                HyperKey::LearningRate,
                HyperValue::Float(self.learning_rate as f32),
            ),
            (HyperKey::Epochs, HyperValue::Float(self.epochs as f32)),
        ];
        if TUNINGS[self.tuning] != Tuning::Full {
            params.push((HyperKey::LoraRank, HyperValue::Int(i64::from(self.rank))));
        }
        params
    }

    /// The recipe a packet states: its method and hyperparameters, the defaults where it
    /// states none (a method outside [`TUNINGS`] reads as the default's).
    pub fn from_stated(method: &Method, hyper: impl Fn(&HyperKey) -> Option<f64>) -> Recipe {
        let default = Recipe::default_recipe();
        let tuning = TUNINGS
            .iter()
            .position(|t| *t == method.tuning)
            .unwrap_or(default.tuning);
        let learning_rate = hyper(&HyperKey::LearningRate)
            .filter(|lr| lr.is_finite() && *lr > 0.0)
            .unwrap_or(default.learning_rate);
        let rank = hyper(&HyperKey::LoraRank).map_or(default.rank, |r| {
            (r.round().max(1.0) as u32).clamp(RANKS.0, RANKS.1)
        });
        let epochs = hyper(&HyperKey::Epochs).map_or(default.epochs, |e| {
            (e.round().max(1.0) as u32).clamp(EPOCHS.0, EPOCHS.1)
        });
        Recipe {
            tuning,
            learning_rate,
            rank,
            epochs,
        }
    }

    /// The recipe a recommendation describes.
    pub fn from_recommendation(rec: &Recommendation) -> Recipe {
        Recipe::from_stated(&rec.method, |key| {
            rec.hyperparams
                .iter()
                .find(|p| p.key == *key)
                .and_then(|p| p.value.as_f64())
        })
    }

    /// What a fine-tuner actually runs, starting from this recipe: practitioners try their
    /// own variations (another method one run in five, the learning rate within about ×1.8,
    /// rank and epochs one step either way a third of the time each), which is what lets
    /// evidence about other configurations exist at all.
    pub fn explore(&self, rng: &mut Rng) -> Recipe {
        let mut next = self.clone();
        if rng.random_bool(0.2) {
            next.tuning = rng.random_range(0..TUNINGS.len());
        }
        next.learning_rate *= 10f64.powf(0.25 * normal(rng));
        if rng.random_bool(0.33) {
            next.rank = if rng.random_bool(0.5) {
                next.rank.saturating_mul(2)
            } else {
                next.rank / 2
            }
            .clamp(RANKS.0, RANKS.1);
        }
        if rng.random_bool(0.33) {
            next.epochs = if rng.random_bool(0.5) {
                next.epochs + 1
            } else {
                next.epochs.saturating_sub(1)
            }
            .clamp(EPOCHS.0, EPOCHS.1);
        }
        next
    }
}
