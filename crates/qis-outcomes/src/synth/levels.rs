//! Key levels earn their weight: each client learns, from its own outcomes, how far the
//! packets found at each key level ([`KeyLevel`]: exact, family + task, task + tag, task,
//! parent task) predicted what it then realised.
//!
//! # The model
//!
//! Every outcome in the client's [`Ledger`] checks the claims of the packets its
//! recommendation weighed ([`Claim`]), each recorded with the level it was found at. A claim
//! *agrees* when the realised gain is no more than the tolerance below it (the same test as
//! standing, [`standing::tolerance`]). Per level, `A` and `D` are the weights of the agreeing
//! and disagreeing claims (the claim's weight, recipe proximity × context similarity, halving
//! every [`HALF_LIFE_SECS`] of age like every observation), and the level's weight is
//!
//! `(LEVEL_PRIOR + A) / (LEVEL_PRIOR + A + D)`, never below [`MIN_LEVEL_WEIGHT`].
//!
//! The prior is [`LEVEL_PRIOR`] = 5 agreeing outcomes per level, so a client without outcomes
//! weighs every level at 1 (synthesis as before: similarity alone separates the levels), and it
//! takes about five full-weight outcomes that disagree to halve a level (ten to bring it to a
//! third). A level that keeps predicting well stays at 1: it can only lose weight to what the
//! client saw, never gain it over the prior, so no publisher can raise a level by lying well.
//! Claims recorded before levels were kept (no level) and the client's re-runs of one packet
//! (`qis reproduce`: a check of that packet, not of a level) teach nothing here.
//!
//! The weights are a pure function of the ledger (`<data home>/ledger.json`), so they are kept
//! with it and recomputed on every `recommend`, which reports them per level.

use super::evidence::Evidence;
use super::standing::{self, Claim, HALF_LIFE_SECS, Ledger};
use crate::packet::KeyLevel;
use std::collections::BTreeMap;

/// Agreeing outcomes every level starts with (the prior: every level weighs 1).
pub const LEVEL_PRIOR: f64 = 5.0;

/// The least weight a level falls to: a level that mispredicted still says something about
/// contexts nothing closer covers.
pub const MIN_LEVEL_WEIGHT: f64 = 0.1;

/// What a client's outcomes say of one level.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LevelRecord {
    /// Weight of the checked claims found at the level that agreed with the realised gain.
    pub agreeing: f64,
    /// Weight of those that did not.
    pub disagreeing: f64,
}

impl LevelRecord {
    /// The learned weight (module documentation).
    pub fn weight(&self) -> f64 {
        let weight =
            (LEVEL_PRIOR + self.agreeing) / (LEVEL_PRIOR + self.agreeing + self.disagreeing);
        weight.max(MIN_LEVEL_WEIGHT)
    }
}

/// The learned weight of every level a client has outcomes for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LevelWeights {
    /// Per level; a level absent has weight 1.
    pub levels: BTreeMap<KeyLevel, LevelRecord>,
}

impl LevelWeights {
    /// Learns the weights from `ledger` as of `now` (Unix seconds).
    pub fn learn(ledger: &Ledger, now: u64) -> LevelWeights {
        let mut levels: BTreeMap<KeyLevel, LevelRecord> = BTreeMap::new();
        for outcome in &ledger.outcomes {
            let age = now.saturating_sub(outcome.created) as f64;
            let decay = 0.5f64.powf(age / HALF_LIFE_SECS as f64);
            for claim in &outcome.checked {
                let Some(level) = claim.level else { continue };
                // A NaN weight (a hand-edited ledger) teaches nothing.
                let weight = claim.weight.clamp(0.0, 1.0) * decay;
                if weight.is_nan() || weight <= 0.0 {
                    continue;
                }
                let record = levels.entry(level).or_default();
                if agrees(claim, outcome.realised, outcome.eval_samples) {
                    record.agreeing += weight;
                } else {
                    record.disagreeing += weight;
                }
            }
        }
        LevelWeights { levels }
    }

