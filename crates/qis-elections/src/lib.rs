//! The elections simulator: does the network's advice get better than no network, and does it
//! stay better when some publishers lie?
//!
//! N publishers, each with one fine-tuning context of a model [`world`], play R rounds. Each
//! round every honest publisher asks its [`strategy`] for a recipe (the *regret* of that advice
//! is the best achievable gain in its context minus the advice's true gain), runs its own
//! variation of it ([`Recipe::explore`]), observes the gain with evaluation noise and deposits
//! a real signed outcome packet, `built_on` the packets the advice rested on. A share of them
//! ([`REPRODUCE_SHARE`], 20% by default, drawn anew each round) also reproduces one packet:
//! one of the [eight](publisher::REPRODUCE_CANDIDATES) largest claims it found, re-run with
//! that packet's recipe in that packet's context, reported as a real signed reproduction under
//! the packet's keys and kept in its own ledger. Reproductions go to qis's network only (no
//! other strategy reads them). Liars deposit a large, confident claim for a bad recipe every
//! round ([`publisher::LIAR_CLAIM`]); colluding liars also "reproduce" each other's lies, and
//! Sybil keys each other's packets, reporting the claimed gain.
//!
//! Every strategy has its own [`network`] (the same publishers, the same exploration and the
//! same evaluation noise, from streams keyed by publisher and round), so the strategies differ
//! only in their advice. The packet, key, store and synthesis code is the real one; retrieval
//! is modelled as key → values (see [`network`]).

pub mod network;
pub mod publisher;
pub(crate) mod random;
pub mod recipe;
pub mod report;
pub mod run;
pub mod squat;
pub mod strategy;
pub mod world;

pub use publisher::{LiarMode, REPRODUCE_SHARE};
pub use recipe::Recipe;
pub use run::{Config, Report, Round, run};
pub use squat::Squat;
pub use strategy::Strategy;
pub use world::World;
