//! Counters a node keeps: traffic, and every datagram or record it refused, by reason.

use serde::Serialize;

/// Traffic and rejection counters. Every drop of network input increments exactly one
/// `dropped_*` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Requests answered.
    pub requests_answered: u64,
    /// Requests sent (retries included).
    pub requests_sent: u64,
    /// Requests that got no answer after all attempts.
    pub requests_failed: u64,
    /// Requests resent after a timeout.
    pub retries: u64,
    /// Dropped: could not be decoded.
    pub dropped_malformed: u64,
    /// Dropped: larger than the datagram budget.
    pub dropped_oversize: u64,
    /// Dropped: another protocol version.
    pub dropped_version: u64,
    /// Dropped: another network.
    pub dropped_wrong_network: u64,
    /// Dropped: a response matching no request we have out (late, replayed or forged).
    pub dropped_unknown_txid: u64,
    /// Dropped: a response from an address other than the one asked.
    pub dropped_spoofed: u64,
    /// Dropped: a response whose sender is not the node we asked.
    pub dropped_wrong_sender: u64,
    /// Dropped: an answer to a challenged request without a valid identity proof of the
    /// sender's id (missing, forged, for another id, an invalid key, or work short of the
    /// network's difficulty). Treated as no answer.
    pub dropped_unproven: u64,
    /// Identity proofs we sent (answers to challenges).
    pub proofs_sent: u64,
    /// Identity proofs checked (answers of challenged, non-table responders).
    pub proofs_checked: u64,
    /// Of those, proofs whose id work was evaluated (a first meeting: one Argon2id
    /// evaluation each, the costliest step; later proofs of the same id hit the proven set).
    pub id_work_evaluations: u64,
    /// Challenges answered without a proof because the sender's prefix was over its share of
    /// the signing budget (the requester treats such an answer as none).
    pub proofs_withheld: u64,
    /// Dropped: a response that does not fit the request (e.g. values to a ping).
    pub dropped_unexpected: u64,
    /// Dropped: the source host (IPv4 /32, IPv6 /64) is over its request rate.
    pub dropped_rate_limited: u64,
    /// Dropped: an unproven source whose prefix (IPv4 /24, IPv6 /48) is over its share of the
    /// serving budget for unproven sources.
    pub dropped_over_budget: u64,
    /// Dropped: a request sent to a client (clients do not serve).
    pub dropped_not_serving: u64,
    /// Records dropped from an answer to our get because their signature or contents fail the
    /// record policy (forged or corrupted by a holder). The rest of the answer is used, so
    /// this counts records, not datagrams, and is not part of [`Metrics::dropped`].
    pub dropped_forged_records: u64,
    /// Contacts dropped from answers because no node can be at their address (unspecified,
    /// port 0, multicast, broadcast). Counts contacts, not datagrams.
    pub contacts_refused: u64,
    /// Lookup requests not sent because their host (IPv4 /32, IPv6 /64) never answered us and
    /// had its `FIRST_CONTACTS_PER_WINDOW` this window already: the lookup counted the
    /// candidate as failed. High on a node that lookups keep steering at one address (a
    /// reflection attempt through lying answers).
    pub first_contacts_limited: u64,
    /// Network notices sent: answers telling a requester of another network which network
    /// this node runs (at most `MAX_NETWORK_NOTICES_PER_SECOND`).
    pub network_notices_sent: u64,
    /// Messages of our own that did not encode within the datagram budget: a bug in what we
    /// built, never caused by input; they were not sent.
    pub encode_failures: u64,
    /// Datagrams of our own not sent because the upload budget (`Config::max_upload`) was
    /// spent: maintenance first, then answers and lookups. Not part of [`Metrics::dropped`].
    pub upload_shed: u64,
    /// Answers cut to respect the amplification limit.
    pub answers_cut: u64,
    /// Records stored (new or refreshed).
    pub records_stored: u64,
    /// Records held before a restart and taken back (see `Node::restore_held`).
    pub records_restored: u64,
    /// Stores refused: bad or missing token.
    pub store_refused_token: u64,
    /// Stores refused: invalid record (size, signature, policy).
    pub store_refused_invalid: u64,
    /// Stores refused: the source's prefix is over its share of the signature-check budget.
    pub store_refused_busy: u64,
    /// Stores refused: store full (in total or under the key) and the record's publisher
    /// holds the most, so nothing is evicted for it.
    pub store_refused_full: u64,
    /// Stores refused: the record's publisher holds its quota (under the key or in all).
    pub store_refused_publisher_quota: u64,
    /// Stores refused: the source's wide prefix has its quota of records stored.
    pub store_refused_prefix_quota: u64,
    /// Stores refused: the record's `created` time is more than `MAX_CLOCK_SKEW` ahead of the
    /// node's wall clock (answered as invalid).
    pub store_refused_future: u64,
    /// Records evicted to make room for a newcomer (expired, or from the publisher holding the
    /// most).
    pub records_evicted: u64,
    /// Records that expired.
    pub records_expired: u64,
    /// Nodes that answered us but were kept out of the routing table because their wide prefix
    /// (IPv4 /24, IPv6 /48) holds its share of it already (per bucket or in all; see
    /// `TableConfig`). Counts offers, not distinct nodes.
    pub table_refused_prefix: u64,
    /// Holders our puts and republishes audited: a FIND_VALUE from the audit socket to each
    /// node that acknowledged a store.
    pub holders_audited: u64,
    /// Audited holders that served the record they acknowledged.
    pub holders_verified: u64,
    /// Dropped: a request that reached the audit socket, which serves nothing.
    pub dropped_audit_request: u64,
    /// Dropped: a reachability probe with a nonce of no check of ours (late, repeated or
    /// forged; see [`crate::ReachReport`]).
    pub dropped_probe: u64,
    /// Reachability checks started (each asks up to `REACH_PROBERS` peers).
    pub reach_checks: u64,
    /// Reachability probes received that counted for a check.
    pub reach_probes_received: u64,
    /// `Observe` requests we answered.
    pub observes_answered: u64,
    /// Reachability probes we sent for others (dial-backs from the audit socket).
    pub reach_probes_sent: u64,
}

impl Metrics {
    /// Sum of all `dropped_*` counters.
    pub fn dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_oversize
            + self.dropped_version
            + self.dropped_wrong_network
            + self.dropped_unknown_txid
            + self.dropped_spoofed
            + self.dropped_wrong_sender
            + self.dropped_unproven
            + self.dropped_unexpected
            + self.dropped_rate_limited
            + self.dropped_over_budget
            + self.dropped_not_serving
            + self.dropped_audit_request
            + self.dropped_probe
    }
}
