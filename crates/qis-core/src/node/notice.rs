//! Telling a requester of another network which network this node runs (see
//! [`crate::wire::network_notice`]), within a budget of
//! [`MAX_NETWORK_NOTICES_PER_SECOND`]: the notice is protocol behaviour, so it lives in the
//! core, where the simulator and every driver run it alike.

use super::{Node, Transmit};
use crate::addr::PeerAddr;
use crate::constants::MAX_NETWORK_NOTICES_PER_SECOND;
use crate::time::{Duration, Time};
use crate::wire::{self, Role};

/// How many notices may still go out in the current one-second window.
#[derive(Debug, Default)]
pub(super) struct NoticeBudget {
    window_start: Option<Time>,
    sent_in_window: u32,
}

impl NoticeBudget {
    /// Takes one notice from the budget, if any is left at `now`.
    fn take(&mut self, now: Time) -> bool {
        let open = self
            .window_start
            .is_some_and(|start| now < start + Duration::from_secs(1));
        if !open {
            self.window_start = Some(now);
            self.sent_in_window = 0;
        }
        if self.sent_in_window >= MAX_NETWORK_NOTICES_PER_SECOND {
            return false;
        }
        self.sent_in_window += 1;
        true
    }
}

impl<A: PeerAddr> Node<A> {
    /// `bytes` from `from` belong to another network: a serving node answers a well-formed
    /// request of it with a notice, while the budget lasts. Clients stay silent.
    pub(super) fn notify_other_network(&mut self, now: Time, from: A, bytes: &[u8]) {
        if self.config.role != Role::Node || !self.notices.take(now) {
            return;
        }
        let ours = self.config.network;
        let Some(payload) = wire::network_notice::<A>(bytes, ours, self.id) else {
            return;
        };
        self.metrics.network_notices_sent += 1;
        self.metrics.datagrams_out += 1;
        self.metrics.bytes_out += payload.len() as u64;
        self.transmits.push_back(Transmit {
            to: from,
            payload,
            via: super::Endpoint::Main,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_limited_per_second() {
        let mut budget = NoticeBudget::default();
        let t = Time::ZERO + Duration::from_secs(5);
        let sent = (0..100).filter(|_| budget.take(t)).count();
        assert_eq!(sent, MAX_NETWORK_NOTICES_PER_SECOND as usize);
        assert!(!budget.take(t + Duration::from_millis(999)));
        assert!(budget.take(t + Duration::from_secs(1)));
    }
}
