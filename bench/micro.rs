//! Micro benchmarks of the protocol core's hot paths, reported as medians:
//! `cargo bench --bench micro`.
//!
//! Where a natural reference exists it is measured in the same run and the ratio printed: the
//! same message through serde_json (a self-describing format) for the codec, a full sort of
//! every entry for the closest-20 query, the bare keyed blake3 hash for tokens and the bare
//! ed25519-dalek calls for records (so the ratio is our overhead over the primitive).

#[path = "harness.rs"]
mod harness;

use harness::{measure, versus};
use qis_core::Id;
use qis_core::Identity;
use qis_core::Lookup;
use qis_core::SimAddr;
use qis_core::Time;
use qis_core::TokenMinter;
use qis_core::constants::{ALPHA, K};
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role, Token, TxId};
use qis_core::{RecordKind, SignedRecord};
use qis_core::{RoutingTable, TableConfig};
use std::net::SocketAddr;

fn id(n: u64) -> Id {
    Id::hash(&n.to_le_bytes())
}

fn nodes_message() -> Message<SocketAddr> {
    let header = Header {
        version: qis_core::constants::PROTOCOL_VERSION,
        network: NetworkId::MAIN,
        txid: TxId(7),
        sender: id(1),
        role: Role::Node,
        // A peer already proven (the common case): no challenge, no proof.
        auth: qis_core::wire::Auth::None,
    };
    let nodes = (0..K as u64)
        .map(|n| Contact {
            id: id(n),
            addr: SocketAddr::from(([10, 0, (n / 250) as u8, (n % 250) as u8], 6881)),
        })
        .collect();
    Message {
        header,
        body: Body::Nodes {
            token: Token([3; 8]),
            cut: false,
            nodes,
        },
    }
}

fn main() {
    println!("qis micro benchmarks (release build; medians over batches)");
    let message = nodes_message();
    let bytes = wire::encode(&message).unwrap();
    let encode = measure("encode Nodes (20 IPv4 contacts)", 200, 1000, || {
        wire::encode(&message).unwrap()
    });
    let json = serde_json::to_vec(&message).unwrap();
    let encode_json = measure("  peer: the same message as JSON", 200, 1000, || {
        serde_json::to_vec(&message).unwrap()
    });
    versus(&encode, &encode_json);
    println!(
        "  -> {} bytes on the wire, {} as JSON ({:.2}x)",
        bytes.len(),
        json.len(),
        bytes.len() as f64 / json.len() as f64
    );
    let decode = measure("decode Nodes (20 IPv4 contacts)", 200, 1000, || {
        wire::decode::<SocketAddr>(&bytes, NetworkId::MAIN).unwrap()
    });
    let decode_json = measure("  peer: the same message from JSON", 200, 1000, || {
        serde_json::from_slice::<Message<SocketAddr>>(&json).unwrap()
    });
    versus(&decode, &decode_json);

    let local = id(u64::MAX);
    let config = TableConfig {
        bucket_size: K,
        max_per_host: 0,
        max_per_prefix_in_bucket: 0,
        max_per_prefix_in_table: 0,
        limit_local: false,
    };
    let mut n = 0u64;
    let mut table: RoutingTable<SimAddr> = RoutingTable::new(local, config);
    measure(
        "routing table: offer a node (100k offers)",
        100,
        1000,
        || {
            n += 1;
            table.on_answer(id(n), SimAddr(n as u32), Time::ZERO, None)
        },
    );
    println!("  (table holds {} entries after {n} offers)", table.len());
    let mut q = 0u64;
    let closest = measure(
        "routing table: closest 20 to a random id",
        200,
        1000,
        || {
            q += 1;
            table.closest(&id(q ^ 0xdead), K)
        },
    );
    let every_id: Vec<Id> = table
        .closest(&local, table.len())
        .iter()
        .map(|e| e.id)
        .collect();
    let mut q = 0u64;
    let sorted = measure("  peer: sort every entry by distance", 200, 100, || {
        q += 1;
        let target = id(q ^ 0xdead);
        let mut all = every_id.clone();
        all.sort_unstable_by_key(|e| e.distance(&target));
        all.truncate(K);
        all
    });
    versus(&closest, &sorted);

    // One lookup driven to completion against an ideal in-memory world of 10,000 nodes.
    let world: Vec<Contact<SimAddr>> = (0..10_000u64)
        .map(|n| Contact {
            id: id(n),
            addr: SimAddr(n as u32),
        })
        .collect();
    let mut world_table: RoutingTable<SimAddr> = RoutingTable::new(local, config);
    for c in &world {
        world_table.on_answer(c.id, c.addr, Time::ZERO, None);
    }
    let mut t = 0u64;
    measure(
        "lookup to completion (10k-node ideal world)",
        50,
        20,
        || {
            t += 1;
            let target = id(t ^ 0xbeef);
            let seeds = world_table
                .closest(&target, K)
                .into_iter()
                .map(|e| Contact {
                    id: e.id,
                    addr: e.addr,
                });
            let mut lookup = Lookup::new(target, local, seeds, K, ALPHA, Time::ZERO);
            let mut guard = 0;
            while !lookup.is_finished() && guard < 1000 {
                guard += 1;
                let Some(query) = lookup.next_request() else {
                    break;
                };
                // The asked node answers with the 20 closest it "knows": here, a sample of the world.
                let mut answer: Vec<Contact<SimAddr>> = world
                    .iter()
                    .skip((query.addr.0 % 97) as usize)
                    .step_by(97)
                    .copied()
                    .collect();
                answer.sort_by_key(|c| c.id.distance(&target));
                answer.truncate(K);
                lookup.on_answer(&query.id, &answer, None);
            }
            lookup.report(Time::ZERO).requests
        },
    );

    let minter = TokenMinter::new([1; 32], [2; 32], Time::ZERO);
    let addr = SocketAddr::from(([192, 0, 2, 1], 4000));
    let token = minter.mint(&addr);
    let mint = measure("token mint", 200, 10_000, || minter.mint(&addr));
    measure("token check", 200, 10_000, || minter.check(&addr, &token));
    let addr_bytes = addr.to_string();
    let keyed = measure(
        "  peer: bare keyed blake3 of the address",
        200,
        10_000,
        || blake3::keyed_hash(&[1; 32], addr_bytes.as_bytes()),
    );
    versus(&mint, &keyed);

    let publisher = Identity::from_secret_key([9; 32]);
    let record = SignedRecord::sign(
        publisher.signing_key(),
        RecordKind::Outcome,
        1_700_000_000,
        vec![7; 300],
    )
    .unwrap();
    measure("record (packet) sign, 300-byte payload", 50, 100, || {
        SignedRecord::sign(
            publisher.signing_key(),
            RecordKind::Outcome,
            1_700_000_000,
            vec![7; 300],
        )
        .unwrap()
    });
    let verify = measure("record (packet) signature verify", 50, 100, || {
        record.verify_signature().unwrap()
    });
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let message = vec![7u8; 300];
    let signature = ed25519_dalek::Signer::sign(&key, &message);
    let verifying = key.verifying_key();
    let bare = measure(
        "  peer: bare ed25519-dalek verify, 300 bytes",
        50,
        100,
        || verifying.verify_strict(&message, &signature).unwrap(),
    );
    versus(&verify, &bare);
}
