//! Iterative lookups: the state of one FIND_NODE or FIND_VALUE lookup toward a target, and the
//! paging of many values once holders are found. Pure state machines: the node sends what they
//! ask for and feeds back what comes in.

mod iterative;
mod paging;
mod report;

pub use iterative::{Lookup, LookupRequest};
pub(crate) use paging::Pager;
pub use report::{Hop, LookupReport};
