//! [`OutcomePolicy`]: what a node checks before it stores a record.

use super::body::OutcomeBody;
use super::keys::legacy_packet_keys;
use super::reproduction::{Reproduction, ReproductionBody};
use super::signed::OutcomePacket;
use crate::synth::standing::reproduction_agrees;
use qis_core::{Id, RecordId};
use qis_core::{RecordError, RecordKind, RecordPolicy, SignedRecord};

/// The store policy of a qis node. For a [`RecordKind::Outcome`] record it verifies the
/// signature, decodes the body (no trailing bytes), validates it (including canonical form), and
/// checks that the key it is stored under is one of the packet's own semantic keys (of the
/// current key scheme or the previous one), so nobody can plant a packet under an unrelated
/// context. A [`RecordKind::Reproduction`] gets the same checks against the context of the
/// packet it names (its keys are that packet's current-scheme keys).
///
/// Holders rank a key's packets by the reproductions they hold on them
/// ([`RecordPolicy::subject_of`], [`RecordPolicy::supports`]): a report confirms its packet
/// when it was measured as the packet was and its realised gain agrees with the claim (the
/// verdict synthesis uses, [`reproduction_agrees`]).
///
/// [`RecordKind::Raw`] records (`qis put`) are refused unless `allow_raw` is set: a production
/// node stores outcome packets only, which keeps its storage for what the network is for;
/// test and development networks turn raw records on ([`OutcomePolicy::allowing_raw`]), and
/// then only their signature is checked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutcomePolicy {
    /// Whether raw records are accepted (signature checked only).
    pub allow_raw: bool,
}

impl OutcomePolicy {
    /// Outcome packets only (the default).
    pub fn strict() -> OutcomePolicy {
        OutcomePolicy { allow_raw: false }
    }

    /// Outcome packets, plus raw records with a valid signature.
    pub fn allowing_raw() -> OutcomePolicy {
        OutcomePolicy { allow_raw: true }
    }
}

impl RecordPolicy for OutcomePolicy {
    fn check(&self, key: &Id, record: &SignedRecord) -> Result<(), RecordError> {
        match record.kind {
            RecordKind::Raw if self.allow_raw => record.verify_signature(),
            RecordKind::Raw => Err(RecordError::Refused(
                "raw records are not accepted by this node".into(),
            )),
            RecordKind::Outcome => {
                // Checked first and separately so a forged packet reports as a bad signature.
                record.verify_signature()?;
                let packet = OutcomePacket::open_verified(record.clone())
                    .map_err(|e| RecordError::Refused(e.to_string()))?;
                // Either scheme's keys: packets published under the previous one are still
                // re-replicated and republished until they expire.
                let legacy = || legacy_packet_keys(&packet.body);
                if packet.keys().iter().any(|k| k.id == *key)
                    || legacy().iter().any(|k| k.id == *key)
                {
                    Ok(())
                } else {
                    Err(RecordError::Refused(
                        "key is not one of the packet's semantic keys".into(),
                    ))
                }
            }
            RecordKind::Reproduction => {
                record.verify_signature()?;
                let report = Reproduction::open_verified(record.clone())
                    .map_err(|e| RecordError::Refused(e.to_string()))?;
                if report.keys().iter().any(|k| k.id == *key) {
                    Ok(())
                } else {
                    Err(RecordError::Refused(
                        "key is not one of the reproduced packet's semantic keys".into(),
                    ))
                }
            }
        }
    }

    fn subject_of(&self, record: &SignedRecord) -> Option<RecordId> {
        (record.kind == RecordKind::Reproduction)
            .then(|| ReproductionBody::decode(&record.payload).ok())
            .flatten()
            .map(|body| body.of)
    }

    fn supports(&self, report: &SignedRecord, subject: &SignedRecord) -> Option<bool> {
        if report.kind != RecordKind::Reproduction || subject.kind != RecordKind::Outcome {
            return None;
        }
        let report = ReproductionBody::decode(&report.payload).ok()?;
        let claim = OutcomeBody::decode(&subject.payload).ok()?;
        reproduction_agrees(&report, &claim)
    }
}
