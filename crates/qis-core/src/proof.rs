//! Proven identities. A requester that has not seen a node prove its id sends a random
//! [`Challenge`] with its request; the answer carries an [`IdentityProof`]: the node's public
//! key, its id work and a signature over the challenge, the network and the requester's id. An
//! answer to a challenged request without a valid proof is discarded, so every node a lookup
//! learns from, a routing table admits or a put counts as a holder has proven it holds the key
//! its id comes out of (see [`crate::work`]).
//!
//! Signing, verification and the id work sit behind one [`IdentityScheme`]: the UDP driver
//! uses [`IdentityScheme::Real`] (ed25519 and Argon2id); the simulator may use
//! [`IdentityScheme::Modelled`], with proofs of the same size that cost a hash, so 100,000
//! nodes can meet each other without hours of cryptography. The protocol logic is the same.

use crate::constants::CHALLENGE_BYTES;
use crate::id::Id;
use crate::identity::Identity;
use crate::record::{PublicKey, Signature};
use crate::wire::{Auth, Header, NetworkId};
use crate::work::{Difficulty, IdWork, WorkError, with_thread_hasher};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Domain separator of every identity proof's signed message.
const PROOF_CONTEXT: &[u8] = b"qis/identity-proof/v1";

/// Domain separator of the modelled scheme's stand-in signatures.
const MODELLED_CONTEXT: &str = "qis 2026 modelled identity signature";

/// Proven (key, work, id) triples a node remembers, so a peer met again costs one signature
/// check rather than an Argon2id evaluation too (a 16-byte digest each, about 25 bytes with
/// the set's own overhead: a node of a 300-node network keeps about 6 KiB of them).
const CHECKED_WORK_CACHE: usize = 4096;

/// A requester's random challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge(pub [u8; CHALLENGE_BYTES]);

/// A node's answer to a challenge: who it is and the proof that it holds that key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProof {
    /// The prover's public key.
    pub public_key: PublicKey,
    /// The prover's id work: with the key, it gives the id.
    pub work: IdWork,
    /// The signature over [`proof_message`].
    pub signature: Signature,
}

/// How identities are proven and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityScheme {
    /// ed25519 signatures and Argon2id id work of the given difficulty: real networks.
    Real {
        /// Leading zero bits the network requires of an id's work.
        difficulty: Difficulty,
    },
    /// The simulator's model: a node's id is `blake3(public key)` (drawn as if solved),
    /// signatures are keyed hashes of the same size that verify by construction. Never secure.
    Modelled,
}

/// Why an identity proof was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The public key is not a valid ed25519 point, or is a weak (small-order) one.
    #[error("the public key is not a valid ed25519 key")]
    BadKey,
    /// The id work does not meet the network's difficulty.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// The id the proof gives is not the one the node claimed.
    #[error("the proof is for another id than the one claimed")]
    WrongId,
    /// The signature does not verify.
    #[error("the proof's signature does not verify")]
    BadSignature,
}

/// What a node needs to prove its identity: its key, its work and the id they give.
#[derive(Clone)]
pub struct Credentials {
    public_key: PublicKey,
    work: IdWork,
    id: Id,
    scheme: IdentityScheme,
    signing: Option<SigningKey>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, {:?})", self.id, self.scheme)
    }
}

impl Credentials {
    /// Real credentials: `identity`'s key with `work`, checked against `difficulty` (one
    /// Argon2id evaluation). The driver finds `work` with [`crate::WorkHasher::solve`] once and
    /// keeps it beside the key.
    pub fn real(
        identity: &Identity,
        work: IdWork,
        difficulty: Difficulty,
    ) -> Result<Credentials, ProofError> {
        let public_key = identity.public_key();
        let id = with_thread_hasher(|hasher| hasher.check(&public_key, work, difficulty))?;
        Ok(Credentials {
            public_key,
            work,
            id,
            scheme: IdentityScheme::Real { difficulty },
            signing: Some(identity.signing_key().clone()),
        })
    }

