//! Just enough hand-written KRPC (BEP 5, bencoded) for the load generator: a `find_node`
//! query, and the transaction id of an answer.

use crate::loadgen::LoadProtocol;
use crate::rng::Rng;

/// Mainline `find_node` queries with a fresh random requester id and target each time, and a
/// 4-byte transaction id (the mainline crate accepts exactly 4 bytes).
pub struct KrpcFindNode;

impl LoadProtocol for KrpcFindNode {
    fn encode_request(&mut self, txid: u32, rng: &mut Rng, buf: &mut Vec<u8>) {
        let mut id = [0u8; 20];
        let mut target = [0u8; 20];
        rng.fill(&mut id);
        rng.fill(&mut target);
        encode_find_node(txid, &id, &target, buf);
    }

    fn decode_reply(&self, datagram: &[u8]) -> Option<u32> {
        answer_txid(datagram)
    }
}

/// Appends `d1:ad2:id20:<id>6:target20:<target>e1:q9:find_node1:t4:<txid>1:y1:qe` (keys in
/// sorted order, as bencode requires).
pub fn encode_find_node(txid: u32, id: &[u8; 20], target: &[u8; 20], buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(b"d1:ad2:id20:");
    buf.extend_from_slice(id);
    buf.extend_from_slice(b"6:target20:");
    buf.extend_from_slice(target);
    buf.extend_from_slice(b"e1:q9:find_node1:t4:");
    buf.extend_from_slice(&txid.to_be_bytes());
    buf.extend_from_slice(b"1:y1:qe");
}

/// The transaction id of a KRPC answer (`y` = `r`) with a 4-byte `t`; `None` for anything
/// else, errors (`y` = `e`) included.
pub fn answer_txid(datagram: &[u8]) -> Option<u32> {
    let mut pos = 1;
    if datagram.first() != Some(&b'd') {
        return None;
    }
    let (mut txid, mut is_answer) = (None, false);
    while *datagram.get(pos)? != b'e' {
        let key = string(datagram, &mut pos)?;
        let value_start = pos;
        skip(datagram, &mut pos, 0)?;
        let value = &datagram[value_start..pos];
        match key {
            b"t" if value.starts_with(b"4:") && value.len() == 6 => {
                txid = Some(u32::from_be_bytes(value[2..6].try_into().ok()?));
            }
            b"y" => is_answer = value == b"1:r",
            _ => {}
        }
    }
    if is_answer { txid } else { None }
}

/// Reads a bencoded byte string at `pos` and moves past it.
fn string<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let colon = *pos + data.get(*pos..)?.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&data[*pos..colon]).ok()?.parse().ok()?;
    let end = colon.checked_add(1)?.checked_add(len)?;
    let s = data.get(colon + 1..end)?;
    *pos = end;
    Some(s)
}

/// Moves `pos` past one bencoded value of any type (nesting bounded to keep it total).
fn skip(data: &[u8], pos: &mut usize, depth: usize) -> Option<()> {
    if depth > 16 {
        return None;
    }
    match *data.get(*pos)? {
        b'i' => {
            *pos += data.get(*pos..)?.iter().position(|&b| b == b'e')? + 1;
        }
        b'l' | b'd' => {
            *pos += 1;
            while *data.get(*pos)? != b'e' {
                skip(data, pos, depth + 1)?;
            }
            *pos += 1;
        }
        b'0'..=b'9' => {
            string(data, pos)?;
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let mut buf = Vec::new();
        encode_find_node(0x01020304, &[b'a'; 20], &[b'b'; 20], &mut buf);
        let expected = [
            &b"d1:ad2:id20:"[..],
            &[b'a'; 20],
            b"6:target20:",
            &[b'b'; 20],
            b"e1:q9:find_node1:t4:\x01\x02\x03\x04",
            b"1:y1:qe",
        ]
        .concat();
        assert_eq!(buf, expected);
    }

    #[test]
    fn answer_txid_parses_answers_only() {
        let answer = b"d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes0:e1:t4:\x00\x00\x00\x071:v4:RS\x00\x051:y1:re";
        assert_eq!(answer_txid(answer), Some(7));
        let error = b"d1:eli201e3:bade1:t4:\x00\x00\x00\x071:y1:ee";
        assert_eq!(answer_txid(error), None);
        assert_eq!(answer_txid(b"d1:t4:"), None);
        assert_eq!(answer_txid(b"garbage"), None);
    }
}
