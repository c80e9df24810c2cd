//! Key squatting: `keys` publisher keys from `prefixes` address prefixes fill the task-level key
//! of the most popular task with valid packets every round, as many as the store lets each
//! keep. The question is what is left of the honest packets filed under that key.

use crate::publisher::Publisher;
use crate::recipe::Recipe;
use crate::world::{Context, DOMAINS, FAMILIES, LANGUAGES, World};
use qis_core::Id;
use qis_core::constants::MAX_VALUES_PER_PUBLISHER_PER_KEY;
use qis_outcomes::{KeyLevel, OutcomePacket};
use serde::Serialize;

/// The task whose key is squatted (index into [`TASKS`](crate::world::TASKS)).
pub const TARGET_TASK: usize = 0;

/// First index of squatter publishers (far from any honest index).
const FIRST_SQUATTER: u64 = 1 << 40;

/// A squatting attack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Squat {
    /// Publisher keys.
    pub keys: u64,
    /// Address prefixes they store from.
    pub prefixes: u64,
}

/// The squatters of one run.
pub(crate) struct Squatters {
    publishers: Vec<Publisher>,
}

impl Squatters {
    /// The squatters of `squat` in the world of `seed`.
    pub(crate) fn new(seed: u64, squat: Squat) -> Squatters {
        let prefixes = squat.prefixes.max(1);
        let publishers = (0..squat.keys)
            .map(|i| {
                let mut p = Publisher::new(seed, FIRST_SQUATTER + i, 0.0);
                p.context.task = TARGET_TASK;
                // Distinct from every honest prefix (those are index << 8).
                p.prefix = (u128::from(FIRST_SQUATTER + i % prefixes)) << 8;
                p
            })
            .collect();
        Squatters { publishers }
    }

    /// Every squatter's quota of valid packets for round `round`, each in a different context
    /// of the target task, with the prefix it stores from.
    pub(crate) fn packets(
        &self,
        world: &World,
        seed: u64,
        round: u64,
    ) -> Vec<(OutcomePacket, u128)> {
        let mut out = Vec::new();
        for p in &self.publishers {
            for slot in 0..MAX_VALUES_PER_PUBLISHER_PER_KEY as u64 {
                let mut squatter = p.clone();
                squatter.context = Context {
                    task: TARGET_TASK,
                    family: (slot as usize + p.context.family) % FAMILIES.len(),
                    language: (slot as usize + p.context.language) % LANGUAGES.len(),
                    domain: (slot as usize) % DOMAINS.len(),
                };
                let ran = Recipe::default_recipe();
                let round_slot = round * 1000 + slot;
                if let Some(packet) = squatter.honest_packet(world, seed, round_slot, &ran, &[]) {
                    out.push((packet, p.prefix));
                }
            }
        }
        out
    }
}

/// The squatted key's id.
pub(crate) fn target_key(packet: &OutcomePacket) -> Option<Id> {
    if packet.body.task != crate::world::TASKS[TARGET_TASK] {
        return None;
    }
    packet
        .keys()
        .into_iter()
        .find(|k| k.level == KeyLevel::Task)
        .map(|k| k.id)
}
