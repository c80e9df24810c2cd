//! Process- and namespace-level counters read the same way for both systems.

pub mod cpu;
pub mod mem;
pub mod net;
pub mod netns;
