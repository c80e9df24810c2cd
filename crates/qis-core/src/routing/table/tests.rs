use super::*;
use crate::addr::SimAddr;
use crate::constants::{DEFAULT_MAX_PER_PREFIX_IN_BUCKET, DEFAULT_MAX_PER_PREFIX_IN_TABLE};
use std::net::SocketAddr;

fn id(n: u32) -> Id {
    Id::hash(&n.to_le_bytes())
}

/// A table with only the per-host limit (simulated addresses this small are exempt anyway).
fn table(max_per_host: usize) -> RoutingTable<SimAddr> {
    RoutingTable::new(id(0), host_limit_only(max_per_host))
}

fn host_limit_only(max_per_host: usize) -> TableConfig {
    TableConfig {
        bucket_size: K,
        max_per_host,
        max_per_prefix_in_bucket: 0,
        max_per_prefix_in_table: 0,
        limit_local: false,
    }
}

/// Ids that land in bucket 0 (first bit differs from the local id).
fn far_ids(t: &RoutingTable<SimAddr>, count: usize) -> Vec<(u32, Id)> {
    (1..)
        .map(|n| (n, id(n)))
        .filter(|(_, i)| t.bucket_index(i) == 0)
        .take(count)
        .collect()
}

#[test]
fn nodes_land_in_the_bucket_of_their_common_prefix() {
    let mut t = table(0);
    for n in 1..200 {
        t.on_answer(id(n), SimAddr(n), Time::ZERO, None);
    }
    for e in t.entries() {
        assert_eq!(t.bucket_index(&e.id), id(0).common_prefix_len(&e.id));
    }
    assert!(
        t.bucket_len(0) == K,
        "half of all ids share no prefix bit: bucket 0 fills"
    );
    assert_eq!(
        t.on_answer(id(0), SimAddr(0), Time::ZERO, None),
        Admission::Refused(Refusal::OwnId)
    );
}

#[test]
fn a_full_bucket_parks_newcomers_and_names_the_least_recently_seen() {
    let mut t = table(0);
    let ids = far_ids(&t, K + 2);
    for (i, (n, node)) in ids.iter().take(K).enumerate() {
        let now = Time::from_millis(i as u64);
        assert_eq!(
            t.on_answer(*node, SimAddr(*n), now, None),
            Admission::Inserted
        );
    }
    // The first entry answers again: it becomes most recently seen, so the second is now oldest.
    assert_eq!(
        t.on_answer(ids[0].1, SimAddr(ids[0].0), Time::from_millis(100), None),
        Admission::Refreshed
    );
    let (n, newcomer) = ids[K];
    match t.on_answer(newcomer, SimAddr(n), Time::from_millis(200), None) {
        Admission::Parked { least_recent, .. } => assert_eq!(least_recent.id, ids[1].1),
        other => panic!("expected Parked, got {other:?}"),
    }
    assert_eq!(t.len(), K);
    assert!(t.get(&newcomer).is_none());
    // The oldest fails its ping: the newcomer takes its place.
    assert!(t.on_failure(&ids[1].1));
    assert!(t.get(&newcomer).is_some());
    assert!(t.get(&ids[1].1).is_none());
    assert_eq!(t.len(), K);
}

#[test]
fn a_failing_entry_without_replacement_stays_but_is_skipped() {
    let mut t = table(0);
    let (n, node) = far_ids(&t, 1)[0];
    t.on_answer(node, SimAddr(n), Time::ZERO, None);
    assert!(!t.on_failure(&node));
    assert!(!t.on_failure(&node));
    assert!(t.get(&node).is_some());
    assert!(
        t.closest(&node, 5).is_empty(),
        "unreliable entries are not handed out"
    );
    t.on_answer(node, SimAddr(n), Time::ZERO, None);
    assert_eq!(t.closest(&node, 5).len(), 1, "an answer restores it");
}

#[test]
fn at_most_max_per_host_entries_per_ip() {
    let mut t: RoutingTable<std::net::SocketAddr> = RoutingTable::new(id(0), host_limit_only(2));
    let addr = |port: u16| std::net::SocketAddr::from(([10, 0, 0, 1], port));
    assert_eq!(
        t.on_answer(id(1), addr(1), Time::ZERO, None),
        Admission::Inserted
    );
    assert_eq!(
        t.on_answer(id(2), addr(2), Time::ZERO, None),
        Admission::Inserted
    );
    assert_eq!(
        t.on_answer(id(3), addr(3), Time::ZERO, None),
        Admission::Refused(Refusal::HostLimit)
    );
    let other = std::net::SocketAddr::from(([10, 0, 0, 2], 3));
    assert_eq!(
        t.on_answer(id(3), other, Time::ZERO, None),
        Admission::Inserted
    );
    // Loopback peers are local test networks: exempt.
    for n in 10..15 {
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], n as u16));
        assert_eq!(
            t.on_answer(id(n), local, Time::ZERO, None),
            Admission::Inserted
        );
    }
}