    /// Credentials for a client (a node of role `Client`): it never answers, so it never
    /// proves anything and needs no id work; it checks the nodes it asks in `scheme`. Its id
    /// is `blake3(key)`, which no routing table holds.
    pub fn client(identity: &Identity, scheme: IdentityScheme) -> Credentials {
        Credentials {
            public_key: identity.public_key(),
            work: IdWork::default(),
            id: identity.id(),
            scheme,
            signing: Some(identity.signing_key().clone()),
        }
    }

    /// Modelled credentials (the simulator): any 32 bytes as the key, id `blake3(key)`.
    pub fn modelled(public_key: PublicKey) -> Credentials {
        Credentials {
            public_key,
            work: IdWork::default(),
            id: public_key.id(),
            scheme: IdentityScheme::Modelled,
            signing: None,
        }
    }

    /// The id these credentials prove.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The id work.
    pub fn work(&self) -> IdWork {
        self.work
    }

    /// The scheme these credentials prove in (and a node holding them checks others in).
    pub fn scheme(&self) -> IdentityScheme {
        self.scheme
    }

    /// The `auth` of an answer to a request whose header is `asked`: the proof over its
    /// challenge if it carries one (for drivers and tests that answer requests themselves).
    pub fn answer_auth(&self, asked: &Header) -> Auth {
        match &asked.auth {
            Auth::Challenge(challenge) => {
                Auth::Proof(self.prove(asked.network, challenge, &asked.sender))
            }
            Auth::None | Auth::Proof(_) => Auth::None,
        }
    }

    /// The proof answering `challenge` from `verifier` on `network`.
    pub fn prove(&self, network: NetworkId, challenge: &Challenge, verifier: &Id) -> IdentityProof {
        let message = proof_message(network, challenge, verifier);
        let signature = match &self.signing {
            Some(key) => Signature(key.sign(&message).to_bytes()),
            None => modelled_signature(&self.public_key, &message),
        };
        IdentityProof {
            public_key: self.public_key,
            work: self.work,
            signature,
        }
    }
}

/// The message an identity proof signs: the context, the network, the challenge and the
/// verifier's id, so a proof is good for one challenge of one verifier on one network only.
pub fn proof_message(network: NetworkId, challenge: &Challenge, verifier: &Id) -> Vec<u8> {
    let mut message = Vec::with_capacity(PROOF_CONTEXT.len() + 4 + CHALLENGE_BYTES + 32);
    message.extend_from_slice(PROOF_CONTEXT);
    message.extend_from_slice(&network.0.to_le_bytes());
    message.extend_from_slice(&challenge.0);
    message.extend_from_slice(verifier.as_bytes());
    message
}

fn modelled_signature(key: &PublicKey, message: &[u8]) -> Signature {
    let mut hasher = blake3::Hasher::new_derive_key(MODELLED_CONTEXT);
    hasher.update(&key.0);
    hasher.update(message);
    let mut out = [0u8; 64];
    hasher.finalize_xof().fill(&mut out);
    Signature(out)
}

/// A digest of a (key, work, id) triple whose work was checked and gave that id.
type ProvenDigest = [u8; 16];

/// Digest of a proven triple. 128 bits: skipping the work for an id not proven would take a
/// second preimage of a digest already held, not a collision.
fn proven_digest(key: &PublicKey, work: IdWork, id: &Id) -> ProvenDigest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"qis/proven-work/v1");
    hasher.update(&key.0);
    hasher.update(&work.0.to_le_bytes());
    hasher.update(id.as_bytes());
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    digest
}

/// Checks identity proofs for one node, remembering whose id work it has already checked.
#[derive(Debug)]
pub struct ProofChecker {
    scheme: IdentityScheme,
    /// Digests of triples proven before ([`proven_digest`]): 16 bytes each rather than a map
    /// from key to work and id (72 bytes each before the map's overhead, about 100 after,
    /// which was a third of a node's memory in a 300-node network).
    proven: BTreeSet<ProvenDigest>,
    /// Id work evaluated (one Argon2id evaluation each): the costly part of meeting a peer.
    work_evaluations: u64,
}

impl ProofChecker {
    /// A checker for `scheme`. It holds no Argon2 memory of its own (checks share one hasher
    /// per thread), and the modelled scheme keeps no cache.
    pub fn new(scheme: IdentityScheme) -> ProofChecker {
        ProofChecker {
            scheme,
            proven: BTreeSet::new(),
            work_evaluations: 0,
        }
    }

