//! One layout for every versioned payload (packet bodies, reproduction reports): a format
//! byte, then the postcard encoding of the fields, read back only in canonical form.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a versioned payload did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionedError {
    /// It starts with another format byte.
    Version(u8),
    /// Its fields do not decode, or not canonically.
    Decode(String),
}

/// `version`, then the postcard encoding of `value`.
pub(crate) fn encode_versioned<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let fields = postcard::to_stdvec(value)
        .expect("a body of plain data encodes into a Vec: there is no failure to report");
    let mut payload = Vec::with_capacity(1 + fields.len());
    payload.push(version);
    payload.extend_from_slice(&fields);
    payload
}

/// Decodes a payload written by [`encode_versioned`] with `version`; `what` names the value in
/// errors. Another version, undecodable fields, trailing bytes and a non-canonical encoding
/// are refused: postcard reads a varint padded with extra zero groups (129, 0 for 1) as the
/// same number, so one value could have many encodings and as many record ids.
pub(crate) fn decode_versioned<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    version: u8,
    what: &str,
) -> Result<T, VersionedError> {
    let (&found, fields) = bytes
        .split_first()
        .ok_or_else(|| VersionedError::Decode("empty payload".into()))?;
    if found != version {
        return Err(VersionedError::Version(found));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(fields)
        .map_err(|e| VersionedError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(VersionedError::Decode(format!(
            "{} trailing bytes after the {what}",
            rest.len()
        )));
    }
    if encode_versioned(version, &value)[1..] != *fields {
        return Err(VersionedError::Decode(
            "not the canonical encoding of its fields (padded varints)".into(),
        ));
    }
    Ok(value)
}
