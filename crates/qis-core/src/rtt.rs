//! Adaptive request timeouts from measured round-trip times (RFC 6298's estimator), so a node on
//! a slow link waits longer and a node on a fast one gives up on lost requests sooner.

use crate::constants::{
    INITIAL_REQUEST_TIMEOUT, LAST_ATTEMPT_TIMEOUTS, MAX_REQUEST_ATTEMPTS, MAX_REQUEST_TIMEOUT,
    MIN_REQUEST_TIMEOUT,
};
use crate::time::Duration;

/// Smoothed RTT and its variation, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RttEstimator {
    srtt_us: u32,
    rttvar_us: u32,
    samples: u32,
}

impl RttEstimator {
    /// Feeds one measured round trip (only from requests answered on their first attempt,
    /// Karn's rule, so a retry's answer never counts against the wrong send time).
    pub(crate) fn observe(&mut self, rtt: Duration) {
        let sample = rtt.as_micros().min(u32::MAX as u128) as i64;
        if self.samples == 0 {
            self.srtt_us = sample as u32;
            self.rttvar_us = (sample / 2) as u32;
        } else {
            let srtt = i64::from(self.srtt_us);
            let err = (sample - srtt).abs();
            self.rttvar_us = ((3 * i64::from(self.rttvar_us) + err) / 4) as u32;
            self.srtt_us = ((7 * srtt + sample) / 8) as u32;
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// The timeout of attempt `attempt` (0-based) of a request: srtt + 4·rttvar, clamped; the
    /// initial value before any sample. Every attempt but the last gets that timeout; the last
    /// waits `LAST_ATTEMPT_TIMEOUTS` times as long, up to `MAX_REQUEST_TIMEOUT`.
    pub(crate) fn timeout(&self, attempt: u8) -> Duration {
        let base = if self.samples == 0 {
            INITIAL_REQUEST_TIMEOUT
        } else {
            let us = u64::from(self.srtt_us) + 4 * u64::from(self.rttvar_us);
            Duration::from_micros(us).clamp(MIN_REQUEST_TIMEOUT, MAX_REQUEST_TIMEOUT)
        };
        // No doubling between attempts: a retry is one small datagram to one peer, not a flow
        // to throttle, and a late answer to an earlier attempt still counts (the transaction id
        // is kept). Doubling made a dead node cost 7 timeouts over three attempts, and lookups
        // under churn wait for their dead candidates. Only the last attempt waits longer, for
        // the rare peer that is slow rather than gone.
        if attempt + 1 >= MAX_REQUEST_ATTEMPTS {
            (base * LAST_ATTEMPT_TIMEOUTS).min(MAX_REQUEST_TIMEOUT)
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_second_and_adapts_down() {
        let mut rtt = RttEstimator::default();
        assert_eq!(rtt.timeout(0), INITIAL_REQUEST_TIMEOUT);
        for _ in 0..50 {
            rtt.observe(Duration::from_millis(20));
        }
        assert_eq!(rtt.timeout(0), MIN_REQUEST_TIMEOUT);
        for _ in 0..50 {
            rtt.observe(Duration::from_millis(300));
        }
        let t = rtt.timeout(0);
        assert!(
            t >= Duration::from_millis(300) && t < Duration::from_millis(600),
            "{t:?}"
        );
        for _ in 0..50 {
            rtt.observe(Duration::from_secs(30));
        }
        assert_eq!(rtt.timeout(0), MAX_REQUEST_TIMEOUT);
    }

    #[test]
    fn only_the_last_attempt_waits_longer() {
        let mut rtt = RttEstimator::default();
        for _ in 0..50 {
            rtt.observe(Duration::from_millis(300));
        }
        let base = rtt.timeout(0);
        let last = MAX_REQUEST_ATTEMPTS - 1;
        assert!((1..last).all(|attempt| rtt.timeout(attempt) == base));
        assert_eq!(rtt.timeout(last), base * LAST_ATTEMPT_TIMEOUTS);
        for _ in 0..50 {
            rtt.observe(Duration::from_secs(30));
        }
        assert_eq!(rtt.timeout(last), MAX_REQUEST_TIMEOUT);
    }
}
