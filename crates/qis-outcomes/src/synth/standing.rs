//! Standing: how far this client trusts each publisher, computed locally from feedback and
//! rooted in the client's own realised outcomes. No node serves a score anyone must believe.
//!
//! # Observations
//!
//! An *observation* of a packet X says what happened when somebody built on X: the gain they
//! realised against the gain X claimed, weighted by how close the recipe they ran was to X's
//! ([`recipe_proximity`]: a result says nothing about a recipe nobody ran). It *agrees* when the realised gain is no more than
//! [`tolerance`] below the claim (two combined standard errors of the two evaluations plus
//! [`CONTEXT_SLACK`] for the difference between their contexts); a realised gain above the
//! claim always agrees (under-claiming is not lying). Observations come from:
//!
//! * the client's own [`Ledger`]: its realised outcomes and the claims each checks — the
//!   packets it fetched for recipes close to the one it ran, whether or not they were among
//!   the contributors, weighted by [`Claim::weight`] (ground truth for this client, about the
//!   recipe it ran);
//! * the packets it fetched: a packet Y whose `built_on` names X is Y's publisher's report on X,
//!   weighted by *that publisher's* standing from the previous pass, so reports by keys nobody
//!   vouches for (fresh Sybils, colluding liars) weigh nothing. Self-reports (Y and X by one
//!   publisher) are ignored;
//! * the [reproductions](crate::Reproduction) fetched with the packets (stored under the
//!   same keys): somebody's re-run of X's own recipe, weighted [`REPRODUCTION_WEIGHT`] times the
//!   reproducer's standing from the previous pass, exactly like a report. Only a re-run measured
//!   as X was (benchmark, metric, filter, shots, scale) counts; a reproducer's newest report on
//!   X replaces its older ones (repeating a report adds nothing), and a report on one's own
//!   packet counts for nothing (a fresh key's "reproduction" of a Sybil sibling has no
//!   standing behind it, so it counts for nothing too).
//!
//! Each observation's weight halves every [`HALF_LIFE_SECS`] of age (from its packet's
//! creation time to `now`), so standing follows a publisher's recent behaviour.
//!
//! # Standing and trust
//!
//! A publisher's standing is `A / (A + D + PRIOR_WEIGHT)` with `A` and `D` the weights of the
//! agreeing and disagreeing observations of its packets: 0 for a key nobody has observed, and
//! the same 0 for a key caught lying, so **a fresh key buys nothing** (whitewashing: a caught
//! liar who returns with a new key starts where it was left). [`PRIOR_WEIGHT`] = 1 is the
//! minimum evidence before standing moves far: one agreeing observation gives 1/2, five give
//! 5/6, and a standing under [`MIN_STANDING`] (1/4) counts as none, so observations of recipes
//! far from the claim's (tiny proximity) never make it established. Keys the user lists as
//! trusted have standing 1. Standing is computed in
//! [`PASSES`] passes, each weighing the fetched reports by the previous pass's standing, so it
//! spreads from the client's own outcomes to the publishers those vouch for, and on.
//!
//! Reports also judge the packet they name: a packet's *credence* is
//! `(PRIOR_WEIGHT + A) / (PRIOR_WEIGHT + A + D)` over the credible reports on that packet alone
//! (1 when there are none), so one failed reproduction by a fully established reproducer halves
//! the packet's trust, while its publisher's other packets lose only what the publisher's
//! standing loses.
//!
//! The evidence weight's trust factor is `(TRUST_FLOOR + (1 − TRUST_FLOOR) × standing) ×
//! credence`: a
//! packet nobody vouches for still counts (without any feedback, synthesis must still work),
//! but at a five-hundredth of a fully established one; and where anyone is established, the
//! unproven evidence together carries at most [`UNPROVEN_SHARE`] (10%) of the weight, so a crowd
//! of fresh keys (Sybils) cannot buy by number what each key lacks (in the elections at 1,000
//! publishers with 20% Sybil liars, the cap took the worst round from 1.04× to 1.01× the regret
//! of no network, with the honest runs unchanged). The recommendation also uses
//! standing directly: claimed gains rank methods and pull hyperparameters only for
//! publishers with standing ([`recommend`](super::recommend::recommend)).

