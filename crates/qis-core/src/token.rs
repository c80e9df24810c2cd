//! Address tokens (BEP 5 practice): a truncated keyed blake3 MAC of the requester's address under
//! a secret that rotates every [`TOKEN_ROTATION`]; the current and the previous secret are
//! accepted. A token proves the requester receives datagrams at that address, so it guards
//! stores and lifts the amplification limit.

use crate::addr::PeerAddr;
use crate::constants::{TOKEN_BYTES, TOKEN_ROTATION};
use crate::time::Time;
use crate::wire::Token;

/// Mints and checks tokens.
#[derive(Debug, Clone)]
pub struct TokenMinter {
    current: [u8; 32],
    previous: [u8; 32],
    rotated_at: Time,
}

impl TokenMinter {
    /// A minter with two fresh secrets, rotated from `now`.
    pub fn new(current: [u8; 32], previous: [u8; 32], now: Time) -> TokenMinter {
        TokenMinter {
            current,
            previous,
            rotated_at: now,
        }
    }

    /// When the secret is next due to rotate.
    pub fn next_rotation(&self) -> Time {
        self.rotated_at + TOKEN_ROTATION
    }

    /// Replaces the secret if due; `fresh` supplies the new one.
    pub fn rotate_if_due(&mut self, now: Time, fresh: impl FnOnce() -> [u8; 32]) {
        if now >= self.next_rotation() {
            self.previous = self.current;
            self.current = fresh();
            self.rotated_at = now;
        }
    }

    /// The token for `addr` under the current secret.
    pub fn mint<A: PeerAddr>(&self, addr: &A) -> Token {
        mac(&self.current, addr)
    }

    /// True if `token` was minted for `addr` under the current or previous secret.
    pub fn check<A: PeerAddr>(&self, addr: &A, token: &Token) -> bool {
        // Not constant-time: a token is short-lived and only gates amplification and stores,
        // and an attacker who can time our answers already sees our datagrams.
        mac(&self.current, addr) == *token || mac(&self.previous, addr) == *token
    }
}

fn mac<A: PeerAddr>(secret: &[u8; 32], addr: &A) -> Token {
    // An empty fallback would give every address the same token: never use one.
    let mut buf = [0u8; 32];
    let encoded: &[u8] = postcard::to_slice(addr, &mut buf).expect(
        "a peer address encodes within 32 bytes (a SocketAddr takes at most 20, a SimAddr 5)",
    );
    let hash = blake3::keyed_hash(secret, encoded);
    let mut out = [0u8; TOKEN_BYTES];
    out.copy_from_slice(&hash.as_bytes()[..TOKEN_BYTES]);
    Token(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::SimAddr;

    #[test]
    fn tokens_survive_one_rotation_but_not_two() {
        let mut minter = TokenMinter::new([1; 32], [0; 32], Time::ZERO);
        let a = SimAddr(7);
        let token = minter.mint(&a);
        assert!(minter.check(&a, &token));
        assert!(!minter.check(&SimAddr(8), &token));
        minter.rotate_if_due(Time::ZERO + TOKEN_ROTATION, || [2; 32]);
        assert!(minter.check(&a, &token), "previous secret still accepted");
        minter.rotate_if_due(Time::ZERO + TOKEN_ROTATION * 2, || [3; 32]);
        assert!(
            !minter.check(&a, &token),
            "two rotations later it is refused"
        );
    }

    #[test]
    fn rotation_waits_until_due() {
        let mut minter = TokenMinter::new([1; 32], [0; 32], Time::ZERO);
        let token = minter.mint(&SimAddr(1));
        minter.rotate_if_due(Time::from_millis(1000), || [9; 32]);
        assert_eq!(minter.mint(&SimAddr(1)), token);
    }
}
