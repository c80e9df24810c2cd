//! Costly ids: a static, memory-hard puzzle whose solution *is* the id.
//!
//! A node's id comes out of its work: `W = Argon2id(password = public key, salt = "qis/id/v1"
//! ‖ nonce)`, and the pair (key, nonce) is valid when `W` starts with at least `difficulty` zero
//! bits; the id is then `blake3(W)`. So an id cannot be chosen first and paid for after (a
//! nonce solved for a chosen id would cost an attacker only k solves): every candidate id costs
//! one Argon2id evaluation, valid or not, and which id a valid solution gives is out of the
//! solver's hands.
//!
//! Costs, with `E` the time of one evaluation and `d` the difficulty:
//! - one honest id: `2^d` evaluations on average (geometric, so the median is 0.69× that);
//! - checking a peer's id: one evaluation;
//! - taking the k closest positions to a chosen key in a network of `N` nodes: each valid id
//!   lands among them with probability about k/N, so k of them take about `N × 2^d`
//!   evaluations: the attacker pays N honest ids' worth of work, whatever its method.

use crate::constants::{ID_WORK_MEMORY_KIB, ID_WORK_PASSES, MAX_ID_DIFFICULTY};
use crate::id::Id;
use crate::record::PublicKey;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};

/// Domain separator in the salt, so this work can never be reused for anything else.
const SALT_PREFIX: &[u8] = b"qis/id/v1";

/// The nonce a node found for its key: with the key, it determines the id.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct IdWork(pub u64);

/// Leading zero bits a network requires of an id's work (0 to [`MAX_ID_DIFFICULTY`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(u8);

impl Difficulty {
    /// No work at all: any nonce is valid (test networks that start many nodes).
    pub const NONE: Difficulty = Difficulty(0);

    /// The difficulty of `bits` leading zero bits, if at most [`MAX_ID_DIFFICULTY`].
    pub fn new(bits: u8) -> Result<Difficulty, WorkError> {
        if bits > MAX_ID_DIFFICULTY {
            return Err(WorkError::DifficultyTooHigh(bits));
        }
        Ok(Difficulty(bits))
    }

    /// The number of leading zero bits required.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Evaluations one honest id takes on average: `2^bits`.
    pub fn expected_evaluations(self) -> u64 {
        1u64 << self.0
    }
}

/// Why a key's work does not give a valid id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    /// The work has fewer leading zero bits than the network requires.
    #[error("the id work has {found} leading zero bits, the network requires {required}")]
    TooEasy {
        /// Leading zero bits of the work.
        found: u32,
        /// Bits required.
        required: u8,
    },
    /// A difficulty above [`MAX_ID_DIFFICULTY`] was asked for.
    #[error("id difficulty {0} is above the most a network may set ({MAX_ID_DIFFICULTY})")]
    DifficultyTooHigh(u8),
}

/// One Argon2id evaluation's output for a (key, nonce) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkOutput([u8; 32]);

impl WorkOutput {
    /// Leading zero bits: the work's strength.
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for byte in self.0 {
            zeros += byte.leading_zeros();
            if byte != 0 {
                break;
            }
        }
        zeros
    }

    /// True if the work meets `difficulty`.
    pub fn meets(&self, difficulty: Difficulty) -> bool {
        self.leading_zeros() >= u32::from(difficulty.0)
    }

    /// The id this work gives: `blake3(W)`, uniform whatever the leading zeros.
    pub fn id(&self) -> Id {
        Id::hash(&self.0)
    }
}

/// Evaluates id work, keeping its 1 MiB of memory between evaluations (a solver runs thousands
/// of them; a checker may keep one per node).
pub struct WorkHasher {
    argon: Argon2<'static>,
    memory: Vec<Block>,
}

impl std::fmt::Debug for WorkHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkHasher({} KiB)", self.memory.len())
    }
}

impl Default for WorkHasher {
    fn default() -> WorkHasher {
        WorkHasher::new()
    }
}

