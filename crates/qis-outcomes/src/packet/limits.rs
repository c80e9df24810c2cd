//! Bounds on every variable-length field of an outcome packet. They keep a packet well inside
//! [`MAX_RECORD`](qis_core::constants::MAX_RECORD) in the common case and bound the work a node does
//! per record; a packet that is within every bound can still exceed the size limit when many
//! fields are at their maximum together, and is then refused by
//! [`check_size`](crate::check_size).

/// Longest canonical model family, in bytes (`llama-3.1-70b` is 13).
pub const MAX_FAMILY_LEN: usize = 48;

/// Longest canonical task type, in bytes.
pub const MAX_TASK_LEN: usize = 48;

/// Longest canonical domain tag, in bytes.
pub const MAX_TAG_LEN: usize = 32;

/// Most domain tags per packet. Every tag yields one task-tag key, so this also caps the number
/// of keys a packet is stored under at `3 + MAX_TAGS`.
pub const MAX_TAGS: usize = 6;

/// Longest canonical benchmark name, in bytes (lm-evaluation-harness task names can be long).
pub const MAX_BENCHMARK_LEN: usize = 64;

/// Longest metric or filter name, in bytes (`acc_norm`, `flexible-extract`).
pub const MAX_METRIC_LEN: usize = 32;

/// Longest free-form name: a method or hyperparameter outside the well-known sets, or a text
/// hyperparameter value.
pub const MAX_NAME_LEN: usize = 32;

/// Most hyperparameters per packet.
pub const MAX_HYPERPARAMS: usize = 16;

/// Most packet ids a packet may credit as the evidence it built on.
pub const MAX_BUILT_ON: usize = 4;

/// Tolerance when checking a stated delta against `outcome - baseline`: scores travel as `f32`,
/// and on a percent scale an `f32` holds about 5 significant decimals.
pub const DELTA_TOLERANCE: f64 = 1e-3;
