//! The one rule that makes acknowledgements honest, shared by the UDP driver and the tests
//! that cut power under it: after each input, the changes it made to the held records are
//! written down and synced *before* anything it produced is sent.

use super::{Journal, JournalError};
use qis_core::{HeldChange, HeldRecord, Node, PeerAddr, RestoreReport, Time};

/// What writing down one input's changes came to.
#[derive(Debug)]
pub enum Commit {
    /// The input changed nothing held.
    Nothing,
    /// Its changes are durable: what it produced may be sent.
    Durable,
    /// They could not be written.
    Failed {
        /// Why.
        error: JournalError,
        /// True if a change a datagram about to be sent may acknowledge (a new or refreshed
        /// record) is among them: those datagrams must not be sent. Removals alone vouch for
        /// nothing sent (a record that should have been dropped, restored, expires or is
        /// evicted again).
        withhold: bool,
    },
}

impl Commit {
    /// Whether the datagrams the input produced may be sent.
    pub fn may_send(&self) -> bool {
        !matches!(self, Commit::Failed { withhold: true, .. })
    }
}

impl Journal {
    /// Takes every change `node` queued (see [`qis_core::Node::poll_held_change`]) and
    /// commits them at once (one group commit), then compacts if the journal has grown
    /// enough. Call it after every input, before sending the node's transmits, and send
    /// them only if [`Commit::may_send`].
    pub fn write_down<A: PeerAddr>(
        &mut self,
        node: &mut Node<A>,
        now: Time,
        now_unix: u64,
    ) -> Commit {
        let changes: Vec<HeldChange> = std::iter::from_fn(|| node.poll_held_change()).collect();
        if changes.is_empty() {
            return Commit::Nothing;
        }
        if let Err(error) = self.commit(&changes, now_unix) {
            let withhold = changes
                .iter()
                .any(|c| !matches!(c, HeldChange::Removed { .. }));
            return Commit::Failed { error, withhold };
        }
        if self.wants_compaction() {
            // A failed compaction leaves the journal as it was: still whole, only longer.
            if let Err(error) = self.compact(&node.held_records(now), now_unix) {
                tracing::warn!(%error, "could not compact the journal of held records");
            }
        }
        Commit::Durable
    }

    /// Gives a restarted `node` the records the journal held (`records`, from
    /// [`Journal::open`]), each checked again as a fresh store, then rewrites the journal as
    /// exactly what the node took back (dropping what expired, failed its checks, or was cut
    /// off). A failed rewrite leaves the journal as it was, which is still correct.
    pub fn restore_into<A: PeerAddr>(
        &mut self,
        node: &mut Node<A>,
        records: Vec<HeldRecord>,
        now: Time,
        now_unix: u64,
    ) -> (RestoreReport, Result<(), JournalError>) {
        let report = node.restore_held(now, records);
        // Restores queue nothing, but anything queued before belongs to the old journal.
        while node.poll_held_change().is_some() {}
        let rewritten = self.compact(&node.held_records(now), now_unix);
        (report, rewritten)
    }
}
