//! What the reachability checks decided in a run with a share of nodes behind NATs
//! (`--unreachable F`), held against the truth the simulator knows.

use crate::world::Simulation;
use qis_core::{Endpoint, Verdict};
use serde::{Deserialize, Serialize};

/// Verdicts of the live automatic-role nodes of one kind (open, or behind a NAT) at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Judged reachable: full nodes.
    pub reachable: u64,
    /// Judged unreachable: clients.
    pub unreachable: u64,
    /// Not decided yet: clients.
    pub unknown: u64,
}

impl VerdictCounts {
    fn count(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Reachable => self.reachable += 1,
            Verdict::Unreachable => self.unreachable += 1,
            Verdict::Unknown => self.unknown += 1,
        }
    }
}

/// The reachability part of a report (`SimReport::reachability`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReachabilityReport {
    /// Fraction of nodes asked to be behind a NAT.
    pub fraction: f64,
    /// Live nodes behind a NAT at the end.
    pub behind_nat: u64,
    /// Verdicts of the live open nodes (node 0, fixed as a full node, not counted).
    pub open: VerdictCounts,
    /// Verdicts of the live nodes behind a NAT: any `reachable` is a node others would enter
    /// into their tables and time out on.
    pub natted: VerdictCounts,
    /// Routing-table entries, over every live node, that point at a node behind a NAT.
    pub table_entries_to_natted: u64,
    /// Live nodes whose table holds at least one node behind a NAT.
    pub tables_holding_natted: u64,
    /// Datagrams the NATs dropped (from endpoints their node never sent to): probes, and
    /// requests to natted nodes that others still hold.
    pub datagrams_filtered: u64,
    /// Reachability checks started, over every node.
    pub checks: u64,
    /// Probes that reached a node and counted, over every node.
    pub probes_received: u64,
}

impl Simulation {
    /// The reachability report, if the run put nodes behind NATs.
    pub(crate) fn reachability_report(&self) -> Option<ReachabilityReport> {
        if self.config.unreachable <= 0.0 {
            return None;
        }
        let mut report = ReachabilityReport {
            fraction: self.config.unreachable,
            behind_nat: 0,
            open: VerdictCounts::default(),
            natted: VerdictCounts::default(),
            table_entries_to_natted: 0,
            tables_holding_natted: 0,
            datagrams_filtered: self.traffic.filtered,
            checks: 0,
            probes_received: 0,
        };
        for slot in &self.slots {
            let Some(node) = &slot.node else { continue };
            let natted = slot.nat.is_some();
            report.behind_nat += u64::from(natted);
            if let Some(reach) = node.reachability() {
                let counts = if natted {
                    &mut report.natted
                } else {
                    &mut report.open
                };
                counts.count(reach.verdict);
            }
            report.checks += node.metrics().reach_checks;
            report.probes_received += node.metrics().reach_probes_received;
            let held = node
                .table()
                .entries()
                .filter(|e| self.is_natted_main(e.addr))
                .count() as u64;
            report.table_entries_to_natted += held;
            report.tables_holding_natted += u64::from(held > 0);
        }
        Some(report)
    }

    /// True if `addr` is the main socket of a slot behind a NAT.
    fn is_natted_main(&self, addr: qis_core::SimAddr) -> bool {
        matches!(self.addresses.endpoint(addr), Some((slot, Endpoint::Main))
            if self.slots.get(slot as usize).is_some_and(|s| s.nat.is_some()))
    }
}
