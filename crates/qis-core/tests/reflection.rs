//! Reflection through lying answers (issue 10): a node that answers every FIND_NODE with
//! twenty contacts at a victim's IP address (one port each) must not turn our lookups into a
//! flood at the victim. Contacts at a host that never answered us get at most
//! `FIRST_CONTACTS_PER_WINDOW` requests a window, each sent at most `STRANGER_ATTEMPTS` times
//! (once resent): what we send the victim stays within a small multiple of what the liar sends
//! us. Without that defence every
//! lookup sent each of the twenty a padded FIND_NODE (sized so an answer fits three times it)
//! and two retries: 27 times the liar's bytes.

use qis_core::constants::{FIRST_CONTACTS_PER_WINDOW, STRANGER_ATTEMPTS};
use qis_core::wire::{self, Body, Contact, Header, Message, NetworkId, Role};
use qis_core::{Config, Credentials, Event, Id, Identity, Node, NodeSecret, OpResult, Time};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Bytes moved in the attack.
#[derive(Debug, Default)]
struct Tally {
    /// Bytes the liar sent us.
    from_liar: u64,
    /// Bytes we sent to any port of the victim's IP address.
    to_victim: u64,
    /// Datagrams we sent to the victim.
    datagrams_to_victim: u64,
    /// Lookups that finished.
    lookups_done: u64,
}

/// Runs `lookups` lookups over `minutes` virtual minutes through a node whose only peer lies.
fn mount_attack(lookups: u64, minutes: u64) -> (Tally, qis_core::Metrics) {
    let me = Identity::from_secret_key([1; 32]);
    let liar = Identity::from_secret_key([2; 32]);
    let liar_addr: SocketAddr = "198.51.100.2:4000".parse().unwrap();
    let victim: IpAddr = "203.0.113.7".parse().unwrap();
    let mut node: Node<SocketAddr> = Node::new(
        Config::default(),
        NodeSecret::from_bytes([1; 32]),
        Credentials::modelled(me.public_key()),
        Time::ZERO,
    );
    node.add_contact(Time::ZERO, liar.id(), liar_addr);
    let liar_credentials = Credentials::modelled(liar.public_key());
    let mut tally = Tally::default();
    let mut named = 0u32;
    let end = Time::ZERO + Duration::from_secs(minutes * 60);
    let gap = Duration::from_secs(minutes * 60) / lookups as u32;
    let mut next_lookup = Time::ZERO;
    let mut started = 0u64;
    let mut now = Time::ZERO;
    let mut steps = 0u64;
    while now < end {
        if now >= next_lookup && started < lookups {
            node.find_node(now, Id::hash(&started.to_le_bytes()));
            started += 1;
            next_lookup = next_lookup + gap;
        }
        // Deliver everything the node sends; the liar answers at once, the victim never.
        while let Some(t) = node.poll_transmit() {
            if t.to.ip() == victim {
                tally.to_victim += t.payload.len() as u64;
                tally.datagrams_to_victim += 1;
                continue;
            }
            assert_eq!(t.to, liar_addr, "we only know the liar and what it names");
            let Ok(asked) = wire::decode::<SocketAddr>(&t.payload, NetworkId::MAIN) else {
                continue;
            };
            let body = match asked.body {
                Body::FindNode { .. } | Body::FindValue { .. } => Body::Nodes {
                    token: wire::Token([7; 8]),
                    cut: false,
                    nodes: (0..20u16)
                        .map(|port| {
                            named += 1;
                            Contact {
                                id: Id::hash(&named.to_le_bytes()),
                                addr: SocketAddr::new(victim, 5000 + port),
                            }
                        })
                        .collect(),
                },
                Body::Ping => Body::Pong {
                    token: wire::Token([7; 8]),
                },
                _ => continue,
            };
            let answer = wire::encode(&Message::<SocketAddr> {
                header: Header {
                    sender: liar.id(),
                    role: Role::Node,
                    auth: liar_credentials.answer_auth(&asked.header),
                    ..asked.header
                },
                body,
            })
            .unwrap();
            tally.from_liar += answer.len() as u64;
            node.handle_datagram(now, liar_addr, &answer);
        }
        while let Some(event) = node.poll_event() {
            if let Event::Finished {
                result: OpResult::FindNode(_),
                ..
            } = event
            {
                tally.lookups_done += 1;
            }
        }
        // On to the next thing that happens: a timer or the next lookup.
        let wake = node
            .poll_timeout()
            .unwrap_or(end)
            .min(if started < lookups { next_lookup } else { end });
        steps += 1;
        assert!(steps < 1_000_000, "the attack run is bounded");
        now = wake.max(now);
        if now < end {
            node.handle_timeout(now);
        }
    }
    (tally, *node.metrics())
}

/// 50 lookups over 10 virtual minutes through the liar: we send the victim at most 3 times the
/// bytes the liar sends us (the figure is printed; before the defence it was 29.6), at most
/// `FIRST_CONTACTS_PER_WINDOW` requests a minute, each sent at most `STRANGER_ATTEMPTS` times,
/// and the lookups still finish.
#[test]
fn a_liar_cannot_reflect_our_lookups_at_a_victim() {
    let (tally, metrics) = mount_attack(50, 10);
    let ratio = tally.to_victim as f64 / tally.from_liar as f64;
    println!(
        "reflection: {} bytes to the victim in {} datagrams, {} bytes from the liar: {ratio:.2}x \
         ({} lookups finished, {} first contacts limited, {} retries)",
        tally.to_victim,
        tally.datagrams_to_victim,
        tally.from_liar,
        tally.lookups_done,
        metrics.first_contacts_limited,
        metrics.retries,
    );
    assert!(ratio <= 3.0, "reflected {ratio:.2}x: {tally:?}");
    // Eleven windows are touched by ten minutes that need not start at a window's start.
    let per_window = u64::from(FIRST_CONTACTS_PER_WINDOW) * u64::from(STRANGER_ATTEMPTS);
    assert!(tally.datagrams_to_victim <= 11 * per_window);
    assert!(metrics.first_contacts_limited > 0);
    assert_eq!(
        tally.lookups_done, 50,
        "the lookups end (with the liar's answer only)"
    );
}
