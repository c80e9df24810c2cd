//! The qis application: the `qis` command's subcommands ([`cli`]) and outcome packets over a
//! running node ([`exchange`]); the measurements of `qis probe` ([`probe`]). The layers below are their own crates: `qis-core` (the
//! sans-IO protocol), `qis-udp` (the UDP driver, key files, published records on disk),
//! `qis-sim` (the simulator) and `qis-outcomes` (packets, keys, run import, synthesis).

pub mod cli;
pub mod exchange;
pub mod probe;