    /// The id `proof` proves for `challenge` from `verifier` on `network`, if it is valid and
    /// is `claimed`.
    pub fn check(
        &mut self,
        proof: &IdentityProof,
        claimed: &Id,
        network: NetworkId,
        challenge: &Challenge,
        verifier: &Id,
    ) -> Result<Id, ProofError> {
        let message = proof_message(network, challenge, verifier);
        match self.scheme {
            IdentityScheme::Modelled => {
                if proof.public_key.id() != *claimed {
                    return Err(ProofError::WrongId);
                }
                if modelled_signature(&proof.public_key, &message) != proof.signature {
                    return Err(ProofError::BadSignature);
                }
                Ok(*claimed)
            }
            IdentityScheme::Real { difficulty } => {
                let key = VerifyingKey::from_bytes(&proof.public_key.0)
                    .map_err(|_| ProofError::BadKey)?;
                if key.is_weak() {
                    return Err(ProofError::BadKey);
                }
                // Cheap checks first: the signature costs tens of microseconds, the work
                // hundreds, so a forged proof is refused before the work is evaluated.
                let signature = ed25519_dalek::Signature::from_bytes(&proof.signature.0);
                key.verify_strict(&message, &signature)
                    .map_err(|_| ProofError::BadSignature)?;
                self.work_id(&proof.public_key, proof.work, difficulty, claimed)
            }
        }
    }

    /// Id work evaluated so far (proofs of ids not in the proven set; cache hits are free).
    pub fn work_evaluations(&self) -> u64 {
        self.work_evaluations
    }

