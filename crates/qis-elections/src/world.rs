//! The model world: contexts, their hidden optima, and what a recipe really gains.
//!
//! A context is a model family, a task, a language and a domain (the packet's tags are the
//! language and the domain). Every context has a hidden best recipe and a hidden potential,
//! built from parts shared across contexts, so evidence from a related context is informative
//! but not exact:
//!
//! * **Learning rate**: `log10 lr* = -3.7 + f_family + f_task + f_language + f_domain`, the parts
//!   drawn once per world (standard deviations 0.15, 0.25, 0.1 and 0.1; 0.3 for a rare
//!   language), shifted by the tuning (full fine-tunes −0.8, QLoRA +0.1).
//! * **Rank** `2^(4 + r_task + [rare])`, `r_task` ∈ {−1, 0, 1, 2}; **epochs** `e_task + [rare]`,
//!   `e_task` ∈ {1, 2, 3}: rare languages want more capacity and more passes.
//! * **Potential**: the task's (0.04–0.14) × the family's (0.8–1.2) × 1.3 for a rare
//!   language, plus a **method effect** per tuning × task and tuning × domain (standard
//!   deviation 0.015 each; 0.03 for full fine-tunes), so a method that helps in one domain can
//!   hurt in another.
//!
//! A recipe's true gain is the potential plus its method effect minus its distance from the
//! optimum: `0.05·(Δlog10 lr)² + 0.004·(Δlog2 rank)² + 0.006·(Δepochs)²` (no rank term for full
//! fine-tunes). The best achievable gain is the potential plus the best method effect (the
//! optimum lies on the recipe grid). An evaluation of `n` items observes the gain plus normal
//! noise of standard deviation `√(2 · 0.25 / n)`: the binomial standard error of a difference of
//! two accuracies near 0.5, which is what lm-evaluation-harness reports (n = 1,000 gives 0.022).

use crate::random::{Purpose, Rng, normal, stream};
use crate::recipe::{Recipe, TUNINGS};
use qis_outcomes::Tuning;
use rand::RngExt;
use serde::Serialize;

/// Model families.
pub const FAMILIES: [&str; 6] = [
    "llama-3-8b",
    "llama-3-70b",
    "mistral-7b",
    "qwen2.5-7b",
    "gemma-2-9b",
    "phi-3-mini",
];

/// Tasks.
pub const TASKS: [&str; 8] = [
    "summarization",
    "medical-qa",
    "math-reasoning",
    "code-generation",
    "translation",
    "classification",
    "legal-qa",
    "chat",
];

/// Languages and their share of contexts, in percent. The last three are rare (each under
/// [`RARE_SHARE`] percent of the packets).
pub const LANGUAGES: [(&str, f64); 12] = [
    ("english", 40.0),
    ("chinese", 12.0),
    ("spanish", 10.0),
    ("french", 8.0),
    ("german", 7.0),
    ("japanese", 6.0),
    ("hindi", 5.0),
    ("portuguese", 4.5),
    ("arabic", 4.0),
    ("swahili", 1.5),
    ("yoruba", 1.2),
    ("icelandic", 0.8),
];

/// Domains and their share of contexts, in percent.
pub const DOMAINS: [(&str, f64); 6] = [
    ("news", 25.0),
    ("medicine", 20.0),
    ("finance", 15.0),
    ("legal", 15.0),
    ("science", 15.0),
    ("social", 10.0),
];

/// A language is rare below this share of contexts, in percent.
pub const RARE_SHARE: f64 = 2.0;

/// One fine-tuning context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Context {
    /// Index into [`FAMILIES`].
    pub family: usize,
    /// Index into [`TASKS`].
    pub task: usize,
    /// Index into [`LANGUAGES`].
    pub language: usize,
    /// Index into [`DOMAINS`].
    pub domain: usize,
}

/// How many distinct contexts the world has.
pub const CONTEXTS: usize = FAMILIES.len() * TASKS.len() * LANGUAGES.len() * DOMAINS.len();

impl Context {
    /// A number in `0..CONTEXTS`, distinct for every context.
    pub fn index(&self) -> usize {
        ((self.family * TASKS.len() + self.task) * LANGUAGES.len() + self.language) * DOMAINS.len()
            + self.domain
    }

    /// The context a packet body of this world states (`None` for a body from outside it).
    pub fn of_body(body: &qis_outcomes::OutcomeBody) -> Option<Context> {
        let find = |names: &[&str], name: &str| names.iter().position(|n| *n == name);
        let languages: Vec<&str> = LANGUAGES.iter().map(|(n, _)| *n).collect();
        let domains: Vec<&str> = DOMAINS.iter().map(|(n, _)| *n).collect();
        let language = body.tags.iter().find_map(|t| find(&languages, t))?;
        let domain = body.tags.iter().find_map(|t| find(&domains, t))?;
        Some(Context {
            family: find(&FAMILIES, &body.family)?,
            task: find(&TASKS, &body.task)?,
            language,
            domain,
        })
    }

    /// Whether the language is rare.
    pub fn is_rare(&self) -> bool {
        LANGUAGES[self.language].1 < RARE_SHARE
    }

    /// The packet's tags: language and domain.
    pub fn tags(&self) -> [&'static str; 2] {
        [LANGUAGES[self.language].0, DOMAINS[self.domain].0]
    }
}

