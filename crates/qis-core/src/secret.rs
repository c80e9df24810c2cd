//! Where a node's secrets come from. The core draws no OS randomness: the driver hands it a
//! [`NodeSecret`] of 32 bytes (OS entropy on UDP; derived from the run seed only in the
//! simulator) and the node derives everything from it with blake3's key derivation, one
//! independent key per purpose:
//!
//! * address-token secrets and the rate limiter's salt: a [`SecretStream`] whose outputs never
//!   leave the node;
//! * transaction ids: a second [`SecretStream`], so ids on the wire are unpredictable and say
//!   nothing about the token secrets;
//! * everything else random about its behaviour (bucket-refresh targets, the maintenance phase):
//!   a fast deterministic generator seeded from a third derived key.
//!
//! Knowing the node's public key, its transaction ids or its refresh targets gives no
//! information about its token secrets.

use std::fmt;

/// 32 bytes of secret entropy that a node derives its secrets from. There is no `Default`:
/// whoever starts a node must supply real entropy (or, in a simulation, derive it on purpose).
#[derive(Clone)]
pub struct NodeSecret([u8; 32]);

impl NodeSecret {
    /// A secret from 32 bytes of entropy: from the OS on a real network, derived from the run
    /// seed in a simulation or a test.
    pub fn from_bytes(bytes: [u8; 32]) -> NodeSecret {
        NodeSecret(bytes)
    }

    /// The key for one purpose, independent of the keys for every other purpose.
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(purpose, &self.0)
    }
}

impl fmt::Debug for NodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeSecret(..)")
    }
}

/// Purpose string of the token-secret and rate-limit-salt stream.
pub(crate) const SECRETS_PURPOSE: &str =
    "qis 2026-12 node secrets: address tokens, rate-limit salt";
/// Purpose string of the transaction-id stream.
pub(crate) const TXIDS_PURPOSE: &str = "qis 2026-12 node transaction ids";
/// Purpose string of the seed of the behaviour generator.
pub(crate) const BEHAVIOUR_PURPOSE: &str = "qis 2026-12 node behaviour generator seed";

/// A cryptographic generator: blake3 keyed with a derived key, over a counter (a PRF in counter
/// mode). Outputs are unpredictable without the key, and drawing one reveals nothing about
/// another.
pub(crate) struct SecretStream {
    key: [u8; 32],
    drawn: u64,
}

impl SecretStream {
    /// The stream for `purpose` under `secret`.
    pub(crate) fn new(secret: &NodeSecret, purpose: &str) -> SecretStream {
        SecretStream {
            key: secret.derive(purpose),
            drawn: 0,
        }
    }

    /// The next 32 secret bytes.
    pub(crate) fn next_bytes(&mut self) -> [u8; 32] {
        self.drawn += 1;
        *blake3::keyed_hash(&self.key, &self.drawn.to_le_bytes()).as_bytes()
    }

    /// The next 32 secret bits.
    pub(crate) fn next_u32(&mut self) -> u32 {
        let bytes = self.next_bytes();
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

impl fmt::Debug for SecretStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretStream(drawn {})", self.drawn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_and_secrets_give_independent_streams() {
        let secret = NodeSecret::from_bytes([7; 32]);
        let mut tokens = SecretStream::new(&secret, SECRETS_PURPOSE);
        let mut txids = SecretStream::new(&secret, TXIDS_PURPOSE);
        assert_ne!(tokens.next_bytes(), txids.next_bytes());
        let mut other = SecretStream::new(&NodeSecret::from_bytes([8; 32]), SECRETS_PURPOSE);
        let mut again = SecretStream::new(&secret, SECRETS_PURPOSE);
        let first = again.next_bytes();
        assert_ne!(first, other.next_bytes());
        assert_ne!(first, again.next_bytes(), "a stream never repeats a draw");
        assert_eq!(format!("{secret:?}"), "NodeSecret(..)", "never printed");
    }
}
