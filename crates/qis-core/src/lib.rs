//! The qis protocol core: a hand-rolled Kademlia as a sans-IO state machine.
//!
//! A [`Node`] never reads a clock, opens a socket or draws OS randomness: it is driven by
//! [`Node::handle_datagram`], [`Node::handle_timeout`] and commands, each given `now`, and
//! drained by [`Node::poll_transmit`], [`Node::poll_timeout`] and [`Node::poll_event`]. The UDP
//! driver (`qis-udp`) and the simulator (`qis-sim`) run this same code with the same codec.
//! Nothing in this crate's dependency tree can reach a clock, a socket or the file system;
//! `clippy.toml` forbids the std calls that would.

pub mod constants;
pub mod wire;

mod addr;
mod id;
mod identity;
mod lookup;
mod metrics;
mod node;
mod proof;
mod ratelimit;
mod reach;
mod record;
mod routing;
mod rtt;
mod secret;
mod store;
mod time;
mod token;
mod upload;
mod work;

pub use addr::{PeerAddr, Prefixes, SimAddr};
pub use id::{Distance, Id, hex};
pub use identity::Identity;
pub use lookup::{Hop, Lookup, LookupReport, LookupRequest};
pub use metrics::Metrics;
pub use node::{
    BootstrapReport, Config, Endpoint, Event, GetReport, MAINTENANCE_TICK, MAX_STORES_IN_FLIGHT,
    MAX_VERIFICATIONS, Node, OpId, OpResult, PingReply, PutReport, RestoreReport, Transmit,
};
pub use proof::{
    Challenge, Credentials, IdentityProof, IdentityScheme, ProofChecker, ProofError, proof_message,
};
pub use ratelimit::RateLimit;
pub use reach::{ReachReport, Verdict};
pub use record::{
    PublicKey, RecordError, RecordId, RecordKind, RecordPolicy, Signature, SignatureOnly,
    SignedRecord,
};
pub use routing::{Entry, RoutingTable, TableConfig};
pub use secret::NodeSecret;
pub use store::{HeldChange, HeldRecord, RecordStore, StoreLimits};
pub use time::{Duration, Time};
pub use token::TokenMinter;
pub use upload::{UploadBudget, UploadClass};
pub use work::{Difficulty, IdWork, WorkError, WorkHasher, WorkOutput};