impl WorkHasher {
    /// A hasher with the protocol's parameters ([`ID_WORK_MEMORY_KIB`], [`ID_WORK_PASSES`]).
    pub fn new() -> WorkHasher {
        let params = Params::new(ID_WORK_MEMORY_KIB, ID_WORK_PASSES, 1, Some(32))
            .expect("the protocol's Argon2 parameters are within Argon2's bounds");
        WorkHasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            memory: vec![Block::default(); ID_WORK_MEMORY_KIB as usize],
        }
    }

    /// The work of `key` with `nonce`.
    pub fn evaluate(&mut self, key: &PublicKey, nonce: IdWork) -> WorkOutput {
        let mut salt = [0u8; SALT_PREFIX.len() + 8];
        salt[..SALT_PREFIX.len()].copy_from_slice(SALT_PREFIX);
        salt[SALT_PREFIX.len()..].copy_from_slice(&nonce.0.to_le_bytes());
        let mut out = [0u8; 32];
        self.argon
            .hash_password_into_with_memory(&key.0, &salt, &mut out, &mut self.memory)
            .expect("a 32-byte key, a 17-byte salt and a 32-byte output are within bounds");
        WorkOutput(out)
    }

    /// The id of `key` with `nonce`, if the work meets `difficulty`.
    pub fn check(
        &mut self,
        key: &PublicKey,
        nonce: IdWork,
        difficulty: Difficulty,
    ) -> Result<Id, WorkError> {
        let output = self.evaluate(key, nonce);
        if !output.meets(difficulty) {
            return Err(WorkError::TooEasy {
                found: output.leading_zeros(),
                required: difficulty.0,
            });
        }
        Ok(output.id())
    }

    /// Tries `tries` nonces from `first` upward (a bounded slice of the search, so a driver can
    /// show progress, stop, or split the search over threads) and returns the first that meets
    /// `difficulty`, with its id.
    pub fn solve(
        &mut self,
        key: &PublicKey,
        difficulty: Difficulty,
        first: IdWork,
        tries: u64,
    ) -> Option<(IdWork, Id)> {
        (0..tries).find_map(|i| {
            let nonce = IdWork(first.0.wrapping_add(i));
            let output = self.evaluate(key, nonce);
            output.meets(difficulty).then(|| (nonce, output.id()))
        })
    }
}

thread_local! {
    /// One hasher per thread for checks: a node checks a new peer now and then, and a swarm
    /// of thousands of nodes in one process should hold one megabyte per thread, not per node,
    /// nor map and unmap a fresh megabyte per check.
    static CHECKER: std::cell::RefCell<Option<WorkHasher>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's shared hasher (created on first use).
pub(crate) fn with_thread_hasher<R>(f: impl FnOnce(&mut WorkHasher) -> R) -> R {
    CHECKER.with(|cell| f(cell.borrow_mut().get_or_insert_with(WorkHasher::new)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solution_meets_its_difficulty_and_gives_a_stable_id() {
        let key = PublicKey([3; 32]);
        let mut hasher = WorkHasher::new();
        let difficulty = Difficulty::new(4).unwrap();
        let (nonce, id) = hasher.solve(&key, difficulty, IdWork(0), 1_000).unwrap();
        assert_eq!(hasher.check(&key, nonce, difficulty), Ok(id));
        assert_ne!(
            id,
            key.id(),
            "the id comes out of the work, not the key alone"
        );
    }

    #[test]
    fn the_id_depends_on_key_and_nonce() {
        let mut hasher = WorkHasher::new();
        let a = hasher.evaluate(&PublicKey([1; 32]), IdWork(0)).id();
        let b = hasher.evaluate(&PublicKey([1; 32]), IdWork(1)).id();
        let c = hasher.evaluate(&PublicKey([2; 32]), IdWork(0)).id();
        assert!(a != b && a != c && b != c);
    }

    #[test]
    fn work_short_of_the_difficulty_is_refused() {
        let key = PublicKey([9; 32]);
        let mut hasher = WorkHasher::new();
        let easy = (0..100)
            .map(IdWork)
            .find(|n| hasher.evaluate(&key, *n).leading_zeros() < 8)
            .unwrap();
        let error = hasher
            .check(&key, easy, Difficulty::new(8).unwrap())
            .unwrap_err();
        assert!(matches!(error, WorkError::TooEasy { required: 8, .. }));
    }

    #[test]
    fn difficulty_is_bounded() {
        assert!(Difficulty::new(MAX_ID_DIFFICULTY).is_ok());
        assert_eq!(
            Difficulty::new(MAX_ID_DIFFICULTY + 1),
            Err(WorkError::DifficultyTooHigh(MAX_ID_DIFFICULTY + 1))
        );
    }
}