    /// `claimed` if `work` of `key` gives it at `difficulty`: from the proven set when seen
    /// before, else by evaluating the work (and remembering a success).
    fn work_id(
        &mut self,
        key: &PublicKey,
        work: IdWork,
        difficulty: Difficulty,
        claimed: &Id,
    ) -> Result<Id, ProofError> {
        let digest = proven_digest(key, work, claimed);
        if self.proven.contains(&digest) {
            return Ok(*claimed);
        }
        self.work_evaluations += 1;
        let id = with_thread_hasher(|hasher| hasher.check(key, work, difficulty))?;
        if id != *claimed {
            return Err(ProofError::WrongId);
        }
        if self.proven.len() >= CHECKED_WORK_CACHE {
            // Forget an arbitrary (the smallest) digest: any bounded rule will do, the set
            // only saves work.
            self.proven.pop_first();
        }
        self.proven.insert(digest);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::WorkHasher;

    fn real_credentials(seed: u8, difficulty: Difficulty) -> Credentials {
        let identity = Identity::from_secret_key([seed; 32]);
        let (work, _) = WorkHasher::new()
            .solve(&identity.public_key(), difficulty, IdWork(0), 10_000)
            .unwrap();
        Credentials::real(&identity, work, difficulty).unwrap()
    }

    const NET: NetworkId = NetworkId(7);

    #[test]
    fn a_real_proof_verifies_for_its_challenge_only() {
        let difficulty = Difficulty::new(2).unwrap();
        let prover = real_credentials(1, difficulty);
        let verifier = Id::hash(b"verifier");
        let challenge = Challenge([5; CHALLENGE_BYTES]);
        let proof = prover.prove(NET, &challenge, &verifier);
        let mut checker = ProofChecker::new(IdentityScheme::Real { difficulty });
        let claimed = prover.id();
        assert_eq!(
            checker.check(&proof, &claimed, NET, &challenge, &verifier),
            Ok(prover.id())
        );
        let other = Challenge([6; CHALLENGE_BYTES]);
        let err = |c: &mut ProofChecker, ch: &Challenge, v: &Id, n: NetworkId| {
            c.check(&proof, &claimed, n, ch, v).unwrap_err()
        };
        assert_eq!(
            err(&mut checker, &other, &verifier, NET),
            ProofError::BadSignature
        );
        let stranger = Id::hash(b"another verifier");
        assert_eq!(
            err(&mut checker, &challenge, &stranger, NET),
            ProofError::BadSignature
        );
        assert_eq!(
            err(&mut checker, &challenge, &verifier, NetworkId(8)),
            ProofError::BadSignature
        );
    }

    #[test]
    fn a_proof_for_another_id_or_an_invalid_key_is_refused() {
        let difficulty = Difficulty::NONE;
        let prover = real_credentials(2, difficulty);
        let verifier = Id::hash(b"v");
        let challenge = Challenge([1; CHALLENGE_BYTES]);
        let proof = prover.prove(NET, &challenge, &verifier);
        let mut checker = ProofChecker::new(IdentityScheme::Real { difficulty });
        let wrong = Id::hash(b"someone else");
        assert_eq!(
            checker.check(&proof, &wrong, NET, &challenge, &verifier),
            Err(ProofError::WrongId)
        );
        // Not a curve point: about half of all 32-byte strings fail to decompress.
        let bad = (0u8..=255)
            .map(|b| PublicKey([b; 32]))
            .find(|k| VerifyingKey::from_bytes(&k.0).is_err())
            .unwrap();
        let forged = IdentityProof {
            public_key: bad,
            ..proof
        };
        assert_eq!(
            checker.check(&forged, &bad.id(), NET, &challenge, &verifier),
            Err(ProofError::BadKey)
        );
    }

    #[test]
    fn a_proven_id_is_remembered_as_one_digest_and_a_wrong_claim_never_is() {
        let difficulty = Difficulty::NONE;
        let prover = real_credentials(4, difficulty);
        let verifier = Id::hash(b"v");
        let mut checker = ProofChecker::new(IdentityScheme::Real { difficulty });
        let wrong = Id::hash(b"someone else");
        let challenge = Challenge([3; CHALLENGE_BYTES]);
        let proof = prover.prove(NET, &challenge, &verifier);
        assert_eq!(
            checker.check(&proof, &wrong, NET, &challenge, &verifier),
            Err(ProofError::WrongId)
        );
        assert!(checker.proven.is_empty(), "a refused claim is not kept");
        for round in 0..3u8 {
            let challenge = Challenge([10 + round; CHALLENGE_BYTES]);
            let proof = prover.prove(NET, &challenge, &verifier);
            assert_eq!(
                checker.check(&proof, &prover.id(), NET, &challenge, &verifier),
                Ok(prover.id())
            );
        }
        assert_eq!(checker.proven.len(), 1, "one digest per proven identity");
        // The remembered work still answers only for the id it gave.
        assert_eq!(
            checker.check(&proof, &wrong, NET, &challenge, &verifier),
            Err(ProofError::WrongId)
        );
    }

    #[test]
    fn work_below_the_network_difficulty_is_refused() {
        let prover = real_credentials(3, Difficulty::NONE);
        let verifier = Id::hash(b"v");
        let challenge = Challenge([2; CHALLENGE_BYTES]);
        let proof = prover.prove(NET, &challenge, &verifier);
        // Find a difficulty this work does not meet.
        let output = WorkHasher::new().evaluate(&prover.public_key(), prover.work());
        let above = Difficulty::new(output.leading_zeros() as u8 + 1).unwrap();
        let mut checker = ProofChecker::new(IdentityScheme::Real { difficulty: above });
        assert!(matches!(
            checker.check(&proof, &prover.id(), NET, &challenge, &verifier),
            Err(ProofError::Work(WorkError::TooEasy { .. }))
        ));
    }

    #[test]
    fn modelled_proofs_verify_by_construction_and_bind_the_challenge() {
        let prover = Credentials::modelled(PublicKey([4; 32]));
        let verifier = Id::hash(b"v");
        let challenge = Challenge([3; CHALLENGE_BYTES]);
        let proof = prover.prove(NET, &challenge, &verifier);
        let mut checker = ProofChecker::new(IdentityScheme::Modelled);
        assert_eq!(
            checker.check(&proof, &prover.id(), NET, &challenge, &verifier),
            Ok(prover.id())
        );
        let other = Challenge([4; CHALLENGE_BYTES]);
        assert_eq!(
            checker.check(&proof, &prover.id(), NET, &other, &verifier),
            Err(ProofError::BadSignature)
        );
        let real = real_credentials(5, Difficulty::NONE).prove(NET, &challenge, &verifier);
        assert_eq!(
            real.signature.0.len(),
            proof.signature.0.len(),
            "same size on the wire"
        );
    }
}