use super::evidence::Evidence;
use super::proximity::recipe_proximity;
use crate::packet::{KeyLevel, OutcomeBody, Reproduction, ReproductionBody};
use qis_core::{PublicKey, RecordId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Pseudo-weight of "not yet observed" in every publisher's standing.
pub const PRIOR_WEIGHT: f64 = 1.0;

/// Trust of a packet whose publisher has no standing (fresh, or caught).
pub const TRUST_FLOOR: f64 = 0.002;

/// Allowance, in unit-interval points, for the difference between the claimant's context and
/// the observer's.
pub const CONTEXT_SLACK: f64 = 0.02;

/// Age at which an observation counts half.
pub const HALF_LIFE_SECS: u64 = 90 * 24 * 3600;

/// Passes over the fetched reports.
pub const PASSES: usize = 3;

/// A claim one of the client's results checks: a packet it fetched whose recipe is close to
/// the one it ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The packet.
    pub id: RecordId,
    /// Its publisher.
    pub publisher: PublicKey,
    /// The gain it claimed (unit-interval points).
    pub gain: f64,
    /// The claim's evaluation size.
    pub eval_samples: u32,
    /// How much the client's result says about the claim, in `[0, 1]`: the proximity of the
    /// recipes ([`recipe_proximity`](super::proximity::recipe_proximity)) times the similarity
    /// of the claim's context to the client's.
    pub weight: f64,
    /// The key level the claim's packet was found at, when known (what
    /// [`levels`](super::levels) learns from; absent in ledgers written before levels were
    /// kept, and for re-runs of one packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<KeyLevel>,
}

impl Claim {
    /// The claim of `body` (packet `id` by `publisher`, context `similarity` to the client's),
    /// as checked by the client's run of `ran`.
    pub fn checked_by(
        id: RecordId,
        publisher: PublicKey,
        body: &OutcomeBody,
        similarity: f64,
        ran: &OutcomeBody,
    ) -> Claim {
        Claim {
            id,
            publisher,
            gain: body.normalized_gain(),
            eval_samples: body.eval_samples,
            weight: recipe_proximity(ran, body) * similarity.clamp(0.0, 1.0),
            level: None,
        }
    }
}

/// Claims one outcome checks, at most: the closest to the recipe run.
pub const CHECKED_CLAIMS: usize = 32;

/// Least weight (recipe proximity × context similarity) a claim needs to be checked.
pub const MIN_CHECK_WEIGHT: f64 = 0.05;

/// The claims an outcome checks among `claims`: those of at least [`MIN_CHECK_WEIGHT`], the
/// [`CHECKED_CLAIMS`] heaviest, heaviest first (ties by packet id).
pub fn closest(claims: impl IntoIterator<Item = Claim>) -> Vec<Claim> {
    let mut kept: Vec<Claim> = claims
        .into_iter()
        .filter(|c| c.weight >= MIN_CHECK_WEIGHT)
        .collect();
    kept.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.id.cmp(&b.id)));
    kept.truncate(CHECKED_CLAIMS);
    kept
}

/// One of the client's own results: what it realised, and the claims it checks (those it
/// built on, and any it fetched for a recipe close to the one it ran).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnOutcome {
    /// The claims checked.
    pub checked: Vec<Claim>,
    /// The realised gain (unit-interval points).
    pub realised: f64,
    /// The evaluation size of the realised gain.
    pub eval_samples: u32,
    /// When it was realised (Unix seconds).
    pub created: u64,
}

/// The client's own results: the root of its standing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Results, oldest first.
    pub outcomes: Vec<OwnOutcome>,
    /// Publishers the user trusts outright.
    pub trusted: Vec<PublicKey>,
}

/// The standard error of a gain measured on `n` items, taken at its largest (a proportion
/// near 0.5, two scores): `√(0.5 / n)`.
pub fn gain_stderr(n: u32) -> f64 {
    (0.5 / f64::from(n.max(1))).sqrt()
}

/// How far below a claim (measured on `claim_n` items) a realised gain (on `real_n`) may fall
/// and still agree with it.
pub fn tolerance(claim_n: u32, real_n: u32) -> f64 {
    let (a, b) = (gain_stderr(claim_n), gain_stderr(real_n));
    2.0 * (a * a + b * b).sqrt() + CONTEXT_SLACK
}

fn agrees(claimed: f64, claim_n: u32, realised: f64, real_n: u32) -> bool {
    realised >= claimed - tolerance(claim_n, real_n)
}

/// Whether reproduction `report` confirms `claim`, the packet it re-ran: `None` when it was not
/// measured as the packet was (it then says nothing of it), else whether its realised gain
/// agrees with the claimed one. Holders rank packets by the same verdict (`OutcomePolicy`).
pub fn reproduction_agrees(report: &ReproductionBody, claim: &OutcomeBody) -> Option<bool> {
    report.measured_like(claim).then(|| {
        agrees(
            claim.normalized_gain(),
            claim.eval_samples,
            report.normalized_gain(),
            report.eval_samples,
        )
    })
}

fn decay(created: u64, now: u64) -> f64 {
    let age = now.saturating_sub(created) as f64;
    0.5f64.powf(age / HALF_LIFE_SECS as f64)
}