/// The hidden structure of one world.
#[derive(Clone, Debug)]
pub struct World {
    family_lr: Vec<f64>,
    task_lr: Vec<f64>,
    language_lr: Vec<f64>,
    domain_lr: Vec<f64>,
    task_rank: Vec<i32>,
    task_epochs: Vec<i32>,
    task_potential: Vec<f64>,
    family_potential: Vec<f64>,
    /// Method effect by tuning, then task.
    tuning_task: Vec<Vec<f64>>,
    /// Method effect by tuning, then domain.
    tuning_domain: Vec<Vec<f64>>,
}

fn draws(rng: &mut Rng, n: usize, sd: f64) -> Vec<f64> {
    (0..n).map(|_| sd * normal(rng)).collect()
}

impl World {
    /// The world of `seed`.
    pub fn new(seed: u64) -> World {
        let mut rng = stream(seed, Purpose::World, 0, 0);
        let language_lr = LANGUAGES
            .iter()
            .map(|(_, share)| {
                let sd = if *share < RARE_SHARE { 0.3 } else { 0.1 };
                sd * normal(&mut rng)
            })
            .collect();
        let effect_sd = |t: &Tuning| if *t == Tuning::Full { 0.03 } else { 0.015 };
        World {
            family_lr: draws(&mut rng, FAMILIES.len(), 0.15),
            task_lr: draws(&mut rng, TASKS.len(), 0.25),
            language_lr,
            domain_lr: draws(&mut rng, DOMAINS.len(), 0.1),
            task_rank: (0..TASKS.len()).map(|_| rng.random_range(-1..=2)).collect(),
            task_epochs: (0..TASKS.len()).map(|_| rng.random_range(1..=3)).collect(),
            task_potential: (0..TASKS.len())
                .map(|_| rng.random_range(0.04..0.14))
                .collect(),
            family_potential: (0..FAMILIES.len())
                .map(|_| rng.random_range(0.8..1.2))
                .collect(),
            tuning_task: TUNINGS
                .iter()
                .map(|t| draws(&mut rng, TASKS.len(), effect_sd(t)))
                .collect(),
            tuning_domain: TUNINGS
                .iter()
                .map(|t| draws(&mut rng, DOMAINS.len(), effect_sd(t)))
                .collect(),
        }
    }

    /// The best learning rate for `tuning` in `c`, as log10.
    fn best_log_lr(&self, c: &Context, tuning: usize) -> f64 {
        let shift = match TUNINGS[tuning] {
            Tuning::Full => -0.8,
            Tuning::Qlora => 0.1,
            _ => 0.0,
        };
        -3.7 + self.family_lr[c.family]
            + self.task_lr[c.task]
            + self.language_lr[c.language]
            + self.domain_lr[c.domain]
            + shift
    }

    fn best_log_rank(&self, c: &Context) -> f64 {
        f64::from(4 + self.task_rank[c.task] + i32::from(c.is_rare()))
    }

    fn best_epochs(&self, c: &Context) -> f64 {
        f64::from(self.task_epochs[c.task] + i32::from(c.is_rare()))
    }

    fn potential(&self, c: &Context) -> f64 {
        let rare = if c.is_rare() { 1.3 } else { 1.0 };
        self.task_potential[c.task] * self.family_potential[c.family] * rare
    }

    fn method_effect(&self, c: &Context, tuning: usize) -> f64 {
        self.tuning_task[tuning][c.task] + self.tuning_domain[tuning][c.domain]
    }

    /// What `recipe` truly gains in `c` (before evaluation noise).
    pub fn true_gain(&self, c: &Context, recipe: &Recipe) -> f64 {
        let lr = recipe.learning_rate.max(1e-12).log10() - self.best_log_lr(c, recipe.tuning);
        let epochs = f64::from(recipe.epochs) - self.best_epochs(c);
        let rank = if TUNINGS[recipe.tuning] == Tuning::Full {
            0.0
        } else {
            f64::from(recipe.rank.max(1)).log2() - self.best_log_rank(c)
        };
        self.potential(c) + self.method_effect(c, recipe.tuning)
            - 0.05 * lr * lr
            - 0.004 * rank * rank
            - 0.006 * epochs * epochs
    }

    /// The best gain any recipe achieves in `c`.
    pub fn best_gain(&self, c: &Context) -> f64 {
        let best_effect = (0..TUNINGS.len())
            .map(|t| self.method_effect(c, t))
            .fold(f64::NEG_INFINITY, f64::max);
        self.potential(c) + best_effect
    }

    /// The best recipe in `c`: its true gain is [`best_gain`](Self::best_gain).
    pub fn best_recipe(&self, c: &Context) -> Recipe {
        let tuning = (0..TUNINGS.len())
            .max_by(|a, b| {
                self.method_effect(c, *a)
                    .total_cmp(&self.method_effect(c, *b))
            })
            .unwrap_or(0);
        Recipe {
            tuning,
            learning_rate: 10f64.powf(self.best_log_lr(c, tuning)),
            rank: 2f64.powf(self.best_log_rank(c)) as u32,
            epochs: self.best_epochs(c) as u32,
        }
    }

    /// The standard deviation of an observed gain measured on `n` items.
    pub fn noise_sd(n: u32) -> f64 {
        (2.0 * 0.25 / f64::from(n.max(1))).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_recipe_achieves_the_best_gain_and_the_default_less() {
        let world = World::new(7);
        for family in 0..FAMILIES.len() {
            for language in [0, LANGUAGES.len() - 1] {
                let c = Context {
                    family,
                    task: family % TASKS.len(),
                    language,
                    domain: family % DOMAINS.len(),
                };
                let best = world.best_gain(&c);
                assert!((world.true_gain(&c, &world.best_recipe(&c)) - best).abs() < 1e-9);
                assert!(world.true_gain(&c, &Recipe::default_recipe()) <= best);
            }
        }
    }
}