    /// The weight of evidence found at `level` (1 when unknown or never checked).
    pub fn weight(&self, level: Option<KeyLevel>) -> f64 {
        level
            .and_then(|l| self.levels.get(&l))
            .map_or(1.0, LevelRecord::weight)
    }

    /// Sets every piece of evidence's level weight.
    pub fn apply(&self, evidence: &mut [Evidence]) {
        for e in evidence {
            e.level_weight = self.weight(e.level);
        }
    }
}

fn agrees(claim: &Claim, realised: f64, eval_samples: u32) -> bool {
    realised >= claim.gain - standing::tolerance(claim.eval_samples, eval_samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::standing::OwnOutcome;
    use qis_core::{PublicKey, RecordId};

    const NOW: u64 = 1_800_000_000;

    fn outcome(level: Option<KeyLevel>, claimed: f64, realised: f64) -> OwnOutcome {
        OwnOutcome {
            checked: vec![Claim {
                id: RecordId([1; 32]),
                publisher: PublicKey([2; 32]),
                gain: claimed,
                eval_samples: 1000,
                weight: 1.0,
                level,
            }],
            realised,
            eval_samples: 1000,
            created: NOW,
        }
    }

    fn learned(outcomes: Vec<OwnOutcome>) -> LevelWeights {
        let ledger = Ledger {
            outcomes,
            trusted: Vec::new(),
        };
        LevelWeights::learn(&ledger, NOW)
    }

    #[test]
    fn without_outcomes_every_level_weighs_one() {
        let weights = learned(Vec::new());
        for level in [KeyLevel::Exact, KeyLevel::Task, KeyLevel::ParentTask] {
            assert_eq!(weights.weight(Some(level)), 1.0);
        }
        assert_eq!(weights.weight(None), 1.0);
    }

    #[test]
    fn five_disagreeing_outcomes_halve_a_level_and_agreeing_ones_keep_it_at_one() {
        let mut outcomes: Vec<OwnOutcome> = (0..5)
            .map(|_| outcome(Some(KeyLevel::Task), 0.20, 0.0))
            .collect();
        outcomes.extend((0..5).map(|_| outcome(Some(KeyLevel::Exact), 0.05, 0.06)));
        let weights = learned(outcomes);
        assert!((weights.weight(Some(KeyLevel::Task)) - 0.5).abs() < 1e-12);
        assert_eq!(weights.weight(Some(KeyLevel::Exact)), 1.0);
        assert_eq!(
            weights.weight(Some(KeyLevel::TaskTag)),
            1.0,
            "never checked"
        );
    }

    #[test]
    fn a_level_never_falls_below_the_floor_and_unlevelled_claims_teach_nothing() {
        let mut outcomes: Vec<OwnOutcome> = (0..500)
            .map(|_| outcome(Some(KeyLevel::Task), 0.20, 0.0))
            .collect();
        outcomes.push(outcome(None, 0.20, 0.0));
        let weights = learned(outcomes);
        assert_eq!(weights.weight(Some(KeyLevel::Task)), MIN_LEVEL_WEIGHT);
        assert_eq!(weights.levels.len(), 1);
    }

    #[test]
    fn levels_are_written_as_their_key_string_labels() {
        for level in [
            KeyLevel::Exact,
            KeyLevel::FamilyTask,
            KeyLevel::TaskTag,
            KeyLevel::Task,
            KeyLevel::ParentTask,
        ] {
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.label()));
            assert_eq!(serde_json::from_str::<KeyLevel>(&json).unwrap(), level);
        }
    }

    #[test]
    fn old_outcomes_count_less() {
        let mut old = outcome(Some(KeyLevel::Task), 0.20, 0.0);
        old.created = NOW - HALF_LIFE_SECS;
        let weights = learned(vec![old]);
        let record = weights.levels[&KeyLevel::Task];
        assert!((record.disagreeing - 0.5).abs() < 1e-12);
    }
}