#[derive(Clone, Copy, Default)]
struct Tally {
    agree: f64,
    disagree: f64,
}

impl Tally {
    fn add(&mut self, agrees: bool, weight: f64) {
        if agrees {
            self.agree += weight;
        } else {
            self.disagree += weight;
        }
    }

    fn standing(self) -> f64 {
        self.agree / (self.agree + self.disagree + PRIOR_WEIGHT)
    }
}

/// A reproduction report as synthesis reads it (decoded once; a simulation shares the body).
#[derive(Clone, Debug, PartialEq)]
pub struct Reproduced {
    /// The report's record id.
    pub id: RecordId,
    /// Who re-ran the packet.
    pub reproducer: PublicKey,
    /// When the report was signed (Unix seconds).
    pub created: u64,
    /// What it states.
    pub body: Arc<ReproductionBody>,
}

impl Reproduced {
    /// The view of a received, verified report.
    pub fn of_report(report: &Reproduction) -> Reproduced {
        Reproduced {
            id: report.id(),
            reproducer: report.reproducer(),
            created: report.created(),
            body: Arc::new(report.body.clone()),
        }
    }
}

/// Weight of a reproduction as an observation of the packet it re-ran, before its reproducer's
/// standing and its age: the recipe is the packet's own, so it counts like a result built on
/// the packet with the very same recipe (proximity 1).
pub const REPRODUCTION_WEIGHT: f64 = 1.0;

/// What feedback says of publishers and of single packets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Standings {
    /// Each publisher's standing in `[0, 1]`; absent publishers have 0.
    pub publishers: HashMap<PublicKey, f64>,
    /// Each observed packet's credence in `(0, 1]`: `(PRIOR_WEIGHT + A) / (PRIOR_WEIGHT + A + D)`
    /// over the credible reports on that packet alone, so a packet that failed to reproduce is
    /// discounted even while its publisher's other packets hold up. Absent packets have 1.
    pub packets: HashMap<RecordId, f64>,
}

impl Standings {
    /// The standing of `publisher` (0 when nobody has observed it).
    pub fn publisher(&self, publisher: &PublicKey) -> f64 {
        self.publishers.get(publisher).copied().unwrap_or(0.0)
    }

    /// The credence of packet `id` (1 when no credible report names it).
    pub fn packet(&self, id: &RecordId) -> f64 {
        self.packets.get(id).copied().unwrap_or(1.0)
    }
}

/// A report on a packet by somebody other than its publisher: a result built on it, or a
/// reproduction of it.
struct Report {
    reporter: PublicKey,
    claimant: PublicKey,
    packet: RecordId,
    agrees: bool,
    weight: f64,
}

/// Each publisher's standing and each packet's credence, from the ledger and from the reports
/// in `evidence` and `reproductions` (see the module documentation).
pub fn standings(
    evidence: &[Evidence],
    reproductions: &[Reproduced],
    ledger: &Ledger,
    now: u64,
) -> Standings {
    let own = own_tally(ledger, now);
    let reports = reports(evidence, reproductions, now);
    let mut standing = finish(&own, &ledger.trusted);
    let mut packets: HashMap<RecordId, Tally> = HashMap::new();
    for _ in 0..PASSES {
        let mut tally = own.clone();
        packets.clear();
        for report in &reports {
            let credibility = standing.get(&report.reporter).copied().unwrap_or(0.0);
            if credibility > 0.0 {
                let weight = report.weight * credibility;
                tally
                    .entry(report.claimant)
                    .or_default()
                    .add(report.agrees, weight);
                packets
                    .entry(report.packet)
                    .or_default()
                    .add(report.agrees, weight);
            }
        }
        standing = finish(&tally, &ledger.trusted);
    }
    Standings {
        publishers: standing,
        packets: packets
            .into_iter()
            .map(|(id, t)| {
                (
                    id,
                    (PRIOR_WEIGHT + t.agree) / (PRIOR_WEIGHT + t.agree + t.disagree),
                )
            })
            .collect(),
    }
}

/// The client's own observations: its realised outcomes against the claims they check.
fn own_tally(ledger: &Ledger, now: u64) -> HashMap<PublicKey, Tally> {
    let mut own: HashMap<PublicKey, Tally> = HashMap::new();
    for outcome in &ledger.outcomes {
        let weight = decay(outcome.created, now);
        for claim in &outcome.checked {
            let agrees = agrees(
                claim.gain,
                claim.eval_samples,
                outcome.realised,
                outcome.eval_samples,
            );
            let weight = weight * claim.weight.clamp(0.0, 1.0);
            if weight > 0.0 {
                own.entry(claim.publisher).or_default().add(agrees, weight);
            }
        }
    }
    own
}

