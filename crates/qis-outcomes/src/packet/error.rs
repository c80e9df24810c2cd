//! Why a packet was refused. Every variant names the field concerned, so the CLI can explain a
//! refusal in one line and a node can count refusals by cause.

use qis_core::RecordError;

/// A packet refusal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    /// A required field has no value.
    #[error("{field}: missing")]
    Missing {
        /// The field.
        field: String,
    },
    /// A number is NaN or infinite.
    #[error("{field}: must be a finite number, got {value}")]
    NotFinite {
        /// The field.
        field: String,
        /// The value as text.
        value: String,
    },
    /// The stated delta is not `outcome - baseline`.
    #[error("delta: stated {stated} but outcome - baseline = {computed}")]
    DeltaMismatch {
        /// The delta as stated.
        stated: f64,
        /// `outcome - baseline`.
        computed: f64,
    },
    /// A number lies outside its allowed range.
    #[error("{field}: {value} is outside {range}")]
    OutOfRange {
        /// The field.
        field: String,
        /// The value as text.
        value: String,
        /// The allowed range, in words.
        range: String,
    },
    /// A text field or list is empty where it must not be.
    #[error("{field}: must not be empty")]
    Empty {
        /// The field.
        field: String,
    },
    /// A text field is too long.
    #[error("{field}: {len} bytes, the limit is {max}")]
    TooLong {
        /// The field.
        field: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list has too many entries.
    #[error("{field}: {count} entries, the limit is {max}")]
    TooMany {
        /// The field.
        field: String,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A text field holds a character canonical names may not contain.
    #[error(
        "{field}: character {ch:?} is not allowed (use lower-case letters, digits, '-', '.', '+')"
    )]
    BadChar {
        /// The field.
        field: String,
        /// The offending character.
        ch: char,
    },
    /// A field is not in canonical form (only possible for packets built outside this module).
    #[error("{field}: {found:?} is not canonical, expected {expected:?}")]
    NotCanonical {
        /// The field.
        field: String,
        /// What the packet holds.
        found: String,
        /// The canonical form.
        expected: String,
    },
    /// A hyperparameter value has the wrong type for its key.
    #[error("hyperparameters.{key}: expected {expected}, got {found}")]
    HyperparamType {
        /// The key's name.
        key: String,
        /// The expected type.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// The metric is one where lower scores are better, but the packet says higher is better
    /// (its gain would be read with the wrong sign).
    #[error(
        "higher_is_better: {metric} is better when lower; set higher_is_better = false (or --lower-is-better)"
    )]
    Direction {
        /// The metric.
        metric: String,
    },
    /// The encoded packet exceeds the record limit.
    #[error("packet is {size} bytes encoded, the limit is {limit}; largest fields: {}", largest_fields(.largest))]
    TooLarge {
        /// Encoded record size, signature included.
        size: usize,
        /// The limit.
        limit: usize,
        /// The fields taking the most room, largest first, with their encoded sizes.
        largest: Vec<(String, usize)>,
    },
    /// The record is not of kind `Outcome`.
    #[error("record kind is {0}, not an outcome packet")]
    NotOutcome(String),
    /// The payload is an outcome packet of another format version than this build reads (a
    /// newer qis wrote it, or a pre-release one).
    #[error(
        "payload does not decode as an outcome packet: format version {found}, this qis reads version {supported}"
    )]
    Version {
        /// The version byte the payload starts with.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The payload does not decode as an outcome body.
    #[error("payload does not decode as an outcome packet: {0}")]
    Decode(String),
    /// The record layer refused (signature, key, size).
    #[error(transparent)]
    Record(#[from] RecordError),
}

fn largest_fields(largest: &[(String, usize)]) -> String {
    let parts: Vec<String> = largest
        .iter()
        .map(|(field, bytes)| format!("{field} {bytes} B"))
        .collect();
    parts.join(", ")
}

impl PacketError {
    /// The field the error concerns, if it concerns one (for metrics and the CLI).
    pub fn field(&self) -> Option<&str> {
        match self {
            PacketError::Missing { field }
            | PacketError::NotFinite { field, .. }
            | PacketError::OutOfRange { field, .. }
            | PacketError::Empty { field }
            | PacketError::TooLong { field, .. }
            | PacketError::TooMany { field, .. }
            | PacketError::BadChar { field, .. }
            | PacketError::NotCanonical { field, .. } => Some(field),
            PacketError::DeltaMismatch { .. } => Some("delta"),
            PacketError::HyperparamType { .. } => Some("hyperparameters"),
            PacketError::Direction { .. } => Some("higher_is_better"),
            _ => None,
        }
    }
}
