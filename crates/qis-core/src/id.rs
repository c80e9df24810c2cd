//! Points in the 256-bit key space (node ids and keys) and XOR distances between them.

use crate::constants::{ID_BITS, ID_BYTES, ID_HINT_BYTES};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in the key space: a node id or a key. Node ids are `blake3(public key)`, so a node
/// cannot place itself freely; keys are blake3 hashes of what they name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Id([u8; ID_BYTES]);

/// The XOR distance between two [`Id`]s, ordered as a 256-bit big-endian integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Distance([u8; ID_BYTES]);

/// Compares two 256-bit values as big-endian integers, i.e. exactly as `[u8; 32]` compares
/// lexicographically, but as four 64-bit words: the derived order calls `memcmp`, which showed
/// up as the largest single cost of lookups and routing-table queries in the simulator.
#[inline]
fn cmp_be256(a: &[u8; ID_BYTES], b: &[u8; ID_BYTES]) -> std::cmp::Ordering {
    for i in 0..ID_BYTES / 8 {
        let wa = u64::from_be_bytes(a[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let wb = u64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        if wa != wb {
            return wa.cmp(&wb);
        }
    }
    std::cmp::Ordering::Equal
}

impl Ord for Id {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_be256(&self.0, &other.0)
    }
}

impl PartialOrd for Id {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Distance {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_be256(&self.0, &other.0)
    }
}

impl PartialOrd for Distance {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Id {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; ID_BYTES]) -> Id {
        Id(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// The blake3 hash of `data` as an id.
    pub fn hash(data: &[u8]) -> Id {
        Id(*blake3::hash(data).as_bytes())
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &Id) -> Distance {
        let mut d = [0u8; ID_BYTES];
        for (i, byte) in d.iter_mut().enumerate() {
            *byte = self.0[i] ^ other.0[i];
        }
        Distance(d)
    }

    /// Orders `self` against `other` by XOR distance to `target` (closer first), the same order
    /// as comparing the two [`Distance`]s, without building them: word by word, and almost
    /// always decided by the first 64 bits. A lookup's candidate search runs this per probe.
    #[inline]
    pub fn cmp_distance(&self, other: &Id, target: &Id) -> std::cmp::Ordering {
        for i in 0..ID_BYTES / 8 {
            let word =
                |id: &Id| u64::from_be_bytes(id.0[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let t = word(target);
            let (a, b) = (word(self) ^ t, word(other) ^ t);
            if a != b {
                return a.cmp(&b);
            }
        }
        std::cmp::Ordering::Equal
    }

    /// The id as an answer names it: its first [`ID_HINT_BYTES`] bytes, the rest zero (see
    /// [`Id::from_hint`]).
    pub fn hint(&self) -> [u8; ID_HINT_BYTES] {
        let mut hint = [0u8; ID_HINT_BYTES];
        hint.copy_from_slice(&self.0[..ID_HINT_BYTES]);
        hint
    }

    /// The id a contact of an answer names by its first [`ID_HINT_BYTES`] bytes: those bytes,
    /// then zeros. Ids are the output of id work (or a hash), so no two nodes share a 64-bit
    /// prefix in practice and a node cannot choose one; the node asked proves its whole id in
    /// its answer, which replaces the hint (see [`Id::names`]).
    pub fn from_hint(hint: [u8; ID_HINT_BYTES]) -> Id {
        let mut out = [0u8; ID_BYTES];
        out[..ID_HINT_BYTES].copy_from_slice(&hint);
        Id(out)
    }

    /// True if only the first [`ID_HINT_BYTES`] bytes of this id are known (the rest is zero,
    /// which no real id is: 192 zero bits).
    pub fn is_hint(&self) -> bool {
        self.0[ID_HINT_BYTES..].iter().all(|&b| b == 0)
    }

    /// True if `self` names `other`: they are equal, or `self` is a hint of `other`'s first
    /// [`ID_HINT_BYTES`] bytes.
    pub fn names(&self, other: &Id) -> bool {
        self == other || (self.is_hint() && self.0[..ID_HINT_BYTES] == other.0[..ID_HINT_BYTES])
    }

    /// Like [`Id::cmp_distance`] over the first [`ID_HINT_BYTES`] bytes only: a hint and the
    /// full id it names are equal in this order, so a lookup that knows a node by both keeps
    /// it once.
    #[inline]
    pub fn cmp_hint_distance(&self, other: &Id, target: &Id) -> std::cmp::Ordering {
        let word = |id: &Id| u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"));
        let t = word(target);
        (word(self) ^ t).cmp(&(word(other) ^ t))
    }

    /// Length of the common bit prefix with `other` (256 when equal).
    pub fn common_prefix_len(&self, other: &Id) -> usize {
        self.distance(other).leading_zeros()
    }

    /// Parses 64 hexadecimal characters.
    pub fn from_hex(s: &str) -> Option<Id> {
        let bytes = s.as_bytes();
        if bytes.len() != ID_BYTES * 2 {
            return None;
        }
        let mut out = [0u8; ID_BYTES];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Id(out))
    }

    /// Lower-case hexadecimal form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// A random id that shares exactly `prefix_len` leading bits with `self` (the next bit
    /// differs), drawn from `random`: used to refresh one bucket. `prefix_len` must be < 256.
    pub fn random_at_prefix(&self, prefix_len: usize, random: [u8; ID_BYTES]) -> Id {
        debug_assert!(prefix_len < ID_BITS);
        let mut out = random;
        for bit in 0..=prefix_len.min(ID_BITS - 1) {
            let byte = bit / 8;
            let mask = 0x80u8 >> (bit % 8);
            let mine = self.0[byte] & mask;
            let want = if bit == prefix_len { mine ^ mask } else { mine };
            out[byte] = (out[byte] & !mask) | want;
        }
        Id(out)
    }
}

impl Distance {
    /// Number of leading zero bits (256 for distance zero).
    pub fn leading_zeros(&self) -> usize {
        for (i, byte) in self.0.iter().enumerate() {
            if *byte != 0 {
                return i * 8 + byte.leading_zeros() as usize;
            }
        }
        ID_BITS
    }

    /// The raw big-endian bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_with_first(byte: u8) -> Id {
        let mut b = [0u8; ID_BYTES];
        b[0] = byte;
        Id::from_bytes(b)
    }

    #[test]
    fn distance_is_symmetric_and_zero_to_self() {
        let a = Id::hash(b"a");
        let b = Id::hash(b"b");
        assert_eq!(a.distance(&b), b.distance(&a));
        assert_eq!(a.distance(&a), Distance::default());
        assert_eq!(a.common_prefix_len(&a), ID_BITS);
    }

    #[test]
    fn distance_orders_as_big_endian_integer() {
        let zero = Id::default();
        assert!(zero.distance(&id_with_first(0x01)) < zero.distance(&id_with_first(0x80)));
        assert_eq!(zero.common_prefix_len(&id_with_first(0x80)), 0);
        assert_eq!(zero.common_prefix_len(&id_with_first(0x01)), 7);
    }

    #[test]
    fn cmp_distance_matches_comparing_distances() {
        let ids: Vec<Id> = (0..60u32).map(|i| Id::hash(&i.to_le_bytes())).collect();
        // Ids sharing long prefixes exercise the later words.
        let mut close = ids[0];
        close.0[31] ^= 1;
        let mut ids = ids;
        ids.push(close);
        for t in &ids {
            for a in &ids {
                for b in &ids {
                    assert_eq!(a.cmp_distance(b, t), a.distance(t).cmp(&b.distance(t)));
                }
            }
        }
    }

    #[test]
    fn order_is_the_byte_order() {
        let ids: Vec<Id> = (0..200u32).map(|i| Id::hash(&i.to_le_bytes())).collect();
        for a in &ids {
            for b in &ids {
                assert_eq!(a.cmp(b), a.as_bytes().cmp(b.as_bytes()));
                let (da, db) = (a.distance(&ids[0]), b.distance(&ids[0]));
                assert_eq!(da.cmp(&db), da.as_bytes().cmp(db.as_bytes()));
            }
        }
        let mut low = [0u8; ID_BYTES];
        low[31] = 1;
        let mut high = [0u8; ID_BYTES];
        high[0] = 1;
        assert!(Id::from_bytes(low) < Id::from_bytes(high));
    }

    #[test]
    fn hex_round_trips() {
        let a = Id::hash(b"x");
        assert_eq!(Id::from_hex(&a.to_hex()), Some(a));
        assert_eq!(Id::from_hex("zz"), None);
    }

    #[test]
    fn random_at_prefix_lands_in_the_bucket() {
        let me = Id::hash(b"me");
        for prefix in [0, 1, 7, 8, 9, 100, 255] {
            let r = me.random_at_prefix(prefix, *Id::hash(&[prefix as u8]).as_bytes());
            assert_eq!(me.common_prefix_len(&r), prefix);
        }
    }
}
