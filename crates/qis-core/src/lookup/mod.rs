//! Iterative lookups: the state of one FIND_NODE or FIND_VALUE walk toward a target, and the
//! paging of many values once holders are found. Pure state machines: the node sends what they
//! ask for and feeds back what comes in.

mod paging;
mod report;
mod walk;

pub use paging::{PageRequest, Pager};
pub use report::{Hop, LookupReport};
pub use walk::{Candidate, CandidateState, Lookup, Query};
