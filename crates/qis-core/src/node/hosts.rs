//! Strangers and first contacts: the defence against reflection through lying answers.
//!
//! The contacts a lookup follows come from other nodes' answers, so a liar can name a victim's
//! address twenty times (one port each) in every answer, and each lookup through it would send
//! the victim padded FIND requests (padded so that an answer fits three times the request) and
//! their retries. A node therefore tells hosts (IPv4 /32, IPv6 /64) that have answered it from
//! strangers: to a stranger a lookup sends at most [`FIRST_CONTACTS_PER_WINDOW`] requests per
//! [`FIRST_CONTACT_WINDOW`], and resends each at most once ([`STRANGER_ATTEMPTS`] sends in
//! all, where a known host gets [`MAX_REQUEST_ATTEMPTS`]; the request's full patience is still
//! waited, so a slow node is not lost). A host that answered one of our requests (the answer matched a transaction id
//! we sent it, which an off-path spoofer cannot guess) is no longer a stranger; neither is a
//! peer of our routing table.
//!
//! Memory is bounded and everything is deterministic: the last [`HEARD_HOSTS`] hosts heard are
//! kept, the first-contact counts for the current window only, for at most
//! [`FIRST_CONTACT_HOSTS`] hosts that have not answered.

use crate::constants::{
    FIRST_CONTACT_HOSTS, FIRST_CONTACT_WINDOW, FIRST_CONTACTS_PER_WINDOW, HEARD_HOSTS,
};
#[cfg(doc)]
use crate::constants::{MAX_REQUEST_ATTEMPTS, STRANGER_ATTEMPTS};
use crate::time::Time;
use std::collections::BTreeMap;

/// What a node remembers of the hosts it talks to.
#[derive(Debug, Default)]
pub(super) struct Hosts {
    /// Hosts that answered us, folded to 64 bits (see [`fold`]): a ring of at most
    /// [`HEARD_HOSTS`], the oldest overwritten first. A flat array rather than a tree: a
    /// simulated network holds one per node, and eight bytes a host keep it at 1 KiB.
    heard: Vec<u64>,
    /// Where the ring writes next once full.
    next: usize,
    /// The window `first` counts for (`now` divided by the window's length).
    window: u64,
    /// First contacts sent this window, per stranger; a stranger that answers leaves it, so it
    /// holds only hosts that did not (yet).
    first: BTreeMap<u128, u8>,
}

/// A host key (IPv4 /32, IPv6 /64, as masked by [`crate::addr::Prefixes`]) in 64 bits: an
/// IPv4 host lives in the low half (IPv4-mapped), an IPv6 /64 in the high half with the low
/// half zero, so folding the halves together loses nothing for either (only an IPv6 /64 inside
/// reserved `0:ffff::/32` could meet an IPv4 address, and no host is there).
fn fold(host: u128) -> u64 {
    (host >> 64) as u64 ^ host as u64
}

impl Hosts {
    /// `host` answered one of our requests.
    pub(super) fn heard_from(&mut self, host: u128) {
        if !self.first.is_empty() {
            self.first.remove(&host);
        }
        let folded = fold(host);
        if self.heard.contains(&folded) {
            return;
        }
        if self.heard.len() < HEARD_HOSTS {
            self.heard.push(folded);
        } else {
            self.heard[self.next] = folded;
            self.next = (self.next + 1) % HEARD_HOSTS;
        }
    }

    /// True if `host` answered us recently enough to be remembered.
    pub(super) fn has_heard(&self, host: u128) -> bool {
        self.heard.contains(&fold(host))
    }

    /// Counts a first contact to the stranger `host` at `now`; false if it is over its
    /// [`FIRST_CONTACTS_PER_WINDOW`] (or this window counts [`FIRST_CONTACT_HOSTS`] strangers
    /// already), and must not be sent.
    pub(super) fn first_contact(&mut self, host: u128, now: Time) -> bool {
        let window = now.as_micros() / FIRST_CONTACT_WINDOW.as_micros() as u64;
        if window != self.window {
            self.window = window;
            self.first = BTreeMap::new();
        }
        let full = self.first.len() >= FIRST_CONTACT_HOSTS;
        match self.first.get_mut(&host) {
            Some(sent) if *sent >= FIRST_CONTACTS_PER_WINDOW => false,
            Some(sent) => {
                *sent += 1;
                true
            }
            None if full => false,
            None => {
                self.first.insert(host, 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn a_stranger_gets_its_first_contacts_per_window_and_no_more() {
        let mut hosts = Hosts::default();
        let t0 = Time::ZERO + Duration::from_secs(5);
        for _ in 0..FIRST_CONTACTS_PER_WINDOW {
            assert!(hosts.first_contact(7, t0));
        }
        assert!(!hosts.first_contact(7, t0));
        assert!(hosts.first_contact(8, t0), "another host has its own count");
        let next = t0 + FIRST_CONTACT_WINDOW;
        assert!(hosts.first_contact(7, next), "a new window starts afresh");
    }

    #[test]
    fn heard_hosts_are_bounded_and_the_oldest_go_first() {
        let mut hosts = Hosts::default();
        hosts.heard_from(1);
        assert!(hosts.has_heard(1) && !hosts.has_heard(2));
        for h in 2..=(HEARD_HOSTS as u128) {
            hosts.heard_from(h);
        }
        assert!(hosts.has_heard(1), "still within the ring");
        hosts.heard_from(1);
        hosts.heard_from(HEARD_HOSTS as u128 + 1);
        assert!(!hosts.has_heard(1), "the oldest made room");
        assert!(hosts.has_heard(2) && hosts.has_heard(HEARD_HOSTS as u128 + 1));
        assert_eq!(hosts.heard.len(), HEARD_HOSTS);
    }

    #[test]
    fn an_answer_ends_a_hosts_first_contacts() {
        let mut hosts = Hosts::default();
        assert!(hosts.first_contact(9, Time::ZERO));
        hosts.heard_from(9);
        assert!(hosts.first.is_empty() && hosts.has_heard(9));
    }

    #[test]
    fn ipv4_and_ipv6_host_keys_fold_apart() {
        use crate::addr::PeerAddr;
        use std::net::SocketAddr;
        let host = |s: &str| s.parse::<SocketAddr>().unwrap().prefixes().host;
        let keys = [
            host("10.1.2.3:1"),
            host("10.1.2.4:1"),
            host("[2001:db8:1:2::1]:1"),
            host("[2001:db8:1:3::1]:1"),
            host("[::a01:203]:1"),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(fold(*a), fold(*b));
            }
        }
    }

    #[test]
    fn a_window_counts_a_bounded_number_of_strangers() {
        let mut hosts = Hosts::default();
        for h in 0..FIRST_CONTACT_HOSTS as u128 {
            assert!(hosts.first_contact(h, Time::ZERO));
        }
        assert!(!hosts.first_contact(u128::MAX, Time::ZERO));
        assert_eq!(hosts.first.len(), FIRST_CONTACT_HOSTS);
    }
}