/// Every report in what was fetched: packets whose `built_on` names another fetched packet,
/// and reproductions of fetched packets measured like them (the newest report per reproducer
/// and packet). Self-reports are ignored.
fn reports(evidence: &[Evidence], reproductions: &[Reproduced], now: u64) -> Vec<Report> {
    let by_id: HashMap<RecordId, (&PublicKey, &OutcomeBody)> = evidence
        .iter()
        .map(|e| (e.id, (&e.publisher, &*e.body)))
        .collect();
    let mut reports = Vec::new();
    for e in evidence {
        for x in &e.body.built_on {
            let Some((claimant, claim)) = by_id.get(x) else {
                continue;
            };
            if **claimant == e.publisher {
                continue;
            }
            let weight = decay(e.created, now) * recipe_proximity(&e.body, claim);
            if weight > 0.0 {
                reports.push(Report {
                    reporter: e.publisher,
                    claimant: **claimant,
                    packet: *x,
                    agrees: agrees(
                        claim.normalized_gain(),
                        claim.eval_samples,
                        e.body.normalized_gain(),
                        e.body.eval_samples,
                    ),
                    weight,
                });
            }
        }
    }
    // One reproducer's newest report on a packet replaces its older ones: repeating a report
    // adds nothing.
    let mut newest: HashMap<(PublicKey, RecordId), &Reproduced> = HashMap::new();
    for r in reproductions {
        let slot = newest.entry((r.reproducer, r.body.of)).or_insert(r);
        if (r.created, r.id) > (slot.created, slot.id) {
            *slot = r;
        }
    }
    let mut newest: Vec<&Reproduced> = newest.into_values().collect();
    newest.sort_by_key(|r| r.id);
    for r in newest {
        let Some((claimant, claim)) = by_id.get(&r.body.of) else {
            continue;
        };
        if **claimant == r.reproducer {
            continue;
        }
        let Some(agrees) = reproduction_agrees(&r.body, claim) else {
            continue;
        };
        let weight = decay(r.created, now) * REPRODUCTION_WEIGHT;
        if weight > 0.0 {
            reports.push(Report {
                reporter: r.reproducer,
                claimant: **claimant,
                packet: r.body.of,
                agrees,
                weight,
            });
        }
    }
    reports
}

fn finish(tally: &HashMap<PublicKey, Tally>, trusted: &[PublicKey]) -> HashMap<PublicKey, f64> {
    let mut standing: HashMap<PublicKey, f64> =
        tally.iter().map(|(k, t)| (*k, t.standing())).collect();
    for key in trusted {
        standing.insert(*key, 1.0);
    }
    standing
}

/// The trust factor of a publisher of `standing`.
pub fn trust_of(standing: f64) -> f64 {
    TRUST_FLOOR + (1.0 - TRUST_FLOOR) * standing.clamp(0.0, 1.0)
}

/// Standing below which a publisher counts as unproven: observations of a recipe far from
/// the one actually run (tiny proximity) must not make a claim count as established.
pub const MIN_STANDING: f64 = 0.25;

/// Sets every evidence's standing and trust from the standings (see [`standings`]); a
/// standing under [`MIN_STANDING`] counts as none, and the trust is discounted by the packet's
/// own credence.
pub fn apply(evidence: &mut [Evidence], standings: &Standings) {
    for e in evidence.iter_mut() {
        let s = standings.publisher(&e.publisher);
        e.standing = if s >= MIN_STANDING { s } else { 0.0 };
        e.trust = trust_of(e.standing) * standings.packet(&e.id);
    }
    cap_unproven(evidence);
}

/// Largest share of the evidence weight that publishers without standing carry together,
/// once anyone has standing: the trust floor bounds each fresh key, this bounds them all, so
/// that a crowd of fresh keys (Sybils) cannot outweigh established evidence by number.
pub const UNPROVEN_SHARE: f64 = 0.1;

/// Scales the trust of the unproven evidence down so that it carries at most
/// [`UNPROVEN_SHARE`] of the weight (nothing changes when nobody has standing).
fn cap_unproven(evidence: &mut [Evidence]) {
    let (mut proven, mut unproven) = (0.0, 0.0);
    for e in evidence.iter() {
        if e.standing > 0.0 {
            proven += e.weight();
        } else {
            unproven += e.weight();
        }
    }
    let allowed = proven * UNPROVEN_SHARE / (1.0 - UNPROVEN_SHARE);
    if proven > 0.0 && unproven > allowed {
        let scale = allowed / unproven;
        for e in evidence.iter_mut().filter(|e| e.standing == 0.0) {
            e.trust *= scale;
        }
    }
}
