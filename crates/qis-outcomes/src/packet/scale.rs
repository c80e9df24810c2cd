//! Ordinal and numeric scales: the data-scale bucket (never an exact example count) and the
//! scale benchmark scores are reported on.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How many training examples a run used, as an ordinal bucket. An exact count would help
/// fingerprint a private data set; a bucket is what synthesis needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DataScale {
    /// Fewer than 100 examples.
    Under100,
    /// 100 to 999 examples.
    Hundreds,
    /// 1,000 to 9,999 examples.
    Thousands,
    /// 10,000 to 99,999 examples.
    TensOfThousands,
    /// 100,000 examples or more.
    Over100k,
}

impl DataScale {
    /// Every bucket, smallest first.
    pub const ALL: [DataScale; 5] = [
        DataScale::Under100,
        DataScale::Hundreds,
        DataScale::Thousands,
        DataScale::TensOfThousands,
        DataScale::Over100k,
    ];

    /// The bucket holding `count` examples.
    pub fn from_count(count: u64) -> DataScale {
        match count {
            0..=99 => DataScale::Under100,
            100..=999 => DataScale::Hundreds,
            1_000..=9_999 => DataScale::Thousands,
            10_000..=99_999 => DataScale::TensOfThousands,
            _ => DataScale::Over100k,
        }
    }

    /// The label used in files and on screen: `<100`, `100-1k`, `1k-10k`, `10k-100k`, `>100k`.
    pub fn label(self) -> &'static str {
        match self {
            DataScale::Under100 => "<100",
            DataScale::Hundreds => "100-1k",
            DataScale::Thousands => "1k-10k",
            DataScale::TensOfThousands => "10k-100k",
            DataScale::Over100k => ">100k",
        }
    }

    /// Parses a [`label`](Self::label) (surrounding white space ignored).
    pub fn parse(text: &str) -> Option<DataScale> {
        let text = text.trim();
        DataScale::ALL.into_iter().find(|s| s.label() == text)
    }
}

impl fmt::Display for DataScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The scale both scores of a packet are on. Declaring it lets validation catch a percent
/// reported as a fraction (or the reverse), and lets synthesis compare deltas across benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScoreScale {
    /// Scores in `[0, 1]` (accuracy, exact match, F1 as lm-evaluation-harness reports them).
    Unit,
    /// Scores in `[0, 100]`.
    Percent,
    /// Any finite score (perplexity, BLEU above 1, loss, reward).
    Unbounded,
}

impl ScoreScale {
    /// Every scale.
    pub const ALL: [ScoreScale; 3] = [ScoreScale::Unit, ScoreScale::Percent, ScoreScale::Unbounded];

    /// The label used in files and on screen: `unit`, `percent`, `unbounded`.
    pub fn label(self) -> &'static str {
        match self {
            ScoreScale::Unit => "unit",
            ScoreScale::Percent => "percent",
            ScoreScale::Unbounded => "unbounded",
        }
    }

    /// Parses a [`label`](Self::label), case-insensitively.
    pub fn parse(text: &str) -> Option<ScoreScale> {
        let text = text.trim().to_lowercase();
        ScoreScale::ALL.into_iter().find(|s| s.label() == text)
    }

    /// Whether `score` lies on this scale (`score` must already be finite).
    pub fn contains(self, score: f64) -> bool {
        match self {
            ScoreScale::Unit => (0.0..=1.0).contains(&score),
            ScoreScale::Percent => (0.0..=100.0).contains(&score),
            ScoreScale::Unbounded => score.is_finite(),
        }
    }

    /// The factor that brings a difference on this scale to unit-interval points, so deltas on
    /// different benchmarks can be combined. `None` for unbounded scores, which have no common
    /// unit; synthesis then uses the delta relative to the baseline.
    pub fn to_unit_factor(self) -> Option<f64> {
        match self {
            ScoreScale::Unit => Some(1.0),
            ScoreScale::Percent => Some(0.01),
            ScoreScale::Unbounded => None,
        }
    }
}

impl fmt::Display for ScoreScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_the_documented_edges() {
        assert_eq!(DataScale::from_count(0), DataScale::Under100);
        assert_eq!(DataScale::from_count(99), DataScale::Under100);
        assert_eq!(DataScale::from_count(100), DataScale::Hundreds);
        assert_eq!(DataScale::from_count(999), DataScale::Hundreds);
        assert_eq!(DataScale::from_count(1_000), DataScale::Thousands);
        assert_eq!(DataScale::from_count(16_000), DataScale::TensOfThousands);
        assert_eq!(DataScale::from_count(100_000), DataScale::Over100k);
        assert_eq!(DataScale::from_count(u64::MAX), DataScale::Over100k);
        for scale in DataScale::ALL {
            assert_eq!(DataScale::parse(scale.label()), Some(scale));
        }
        assert_eq!(DataScale::parse("1000"), None);
    }

    #[test]
    fn scales_bound_scores() {
        assert!(ScoreScale::Unit.contains(1.0));
        assert!(!ScoreScale::Unit.contains(59.3));
        assert!(ScoreScale::Percent.contains(59.3));
        assert!(!ScoreScale::Percent.contains(-0.1));
        assert!(ScoreScale::Unbounded.contains(-12.5));
        assert_eq!(ScoreScale::parse(" Percent"), Some(ScoreScale::Percent));
    }
}
