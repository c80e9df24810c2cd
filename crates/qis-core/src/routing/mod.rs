//! The routing table: k-buckets indexed by the length of the prefix a node id shares with ours.

mod bucket;
mod table;

pub use bucket::Entry;
pub(crate) use table::{Admission, Refusal};
pub use table::{RoutingTable, TableConfig};