#[test]
fn a_live_node_cannot_be_moved_to_another_address() {
    let mut t = table(0);
    t.on_answer(id(1), SimAddr(1), Time::ZERO, None);
    t.on_answer(id(1), SimAddr(99), Time::ZERO, None);
    assert_eq!(t.get(&id(1)).unwrap().addr, SimAddr(1));
}

#[test]
fn closest_matches_a_brute_force_sort() {
    let mut t = table(0);
    for n in 1..3000 {
        t.on_answer(id(n), SimAddr(n), Time::ZERO, None);
    }
    for probe in 0..50u32 {
        let target = Id::hash(&[probe as u8, 0xaa]);
        let mut all: Vec<Id> = t.entries().map(|e| e.id).collect();
        all.sort_by_key(|i| i.distance(&target));
        let got: Vec<Id> = t.closest(&target, K).iter().map(|e| e.id).collect();
        assert_eq!(got, all[..K.min(all.len())].to_vec());
    }
}

#[test]
fn tokens_expire_by_age() {
    let mut t = table(0);
    let token = Token([7; 8]);
    t.on_answer(id(1), SimAddr(1), Time::ZERO, Some(token));
    let max_age = Duration::from_secs(60);
    assert_eq!(
        t.token_for(&id(1), Time::from_millis(59_000), max_age),
        Some(token)
    );
    assert_eq!(
        t.token_for(&id(1), Time::from_millis(61_000), max_age),
        None
    );
}

#[test]
fn stale_buckets_are_reported_until_touched() {
    let mut t = table(0);
    t.on_answer(id(1), SimAddr(1), Time::ZERO, None);
    let hour = Duration::from_secs(3600);
    let later = Time::ZERO + hour;
    assert!(!t.stale_buckets(later, hour).is_empty());
    let target = id(1);
    t.touch(&target, later);
    assert!(
        !t.stale_buckets(later, hour)
            .contains(&t.bucket_index(&target))
    );
}

/// An id in bucket `bucket` of a table around `local`, drawn from `seed`.
fn id_in_bucket(local: &Id, bucket: usize, seed: u32) -> Id {
    let random = *Id::hash(&[&seed.to_le_bytes()[..], b"in bucket"].concat()).as_bytes();
    local.random_at_prefix(bucket, random)
}

fn v4(ip: u32, port: u16) -> SocketAddr {
    SocketAddr::from((std::net::Ipv4Addr::from(ip), port))
}

/// The ids of a table around `local` that were offered from `addrs`.
fn admitted_from(t: &RoutingTable<SocketAddr>, wide: u128) -> usize {
    t.entries()
        .filter(|e| e.addr.prefixes().wide == wide)
        .count()
}

