//! The network model: per-pair latency, random and bursty loss.
//!
//! Each node sits at a random point of a unit square (its region) behind an access link with a
//! log-normal delay. The one-way delay between two nodes is the distance between their points
//! plus both access delays, so it is consistent per pair (as a real path is), spread widely, and
//! long-tailed through the access links; a small exponential jitter is added per datagram. The
//! whole model is scaled so that the median round-trip time over random pairs is the configured
//! one (100 ms by default, a wide-area spread).
//!
//! Loss is independent per datagram, or, with a mean burst length, follows a Gilbert–Elliott
//! chain per receiving node (a good state that loses nothing and a bad state that loses
//! everything), with the same average rate.

use super::random::{SimRng, log_normal};
use rand::RngExt;
use serde::Serialize;

/// Settings of the network model.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NetworkConfig {
    /// Median round-trip time over random pairs, in milliseconds.
    pub rtt_median_ms: f64,
    /// Shape of the log-normal access delay (larger: longer tail).
    pub access_sigma: f64,
    /// Mean per-datagram jitter in milliseconds.
    pub jitter_ms: f64,
    /// Average fraction of datagrams lost.
    pub loss: f64,
    /// Mean length of a loss burst in datagrams; `None`: independent loss.
    pub burst: Option<f64>,
}

impl Default for NetworkConfig {
    fn default() -> NetworkConfig {
        NetworkConfig {
            rtt_median_ms: 100.0,
            access_sigma: 1.0,
            jitter_ms: 1.0,
            loss: 0.0,
            burst: None,
        }
    }
}

/// Format of [`SiteTable`].
pub const SITE_TABLE_FORMAT: u32 = 1;

/// Where every node of a run sits and the model's scale: what a harness needs to apply the
/// simulator's own per-pair delays to real processes ([`qis_sim::site_table`](crate::site_table)).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SiteTable {
    /// [`SITE_TABLE_FORMAT`].
    pub format: u32,
    /// The one-way delay across the whole square (its diagonal), scaled, in milliseconds.
    pub span_ms: f64,
    /// Mean per-datagram jitter in milliseconds (exponential; not in [`SiteTable::one_way_ms`]).
    pub jitter_ms: f64,
    /// Average fraction of datagrams lost (independent: a table is not made for bursts).
    pub loss: f64,
    /// The least one-way delay of any pair, in milliseconds (the model's floor).
    pub floor_ms: f64,
    /// The site of node `i` of the run (in the order nodes are added).
    pub nodes: Vec<SitePoint>,
    /// One more site drawn after the nodes', for an observer (a probing client).
    pub observer: SitePoint,
}

/// One node's place in the model.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq)]
pub struct SitePoint {
    /// Position in the unit square.
    pub x: f64,
    /// Position in the unit square.
    pub y: f64,
    /// Its access link's one-way delay, scaled, in milliseconds.
    pub access_ms: f64,
}

impl SiteTable {
    /// The one-way delay from `a` to `b` in milliseconds, jitter excluded: the model's
    /// (distance plus both access links), to within its microsecond rounding.
    pub fn one_way_ms(&self, a: &SitePoint, b: &SitePoint) -> f64 {
        let (dx, dy) = (a.x - b.x, a.y - b.y);
        ((dx * dx + dy * dy).sqrt() / std::f64::consts::SQRT_2 * self.span_ms
            + a.access_ms
            + b.access_ms)
            .max(self.floor_ms)
    }
}

/// Where a node sits: 12 bytes per node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site {
    x: f32,
    y: f32,
    /// Access-link delay in (unscaled) milliseconds.
    access: f32,
}

/// Unscaled weight of the distance term: the diagonal of the square, in milliseconds.
const SPAN_MS: f64 = 60.0;
/// Unscaled median access delay in milliseconds.
const ACCESS_MEDIAN_MS: f64 = 8.0;
/// Pairs sampled to calibrate the median.
const CALIBRATION_PAIRS: usize = 20_000;

