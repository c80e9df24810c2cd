//! A node's (or publisher's) ed25519 key pair. The core proves and checks identities and the
//! simulator signs with them, so the type lives here; creating one from OS randomness and
//! keeping it on disk is the driver's job (`qis_udp::keyfile`).

use crate::id::Id;
use crate::record::PublicKey;
use ed25519_dalek::SigningKey;

/// A signing key and the public key and id that follow from it.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({:?})", self.id())
    }
}

impl Identity {
    /// The identity whose ed25519 secret key is `secret` (32 bytes). Deterministic: the driver
    /// passes bytes from OS randomness or a key file, tests and the simulator pass derived ones.
    pub fn from_secret_key(secret: [u8; 32]) -> Identity {
        Identity {
            signing: SigningKey::from_bytes(&secret),
        }
    }

    /// The 32-byte secret key, for writing a key file.
    pub fn secret_key(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The signing key (for signing records).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// The node id: blake3 of the public key.
    pub fn id(&self) -> Id {
        self.public_key().id()
    }
}
