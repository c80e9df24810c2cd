//! Protocol time. The core never reads a clock: drivers pass `now` in as a [`Time`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A span of time; the standard library's type is exact and serde-free enough for our use.
pub use std::time::Duration;

/// A point in time, in microseconds since an epoch chosen by the driver (the UDP driver uses its
/// start; the simulator uses zero). Only differences between two `Time`s are meaningful.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(u64);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(0);

    /// A time `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Time {
        Time(micros)
    }

    /// A time `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Time {
        Time(millis * 1000)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_sub(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// A [`Time`] rounded down to whole seconds, in four bytes: for state kept per routing-table
/// entry, where a million simulated tables make every byte count and a second is precision
/// enough. Covers 136 years from the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoarseTime(u32);

impl CoarseTime {
    /// `time` rounded down to the second (saturating after 136 years).
    pub fn from_time(time: Time) -> CoarseTime {
        CoarseTime(u32::try_from(time.as_micros() / 1_000_000).unwrap_or(u32::MAX))
    }

    /// Back to a [`Time`] (the start of its second).
    pub fn to_time(self) -> Time {
        Time::from_micros(u64::from(self.0) * 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_millis(5);
        assert_eq!((t + Duration::from_millis(3)).as_micros(), 8000);
        assert_eq!(t - Duration::from_secs(1), Time::ZERO);
        assert_eq!(Time::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Time::ZERO), Duration::from_millis(5));
    }
}