/// Issue 10's attack: 253 addresses of one /24, two ids each (the per-IP limit), ground so that
/// 20 land in each of 25 buckets, offered to a table that can hold 500. Without prefix limits
/// they take all of it; with the defaults they hold the per-table cap (10), at most 2 per
/// bucket, and 490 honest contacts from distinct /24s offered after them still get in.
#[test]
fn one_slash_24_with_ids_ground_per_bucket_holds_at_most_the_table_cap() {
    const BUCKETS: usize = 25;
    let local = id(0);
    let attacker_ip = |n: u32| 0xcb00_7100 | (1 + n % 253); // 203.0.113.1 to .253
    let attack: Vec<(Id, SocketAddr)> = (0..(BUCKETS * K) as u32)
        .map(|n| {
            let bucket = n as usize / K;
            (
                id_in_bucket(&local, bucket, n),
                v4(attacker_ip(n), 4000 + n as u16),
            )
        })
        .collect();
    let honest: Vec<(Id, SocketAddr)> = (0..(BUCKETS * K) as u32)
        .map(|n| {
            let bucket = n as usize / K;
            // 11.0.0.1, 11.0.1.1, 11.0.2.1…: every honest node in its own /24.
            let addr = v4(0x0b00_0001 + (n << 8), 4000);
            (id_in_bucket(&local, bucket, 1_000_000 + n), addr)
        })
        .collect();

    let mut open = RoutingTable::new(local, host_limit_only(DEFAULT_MAX_PER_IP));
    for (node, addr) in &attack {
        open.on_answer(*node, *addr, Time::ZERO, None);
    }
    assert_eq!(
        open.len(),
        BUCKETS * K,
        "the per-IP limit alone lets it fill the table"
    );

    let mut t = RoutingTable::new(local, TableConfig::default());
    let mut refused = 0;
    for (node, addr) in &attack {
        match t.on_answer(*node, *addr, Time::ZERO, None) {
            Admission::Refused(Refusal::PrefixLimit) => refused += 1,
            Admission::Inserted => {}
            other => panic!("attacker offer: {other:?}"),
        }
    }
    let wide = attack[0].1.prefixes().wide;
    assert_eq!(t.len(), DEFAULT_MAX_PER_PREFIX_IN_TABLE);
    assert_eq!(admitted_from(&t, wide), DEFAULT_MAX_PER_PREFIX_IN_TABLE);
    // Each bucket took at most 2 of its 20 offers (some displaced shallower ones later).
    assert!(refused >= BUCKETS * (K - DEFAULT_MAX_PER_PREFIX_IN_BUCKET));
    // Its share ends in the deepest buckets, 2 each.
    let deepest = BUCKETS - DEFAULT_MAX_PER_PREFIX_IN_TABLE / DEFAULT_MAX_PER_PREFIX_IN_BUCKET;
    for bucket in 0..BUCKETS {
        let expected = if bucket >= deepest {
            DEFAULT_MAX_PER_PREFIX_IN_BUCKET
        } else {
            0
        };
        assert_eq!(t.bucket_len(bucket), expected, "bucket {bucket}");
    }

    for (node, addr) in &honest {
        let admission = t.on_answer(*node, *addr, Time::ZERO, None);
        assert!(
            matches!(admission, Admission::Inserted | Admission::Parked { .. }),
            "honest offer: {admission:?}"
        );
    }
    assert_eq!(
        t.len(),
        BUCKETS * K,
        "honest contacts fill every place left"
    );
    assert_eq!(admitted_from(&t, wide), DEFAULT_MAX_PER_PREFIX_IN_TABLE);
    for bucket in 0..BUCKETS {
        assert_eq!(t.bucket_len(bucket), K);
    }
}

#[test]
fn one_wide_prefix_holds_at_most_two_places_in_a_bucket() {
    let local = id(0);
    let mut t: RoutingTable<SocketAddr> = RoutingTable::new(local, TableConfig::default());
    let offer = |t: &mut RoutingTable<SocketAddr>, bucket, seed, addr: &str| {
        let addr = addr.parse().unwrap();
        t.on_answer(id_in_bucket(&local, bucket, seed), addr, Time::ZERO, None)
    };
    assert_eq!(offer(&mut t, 0, 1, "10.1.2.1:1"), Admission::Inserted);
    assert_eq!(offer(&mut t, 0, 2, "10.1.2.2:1"), Admission::Inserted);
    assert_eq!(
        offer(&mut t, 0, 3, "10.1.2.3:1"),
        Admission::Refused(Refusal::PrefixLimit)
    );
    assert_eq!(
        offer(&mut t, 0, 4, "10.1.3.3:1"),
        Admission::Inserted,
        "another /24"
    );
    assert_eq!(
        offer(&mut t, 1, 5, "10.1.2.3:1"),
        Admission::Inserted,
        "another bucket"
    );
    // IPv6: one /48 per site.
    assert_eq!(
        offer(&mut t, 2, 6, "[2001:db8:1:1::1]:1"),
        Admission::Inserted
    );
    assert_eq!(
        offer(&mut t, 2, 7, "[2001:db8:1:2::1]:1"),
        Admission::Inserted
    );
    assert_eq!(
        offer(&mut t, 2, 8, "[2001:db8:1:ffff::1]:1"),
        Admission::Refused(Refusal::PrefixLimit)
    );
    assert_eq!(
        offer(&mut t, 2, 9, "[2001:db8:2::1]:1"),
        Admission::Inserted
    );
}

#[test]
fn loopback_is_exempt_from_the_prefix_limits() {
    let local = id(0);
    let mut t: RoutingTable<SocketAddr> = RoutingTable::new(local, TableConfig::default());
    for n in 0..40u32 {
        let addr = SocketAddr::from(([127, 0, 0, 1], 4000 + n as u16));
        let node = id_in_bucket(&local, n as usize % 4, n);
        assert_eq!(
            t.on_answer(node, addr, Time::ZERO, None),
            Admission::Inserted
        );
    }
    assert_eq!(t.len(), 40);
    // Unless the limits are asked for on loopback too: then one address holds 2 entries.
    let config = TableConfig {
        limit_local: true,
        ..TableConfig::default()
    };
    let mut t: RoutingTable<SocketAddr> = RoutingTable::new(local, config);
    for n in 0..40u32 {
        let addr = SocketAddr::from(([127, 0, 0, 1], 4000 + n as u16));
        t.on_answer(
            id_in_bucket(&local, n as usize % 4, n),
            addr,
            Time::ZERO,
            None,
        );
    }
    assert_eq!(t.len(), 2);
}

