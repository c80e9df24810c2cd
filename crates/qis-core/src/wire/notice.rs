//! The network notice: how a node tells a requester from another network that it reached the
//! wrong network, so the requester can say so instead of timing out.
//!
//! Without it a request of another network is dropped in silence and the user of a client with
//! a mistyped `--network` sees only a timeout. With it, the node answers such a request once
//! with a `Pong` of its *own* network, echoing the request's transaction id and carrying a zero
//! token. The requester's codec refuses that answer as [`WireError::WrongNetwork`] with the
//! node's network id, which its driver reports. The notice is a response, and responses are
//! never answered with a notice, so two nodes of different networks cannot ping-pong notices;
//! it is at most [`AMPLIFICATION_FACTOR`] times the request's size, so it is no better a
//! reflector than any other answer. A datagram of another protocol *version* gets no notice:
//! its layout is unknown, so there is no telling a request from a response.

use crate::addr::PeerAddr;
use crate::constants::{AMPLIFICATION_FACTOR, PROTOCOL_VERSION, TOKEN_BYTES};
use crate::id::Id;
use crate::wire::codec::{WireError, decode, encode};
use crate::wire::message::{Auth, Body, Header, Message, NetworkId, Role, Token};

/// The notice to send back for `request`, a datagram received by a node of network `ours`
/// whose id is `sender`: `Some` only when `request` is a well-formed request of another
/// network of this protocol version and the notice stays within the amplification limit.
pub fn network_notice<A: PeerAddr>(request: &[u8], ours: NetworkId, sender: Id) -> Option<Vec<u8>> {
    let Err(WireError::WrongNetwork(theirs)) = decode::<A>(request, ours) else {
        return None;
    };
    let asked = decode::<A>(request, NetworkId(theirs)).ok()?;
    if !asked.body.is_request() {
        return None;
    }
    let notice = Message::<A> {
        header: Header {
            version: PROTOCOL_VERSION,
            network: ours,
            txid: asked.header.txid,
            sender,
            role: Role::Node,
            auth: Auth::None,
        },
        body: Body::Pong {
            token: Token([0; TOKEN_BYTES]),
        },
    };
    let bytes = encode(&notice).ok()?;
    (bytes.len() <= AMPLIFICATION_FACTOR * request.len()).then_some(bytes)
}
