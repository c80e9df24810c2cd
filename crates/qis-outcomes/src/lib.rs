//! Outcome packets and what qis does with them: a signed fine-tuning result of at most 512
//! bytes ([`packet`]), its semantic keys, its import from the files a training run left on
//! disk, and the local synthesis of a recommendation from similar runs ([`synth`]). No I/O
//! beyond reading the run folder and packet files it is pointed at.

pub mod packet;
pub mod synth;

pub use packet::OutcomePacket;