/// The shortest one-way delay of any datagram, in microseconds. Any real path takes at least
/// this long, and it is the lookahead of the parallel engine: within a window shorter than it
/// nothing sent can arrive, so the nodes of a window advance independently (see `window`).
pub(crate) const MIN_ONE_WAY_US: u64 = 1_000;

/// The latency and loss model.
#[derive(Debug)]
pub(crate) struct Network {
    config: NetworkConfig,
    scale: f64,
    /// Gilbert–Elliott: probability of entering, and of leaving, the bad state per datagram.
    enter_bad: f64,
    leave_bad: f64,
}

impl Network {
    /// A model with `config`, calibrated with `rng`.
    pub(crate) fn new(config: NetworkConfig, rng: &mut SimRng) -> Network {
        let sites: Vec<Site> = (0..1000)
            .map(|_| Network::draw_site(&config, rng))
            .collect();
        let mut raw: Vec<f64> = (0..CALIBRATION_PAIRS)
            .map(|_| {
                let a = &sites[rng.random_range(0..sites.len())];
                let b = &sites[rng.random_range(0..sites.len())];
                raw_one_way(a, b)
            })
            .collect();
        raw.sort_by(f64::total_cmp);
        let median_one_way = raw[raw.len() / 2];
        let scale = (config.rtt_median_ms / 2.0) / median_one_way;
        let (enter_bad, leave_bad) = match config.burst {
            Some(len) if config.loss > 0.0 && len >= 1.0 => {
                let leave = 1.0 / len;
                (config.loss * leave / (1.0 - config.loss).max(1e-9), leave)
            }
            _ => (0.0, 1.0),
        };
        Network {
            config,
            scale,
            enter_bad,
            leave_bad,
        }
    }

    fn draw_site(config: &NetworkConfig, rng: &mut SimRng) -> Site {
        let access = log_normal(rng, ACCESS_MEDIAN_MS, config.access_sigma).min(2_000.0);
        Site {
            x: rng.random(),
            y: rng.random(),
            access: access as f32,
        }
    }

    /// A new node's site.
    pub(crate) fn site(&self, rng: &mut SimRng) -> Site {
        Network::draw_site(&self.config, rng)
    }

    /// The sites of `nodes` nodes and one observer, drawn from `rng` as a run draws them
    /// (after [`Network::new`] took its calibration draws from the same stream).
    pub(crate) fn site_table(&self, nodes: usize, rng: &mut SimRng) -> SiteTable {
        let mut point = || {
            let site = self.site(rng);
            SitePoint {
                x: f64::from(site.x),
                y: f64::from(site.y),
                access_ms: f64::from(site.access) * self.scale,
            }
        };
        let nodes = (0..nodes).map(|_| point()).collect();
        SiteTable {
            format: SITE_TABLE_FORMAT,
            span_ms: SPAN_MS * self.scale,
            jitter_ms: self.config.jitter_ms,
            loss: self.config.loss,
            floor_ms: MIN_ONE_WAY_US as f64 / 1000.0,
            nodes,
            observer: point(),
        }
    }

    /// The one-way delay from `a` to `b` in microseconds, jitter excluded (never below
    /// [`MIN_ONE_WAY_US`]).
    pub(crate) fn base_delay_us(&self, a: &Site, b: &Site) -> u64 {
        ((raw_one_way(a, b) * self.scale * 1000.0) as u64).max(MIN_ONE_WAY_US)
    }

    /// The delay of one datagram from `a` to `b` in microseconds; `unit` is a uniform draw in
    /// (0, 1] for its jitter (drawn per datagram from its sender and number, not from a shared
    /// stream, so that the draw does not depend on the order in which threads send).
    pub(crate) fn delay_us(&self, a: &Site, b: &Site, unit: f64) -> u64 {
        let jitter = if self.config.jitter_ms > 0.0 {
            (-self.config.jitter_ms * 1000.0 * unit.ln()) as u64
        } else {
            0
        };
        self.base_delay_us(a, b) + jitter
    }

    /// True when the model loses anything at all.
    pub(crate) fn lossy(&self) -> bool {
        self.config.loss > 0.0
    }

