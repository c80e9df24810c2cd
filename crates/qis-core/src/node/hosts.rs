//! Strangers and first contacts: the defence against reflection through lying answers.
//!
//! The contacts a lookup follows come from other nodes' answers, so a liar can name a victim's
//! address twenty times (one port each) in every answer, and each lookup through it would send
//! the victim padded FIND requests (padded so that an answer fits three times the request) and
//! their retries. A node therefore tells hosts (IPv4 /32, IPv6 /64) that have answered it from
//! strangers: to a stranger a lookup sends at most [`FIRST_CONTACTS_PER_WINDOW`] requests per
//! [`FIRST_CONTACT_WINDOW`], and never resends one (one probe per learned contact; it still
//! waits the request's full patience, so a slow node is not lost, only a lost datagram is not
//! made up for). A host that answered one of our requests (the answer matched a transaction id
//! we sent it, which an off-path spoofer cannot guess) is no longer a stranger; neither is a
//! peer of our routing table.
//!
//! Memory is bounded and everything is deterministic: the hosts heard are kept in two
//! generations of [`HEARD_HOSTS_GENERATION`] (the older dropped when the newer fills), the
//! first-contact counts for the current window only, for at most [`FIRST_CONTACT_HOSTS`] hosts.

use crate::constants::{
    FIRST_CONTACT_HOSTS, FIRST_CONTACT_WINDOW, FIRST_CONTACTS_PER_WINDOW, HEARD_HOSTS_GENERATION,
};
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet};

/// What a node remembers of the hosts it talks to.
#[derive(Debug, Default)]
pub(super) struct Hosts {
    /// Hosts that answered us, newer generation.
    heard: BTreeSet<u128>,
    /// The generation before.
    heard_before: BTreeSet<u128>,
    /// The window `first` counts for (`now` divided by the window's length).
    window: u64,
    /// First contacts sent this window, per stranger.
    first: BTreeMap<u128, u8>,
}

impl Hosts {
    /// `host` answered one of our requests.
    pub(super) fn heard_from(&mut self, host: u128) {
        if self.heard.contains(&host) {
            return;
        }
        if self.heard.len() >= HEARD_HOSTS_GENERATION {
            self.heard_before = std::mem::take(&mut self.heard);
        }
        self.heard.insert(host);
        self.first.remove(&host);
    }

    /// True if `host` answered us recently enough to be remembered.
    pub(super) fn has_heard(&self, host: u128) -> bool {
        self.heard.contains(&host) || self.heard_before.contains(&host)
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
    fn heard_hosts_are_bounded_and_age_out_by_generations() {
        let mut hosts = Hosts::default();
        hosts.heard_from(1);
        assert!(hosts.has_heard(1) && !hosts.has_heard(2));
        for h in 2..=(2 * HEARD_HOSTS_GENERATION as u128 + 1) {
            hosts.heard_from(h);
        }
        assert!(!hosts.has_heard(1), "two generations later it is forgotten");
        assert!(hosts.has_heard(2 * HEARD_HOSTS_GENERATION as u128));
        assert!(hosts.heard.len() + hosts.heard_before.len() <= 2 * HEARD_HOSTS_GENERATION);
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
