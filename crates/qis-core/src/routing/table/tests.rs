use super::*;
use crate::addr::SimAddr;

fn id(n: u32) -> Id {
    Id::hash(&n.to_le_bytes())
}

fn table(max_per_host: usize) -> RoutingTable<SimAddr> {
    RoutingTable::new(
        id(0),
        TableConfig {
            bucket_size: K,
            max_per_host,
        },
    )
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
        Admission::Refused
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
    let mut t: RoutingTable<std::net::SocketAddr> = RoutingTable::new(
        id(0),
        TableConfig {
            bucket_size: K,
            max_per_host: 2,
        },
    );
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
        Admission::Refused
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
