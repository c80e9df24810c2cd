//! Just enough hand-written OpenDHT wire format (msgpack) for the load generator: a `find`
//! query, and the transaction id of an answer. The layout was read off OpenDHT 2.4's own
//! datagrams on loopback (a map of `a` {`id`, `target`}, `q` = "find", `t` (u32), `y` = "q",
//! `v` = "RNG1", `n` (the network id)); answers are maps with `y` = "r" and the same `t`.

use crate::loadgen::LoadProtocol;
use crate::rng::Rng;

/// OpenDHT `find` queries with a fresh random requester id and target each time, on
/// `network` (OpenDHT ignores datagrams of another network).
pub struct OpenDhtFind {
    /// The network id the nodes under load run.
    pub network: u32,
}

impl LoadProtocol for OpenDhtFind {
    fn encode_request(&mut self, txid: u32, rng: &mut Rng, buf: &mut Vec<u8>) {
        let mut id = [0u8; 20];
        let mut target = [0u8; 20];
        rng.fill(&mut id);
        rng.fill(&mut target);
        encode_find(txid, self.network, &id, &target, buf);
    }

    fn decode_reply(&self, datagram: &[u8]) -> Option<u32> {
        answer_txid(datagram)
    }
}

/// Writes a msgpack string of at most 31 bytes (fixstr).
fn fixstr(buf: &mut Vec<u8>, s: &[u8]) {
    debug_assert!(s.len() < 32);
    buf.push(0xa0 | s.len() as u8);
    buf.extend_from_slice(s);
}

/// Writes a 20-byte msgpack bin (bin 8).
fn bin20(buf: &mut Vec<u8>, b: &[u8; 20]) {
    buf.extend_from_slice(&[0xc4, 20]);
    buf.extend_from_slice(b);
}

/// Writes a msgpack uint 32.
fn uint32(buf: &mut Vec<u8>, v: u32) {
    buf.push(0xce);
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Replaces `buf` with an OpenDHT `find` query, keys in the order OpenDHT writes them.
pub fn encode_find(txid: u32, network: u32, id: &[u8; 20], target: &[u8; 20], buf: &mut Vec<u8>) {
    buf.clear();
    buf.push(0x86);
    fixstr(buf, b"a");
    buf.push(0x82);
    fixstr(buf, b"id");
    bin20(buf, id);
    fixstr(buf, b"target");
    bin20(buf, target);
    fixstr(buf, b"q");
    fixstr(buf, b"find");
    fixstr(buf, b"t");
    uint32(buf, txid);
    fixstr(buf, b"y");
    fixstr(buf, b"q");
    fixstr(buf, b"v");
    fixstr(buf, b"RNG1");
    fixstr(buf, b"n");
    uint32(buf, network);
}

/// The transaction id of an OpenDHT answer (`y` = "r"); `None` for anything else, errors
/// (`y` = "e") included.
pub fn answer_txid(datagram: &[u8]) -> Option<u32> {
    let mut pos = 0;
    let entries = map_len(datagram, &mut pos)?;
    let (mut txid, mut is_answer) = (None, false);
    for _ in 0..entries {
        let key = string(datagram, &mut pos)?;
        let start = pos;
        skip(datagram, &mut pos, 0)?;
        let value = &datagram[start..pos];
        match key {
            b"t" => txid = uint(value),
            b"y" => is_answer = value == [0xa1, b'r'],
            _ => {}
        }
    }
    if is_answer { txid } else { None }
}

/// A map header's entry count at `pos`, moving past it.
fn map_len(data: &[u8], pos: &mut usize) -> Option<usize> {
    let b = *data.get(*pos)?;
    *pos += 1;
    match b {
        0x80..=0x8f => Some(usize::from(b & 0x0f)),
        0xde => Some(usize::from(u16::from_be_bytes(take::<2>(data, pos)?))),
        _ => None,
    }
}

/// `N` bytes at `pos`, moving past them.
fn take<const N: usize>(data: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let bytes = data.get(*pos..pos.checked_add(N)?)?.try_into().ok()?;
    *pos += N;
    Some(bytes)
}

/// A string (fixstr or str 8) at `pos`, moving past it.
fn string<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let b = *data.get(*pos)?;
    *pos += 1;
    let len = match b {
        0xa0..=0xbf => usize::from(b & 0x1f),
        0xd9 => usize::from(take::<1>(data, pos)?[0]),
        _ => return None,
    };
    let s = data.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(s)
}