/// A replacement parked while its /24 had room is not promoted once the /24 has filled its
/// bucket share: the failing entry stays until an admissible replacement turns up.
#[test]
fn replacements_are_promoted_only_within_the_prefix_limits() {
    let local = id(0);
    let mut t: RoutingTable<SocketAddr> = RoutingTable::new(local, TableConfig::default());
    let crowded = |n: u32| v4(0x0a01_0200 | n, 1); // 10.1.2.n
    let diverse = |n: u32| v4(0x0b00_0001 + (n << 8), 1);
    let ids: Vec<Id> = (0..K as u32 + 3)
        .map(|n| id_in_bucket(&local, 0, n))
        .collect();
    assert_eq!(
        t.on_answer(ids[0], crowded(1), Time::ZERO, None),
        Admission::Inserted
    );
    for (n, node) in ids.iter().enumerate().take(K).skip(1) {
        t.on_answer(*node, diverse(n as u32), Time::ZERO, None);
    }
    assert_eq!(t.bucket_len(0), K);
    for (at, addr) in [(K, crowded(2)), (K + 1, crowded(3))] {
        let admission = t.on_answer(ids[at], addr, Time::ZERO, None);
        assert!(
            matches!(admission, Admission::Parked { .. }),
            "{admission:?}"
        );
    }
    // The first diverse entry fails: the newest replacement (10.1.2.3) takes its place and the
    // /24 now holds 2 places in the bucket.
    assert!(t.on_failure(&ids[1]));
    assert!(t.get(&ids[K + 1]).is_some());
    // The second fails: the remaining replacement (10.1.2.2) would be a third, so it stays out.
    assert!(!t.on_failure(&ids[2]));
    assert!(t.get(&ids[2]).is_some() && t.get(&ids[K]).is_none());
    // Removing a crowded entry makes room for it again.
    assert!(t.remove(&ids[0]));
    assert!(t.get(&ids[K]).is_some());
    assert_eq!(t.bucket_len(0), K);
}

/// A /24 at its share of the table keeps it in the deepest buckets: a newcomer of it with room
/// in a deeper bucket displaces its entry in the shallowest one, which refills from its
/// replacements; with no such entry (or no room) the newcomer is refused.
#[test]
fn a_prefix_at_its_table_share_keeps_its_deepest_entries() {
    let local = id(0);
    let config = TableConfig {
        max_per_prefix_in_table: 3,
        ..TableConfig::default()
    };
    let mut t: RoutingTable<SocketAddr> = RoutingTable::new(local, config);
    let crowded = |n: u32| v4(0x0a01_0200 | n, 1); // 10.1.2.n
    let diverse = |n: u32| v4(0x0b00_0001 + (n << 8), 1);
    // Bucket 0 full: 19 diverse entries and one of the crowded /24, one diverse replacement.
    for n in 0..K as u32 - 1 {
        t.on_answer(id_in_bucket(&local, 0, n), diverse(n), Time::ZERO, None);
    }
    let shallow = id_in_bucket(&local, 0, 100);
    assert_eq!(
        t.on_answer(shallow, crowded(1), Time::ZERO, None),
        Admission::Inserted
    );
    let waiting = id_in_bucket(&local, 0, 101);
    let parked = t.on_answer(waiting, diverse(101), Time::ZERO, None);
    assert!(matches!(parked, Admission::Parked { .. }));
    // Two more of the /24 in buckets 3 and 5: at its share (3).
    for (bucket, n) in [(3, 2), (5, 3)] {
        let node = id_in_bucket(&local, bucket, 200 + n);
        assert_eq!(
            t.on_answer(node, crowded(n), Time::ZERO, None),
            Admission::Inserted
        );
    }
    let refused = t.on_answer(id_in_bucket(&local, 0, 300), crowded(4), Time::ZERO, None);
    assert_eq!(
        refused,
        Admission::Refused(Refusal::PrefixLimit),
        "no shallower entry"
    );
    let deep = id_in_bucket(&local, 8, 301);
    assert_eq!(
        t.on_answer(deep, crowded(5), Time::ZERO, None),
        Admission::Inserted
    );
    assert!(t.get(&shallow).is_none(), "the shallowest entry made way");
    assert!(
        t.get(&waiting).is_some(),
        "and its bucket refilled from its replacements"
    );
    assert_eq!(t.bucket_len(0), K);
    assert_eq!(admitted_from(&t, crowded(0).prefixes().wide), 3);
    assert_eq!(t.len(), K + 3);
}
