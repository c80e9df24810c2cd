//! Outcome packets: one validated fine-tuning result, distilled into a signed record of at most
//! [`MAX_RECORD`](qis_core::constants::MAX_RECORD) bytes.
//!
//! A packet is a [`SignedRecord`](qis_core::SignedRecord) of kind
//! [`RecordKind::Outcome`](qis_core::RecordKind::Outcome) whose payload is the postcard
//! encoding of an [`OutcomeBody`]. The record already carries the publisher's key, the creation
//! time and the signature, so the body does not repeat them; [`OutcomePacket`] is the view that
//! pairs a decoded body with its record. The packet id is the record's content id (blake3 of
//! kind, publisher and body, not of the creation time or signature), so publishing the same body
//! again gives the same packet.
//!
//! * [`body`]: the fields and their compact encodings ([`method`], [`hyper`], [`scale`]).
//! * [`canon`] and [`family`]: canonical text forms, so that equal contexts hash to equal keys;
//!   [`vocab`]: canonical task names, their synonyms and parents.
//! * [`validate`]: the rules a body must meet, each error naming its field.
//! * [`size`]: the encoded-size budget and which fields use it.
//! * [`keys`]: the semantic keys a packet is stored under and the similarity ranking.
//! * [`reproduction`]: reports of somebody's re-run of a packet, stored under its keys.
//! * [`policy`]: the [`RecordPolicy`](qis_core::RecordPolicy) a node applies before storing.
//! * [`draft`], [`template`], [`check`]: the human-editable packet file behind `qis packet new`
//!   and `qis packet check`.
//! * [`fromrun`]: drafting a packet from what a training run wrote to disk.

pub(crate) mod body;
pub(crate) mod canon;
pub(crate) mod check;
pub(crate) mod draft;
pub(crate) mod error;
pub(crate) mod family;
pub(crate) mod fromrun;
pub(crate) mod hyper;
pub(crate) mod keys;
pub mod limits;
pub(crate) mod method;
pub(crate) mod policy;
pub(crate) mod reproduction;
pub(crate) mod scale;
pub(crate) mod signed;
pub(crate) mod size;
pub(crate) mod template;
pub(crate) mod validate;
pub(crate) mod versioned;
pub(crate) mod vocab;

pub use body::{EvalSetting, NO_FILTER, OutcomeBody};
pub use error::PacketError;
pub use hyper::{HyperKey, HyperValue};
pub use keys::{KeyLevel, Query, SemanticKey};
pub use method::{Method, Objective, Tuning};
pub use policy::OutcomePolicy;
pub use reproduction::{
    REPRODUCTION_FORMAT_VERSION, Reproduction, ReproductionBody, ReproductionError,
};
pub use scale::{DataScale, ScoreScale};
pub use signed::OutcomePacket;