    /// Whether the next datagram toward a receiver whose burst state is `bad` is lost; updates
    /// the state. `unit` is a uniform draw in (0, 1] of this datagram's own.
    pub(crate) fn lost(&self, bad: &mut bool, unit: f64) -> bool {
        if self.config.loss <= 0.0 {
            return false;
        }
        // `unit` is in (0, 1]: `unit <= p` has probability p.
        if self.config.burst.is_none() {
            return unit <= self.config.loss.min(1.0);
        }
        *bad = if *bad {
            unit > self.leave_bad
        } else {
            unit <= self.enter_bad.min(1.0)
        };
        *bad
    }

    /// Round-trip-time percentiles of the model over `pairs` random pairs of `sites`, in
    /// milliseconds (median, 99th percentile).
    pub(crate) fn rtt_percentiles(
        &self,
        sites: &[Site],
        pairs: usize,
        rng: &mut SimRng,
    ) -> (f64, f64) {
        if sites.len() < 2 {
            return (0.0, 0.0);
        }
        let mut rtts: Vec<f64> = (0..pairs)
            .map(|_| {
                let a = &sites[rng.random_range(0..sites.len())];
                let b = &sites[rng.random_range(0..sites.len())];
                2.0 * self.base_delay_us(a, b) as f64 / 1000.0
            })
            .collect();
        rtts.sort_by(f64::total_cmp);
        (rtts[rtts.len() / 2], rtts[rtts.len() * 99 / 100])
    }
}

fn raw_one_way(a: &Site, b: &Site) -> f64 {
    let dx = f64::from(a.x - b.x);
    let dy = f64::from(a.y - b.y);
    (dx * dx + dy * dy).sqrt() / std::f64::consts::SQRT_2 * SPAN_MS
        + f64::from(a.access)
        + f64::from(b.access)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::stream;

    #[test]
    fn median_rtt_is_calibrated_and_tail_is_long() {
        let mut rng = stream(3, 0);
        let net = Network::new(NetworkConfig::default(), &mut rng);
        let sites: Vec<Site> = (0..5000).map(|_| net.site(&mut rng)).collect();
        let (p50, p99) = net.rtt_percentiles(&sites, 20_000, &mut rng);
        assert!((p50 - 100.0).abs() < 8.0, "median rtt {p50}");
        assert!(p99 > 2.0 * p50, "p99 {p99} vs median {p50}");
    }

    #[test]
    fn a_site_table_gives_the_models_own_delays() {
        let mut rng = stream(5, 0);
        let net = Network::new(NetworkConfig::default(), &mut rng);
        let mut replay = rng.clone();
        let table = net.site_table(50, &mut rng);
        let sites: Vec<Site> = (0..50).map(|_| net.site(&mut replay)).collect();
        for (i, a) in sites.iter().enumerate() {
            for (j, b) in sites.iter().enumerate() {
                let model = net.base_delay_us(a, b) as f64 / 1000.0;
                let rebuilt = table.one_way_ms(&table.nodes[i], &table.nodes[j]);
                assert!(
                    (model - rebuilt).abs() < 0.002,
                    "{i}->{j}: {model} vs {rebuilt}"
                );
            }
        }
    }

    #[test]
    fn bursty_loss_keeps_the_average_rate() {
        let mut rng = stream(4, 0);
        let config = NetworkConfig {
            loss: 0.05,
            burst: Some(5.0),
            ..NetworkConfig::default()
        };
        let net = Network::new(config, &mut rng);
        let mut bad = false;
        let n = 200_000usize;
        let (mut lost, mut runs, mut prev) = (0, 0, false);
        for i in 0..n as u64 {
            let l = net.lost(&mut bad, crate::random::unit_of(4, 9, i));
            lost += usize::from(l);
            runs += usize::from(l && !prev);
            prev = l;
        }
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.05).abs() < 0.01, "rate {rate}");
        let mean_burst = lost as f64 / runs as f64;
        assert!((mean_burst - 5.0).abs() < 1.0, "burst {mean_burst}");
    }
}