/// An unsigned integer value (positive fixint or uint 8/16/32) that fits in 32 bits.
fn uint(value: &[u8]) -> Option<u32> {
    match value {
        [b] if *b < 0x80 => Some(u32::from(*b)),
        [0xcc, b] => Some(u32::from(*b)),
        [0xcd, a, b] => Some(u32::from(u16::from_be_bytes([*a, *b]))),
        [0xce, rest @ ..] => Some(u32::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// Moves `pos` past one msgpack value of the kinds OpenDHT's answers use (nesting bounded so
/// it is total on any input).
fn skip(data: &[u8], pos: &mut usize, depth: usize) -> Option<()> {
    if depth > 16 {
        return None;
    }
    let b = *data.get(*pos)?;
    *pos += 1;
    let (bytes, items) = match b {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
        0x80..=0x8f => (0, 2 * usize::from(b & 0x0f)),
        0x90..=0x9f => (0, usize::from(b & 0x0f)),
        0xa0..=0xbf => (usize::from(b & 0x1f), 0),
        0xc4 | 0xd9 => (usize::from(take::<1>(data, pos)?[0]), 0),
        0xc5 | 0xda => (usize::from(u16::from_be_bytes(take::<2>(data, pos)?)), 0),
        0xcc | 0xd0 => (1, 0),
        0xcd | 0xd1 => (2, 0),
        0xce | 0xd2 | 0xca => (4, 0),
        0xcf | 0xd3 | 0xcb => (8, 0),
        0xdc => (0, usize::from(u16::from_be_bytes(take::<2>(data, pos)?))),
        0xde => (
            0,
            2 * usize::from(u16::from_be_bytes(take::<2>(data, pos)?)),
        ),
        _ => return None,
    };
    *pos = pos.checked_add(bytes)?;
    if *pos > data.len() {
        return None;
    }
    for _ in 0..items {
        skip(data, pos, depth + 1)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `find` query as OpenDHT 2.4 wrote it on loopback (captured), byte for byte.
    const CAPTURED_FIND: &str = "86a16182a26964c414d44c4aa5f1ce26bba4dd3dc27430e299d43f5e0da6746172676574c414c95e51af6066e8e69d5b67eba812a4fc038541c1a171a466696e64a174ceb65b98d2a179a171a176a4524e4731a16ece71636d70";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_find_is_written_as_opendht_writes_it() {
        let captured = hex(CAPTURED_FIND);
        let id: [u8; 20] = captured[9..29].try_into().unwrap();
        let target: [u8; 20] = captured[38..58].try_into().unwrap();
        let mut buf = Vec::new();
        encode_find(0xb65b_98d2, 0x7163_6d70, &id, &target, &mut buf);
        assert_eq!(buf, captured);
        assert_eq!(answer_txid(&buf), None, "a query is not an answer");
    }

    #[test]
    fn an_answer_gives_its_txid_and_junk_gives_none() {
        let mut answer = vec![0x84];
        fixstr(&mut answer, b"r");
        answer.push(0x82);
        fixstr(&mut answer, b"id");
        bin20(&mut answer, &[7; 20]);
        fixstr(&mut answer, b"n4");
        answer.extend_from_slice(&[0xc4, 3, 1, 2, 3]);
        fixstr(&mut answer, b"t");
        uint32(&mut answer, 42);
        fixstr(&mut answer, b"y");
        fixstr(&mut answer, b"r");
        fixstr(&mut answer, b"v");
        fixstr(&mut answer, b"RNG1");
        assert_eq!(answer_txid(&answer), Some(42));
        for cut in 0..answer.len() {
            assert_eq!(answer_txid(&answer[..cut]), None, "cut at {cut}");
        }
        assert_eq!(answer_txid(&[0xdc, 0xff, 0xff]), None);
    }
}
