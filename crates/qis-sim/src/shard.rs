//! A sweep split over processes: its runs are (nodes, seed) pairs, each seeded on its own, so
//! any process can make any of them. `--shard I/N` makes the runs whose index is I-1 modulo N
//! (round robin, so shards are balanced across sizes) and writes them with a manifest to
//! [`SHARD_FILE`]; [`merge_shards`] checks that a set of such files is exactly one sweep's
//! runs, each once, and hands back the reports in the order one process would have made them.

use crate::SimReport;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file a shard writes into its output directory.
pub const SHARD_FILE: &str = "shard.json";
/// What [`ShardFile::format`] says, so `merge` can tell a shard from another JSON file.
pub const SHARD_FORMAT: &str = "qis-sim-shard";
/// The version of the shard file's layout; `merge` refuses other versions.
pub const SHARD_VERSION: u32 = 1;

/// A sweep's definition: every size against every seed, and the settings all runs share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// Network sizes, in the order given.
    pub nodes: Vec<u64>,
    /// Seeds, in the order given.
    pub seeds: Vec<u64>,
    /// Every other setting of the runs (flag name to value), as the command line gave them.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// One run of a sweep: its index in the sweep's order and what it varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// Position in the sweep: sizes in order, each with every seed in order.
    pub index: usize,
    /// Network size.
    pub nodes: u64,
    /// Seed.
    pub seed: u64,
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "run {} (nodes {}, seed {})",
            self.index, self.nodes, self.seed
        )
    }
}

impl SweepPlan {
    /// Every run of the sweep, in order: sizes outside, seeds inside.
    pub fn runs(&self) -> Vec<RunId> {
        let mut runs = Vec::with_capacity(self.nodes.len() * self.seeds.len());
        for &nodes in &self.nodes {
            for &seed in &self.seeds {
                runs.push(RunId {
                    index: runs.len(),
                    nodes,
                    seed,
                });
            }
        }
        runs
    }
}

/// One share of a sweep's runs: shard `index` of `count`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which share, 1 to `count`.
    pub index: usize,
    /// How many shares the sweep is split into.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` (1 ≤ I ≤ N).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not I/N (e.g. 2/4: the second of four shares)"))?;
        let number = |s: &str| s.trim().parse::<usize>().ok();
        match (number(i), number(n)) {
            (Some(index), Some(count)) if (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            (Some(_), Some(_)) => Err(format!(
                "`{text}`: shards count from 1 to N (e.g. 1/4 to 4/4)"
            )),
            _ => Err(format!(
                "`{text}` is not I/N (e.g. 2/4: the second of four shares)"
            )),
        }
    }

    /// Whether run `index` of the sweep is this shard's (round robin).
    pub fn holds(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What one shard writes: the manifest (format, the whole sweep, which share and which runs)
/// and the reports of its runs, in the same order as `runs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFile {
    /// Always [`SHARD_FORMAT`].
    pub format: String,
    /// [`SHARD_VERSION`] when written.
    pub version: u32,
    /// The whole sweep this is a share of.
    pub sweep: SweepPlan,
    /// Which share.
    pub shard: Shard,
    /// The runs it holds.
    pub runs: Vec<RunId>,
    /// Their reports.
    pub reports: Vec<SimReport>,
}

impl ShardFile {
    /// The shard file of `reports`, the runs of `shard` of `sweep` in order.
    pub fn new(sweep: SweepPlan, shard: Shard, reports: Vec<SimReport>) -> ShardFile {
        let runs = sweep
            .runs()
            .into_iter()
            .filter(|r| shard.holds(r.index))
            .collect();
        ShardFile {
            format: SHARD_FORMAT.into(),
            version: SHARD_VERSION,
            sweep,
            shard,
            runs,
            reports,
        }
    }

    /// Writes it as `dir/shard.json`, creating `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SHARD_FILE);
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, json + "\n")?;
        Ok(path)
    }

    /// Reads `dir/shard.json` and checks it is a shard file of this version.
    pub fn read(dir: &Path) -> Result<ShardFile, MergeError> {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| MergeError::Read {
            path: path.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| MergeError::Format {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let format = value.get("format").and_then(|f| f.as_str());
        let version = value.get("version").and_then(|v| v.as_u64());
        if format != Some(SHARD_FORMAT) {
            return Err(MergeError::Format {
                path,
                reason: format!(
                    "not a shard of `qis sim --shard` (its \"format\" is not {SHARD_FORMAT:?})"
                ),
            });
        }
        if version != Some(u64::from(SHARD_VERSION)) {
            return Err(MergeError::Format {
                path,
                reason: format!(
                    "shard format version {}, this qis reads version {SHARD_VERSION}: run the shards and the merge with the same qis",
                    version.map_or("missing".to_string(), |v| v.to_string())
                ),
            });
        }
        serde_json::from_value(value).map_err(|e| MergeError::Format {
            path,
            reason: e.to_string(),
        })
    }
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not a shard file of this version, or is damaged.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The shards are not one sweep's, or not all of it, or some run twice.
    #[error("{0}")]
    Mismatch(String),
}

/// Checks that `shards` (each with the directory it came from) are exactly the runs of one
/// sweep, each once, split the same way, and returns that sweep and every report in the
/// sweep's run order: what one process running the whole sweep would have made.
pub fn merge_shards(
    shards: Vec<(PathBuf, ShardFile)>,
) -> Result<(SweepPlan, Vec<SimReport>), MergeError> {
    let Some((first_dir, first)) = shards.first() else {
        return Err(MergeError::Mismatch("no shard directories given".into()));
    };
    let plan = first.sweep.clone();
    let (first_dir, count) = (first_dir.clone(), first.shard.count);
    let runs = plan.runs();
    let mut slots: Vec<Option<(PathBuf, SimReport)>> = vec![None; runs.len()];
    for (dir, file) in shards {
        let shown = dir.display();
        if file.sweep != plan {
            return Err(MergeError::Mismatch(format!(
                "{shown} is a share of another sweep than {}: {}",
                first_dir.display(),
                differences(&plan, &file.sweep)
            )));
        }
        if file.shard.count != count {
            return Err(MergeError::Mismatch(format!(
                "{shown} is shard {} but {} is of {count} shards: merge shares of one split",
                file.shard,
                first_dir.display()
            )));
        }
        if file.runs.len() != file.reports.len() {
            return Err(MergeError::Mismatch(format!(
                "{shown}: {} runs listed but {} reports",
                file.runs.len(),
                file.reports.len()
            )));
        }
        for (run, report) in file.runs.into_iter().zip(file.reports) {
            let expected = runs.get(run.index).copied();
            if expected != Some(run) || !file.shard.holds(run.index) {
                return Err(MergeError::Mismatch(format!(
                    "{shown}: {run} is not a run of shard {} of this sweep",
                    file.shard
                )));
            }
            if (report.nodes, report.seed) != (run.nodes, run.seed) {
                return Err(MergeError::Mismatch(format!(
                    "{shown}: the report of {run} is of nodes {}, seed {}",
                    report.nodes, report.seed
                )));
            }
            if let Some((other, _)) = &slots[run.index] {
                return Err(MergeError::Mismatch(format!(
                    "{run} is in both {} and {shown} (shard {} given twice?)",
                    other.display(),
                    file.shard
                )));
            }
            slots[run.index] = Some((dir.clone(), report));
        }
    }
    let missing: Vec<String> = runs
        .iter()
        .zip(&slots)
        .filter(|(_, slot)| slot.is_none())
        .map(|(run, _)| {
            let shard = Shard {
                index: run.index % count + 1,
                count,
            };
            format!("{run} of shard {shard}")
        })
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Mismatch(format!(
            "{} of {} runs missing: {}",
            missing.len(),
            runs.len(),
            missing.join(", ")
        )));
    }
    let reports = slots.into_iter().flatten().map(|(_, r)| r).collect();
    Ok((plan, reports))
}

/// What differs between two sweeps, named by field.
fn differences(a: &SweepPlan, b: &SweepPlan) -> String {
    let mut names = Vec::new();
    if a.nodes != b.nodes {
        names.push(format!("--nodes {:?} against {:?}", a.nodes, b.nodes));
    }
    if a.seeds != b.seeds {
        names.push(format!("--seeds {:?} against {:?}", a.seeds, b.seeds));
    }
    let keys = a.settings.keys().chain(b.settings.keys());
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        if seen.insert(key) && a.settings.get(key) != b.settings.get(key) {
            let show = |v: Option<&serde_json::Value>| v.map_or("-".to_string(), |v| v.to_string());
            names.push(format!(
                "--{} {} against {}",
                key.replace('_', "-"),
                show(a.settings.get(key)),
                show(b.settings.get(key))
            ));
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|index| Shard { index, count: 3 }).collect();
        for run in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.holds(run)).count(), 1);
        }
        assert!(shards[0].holds(0) && shards[0].holds(3) && shards[2].holds(2));
    }

    #[test]
    fn runs_are_sizes_outside_seeds_inside() {
        let plan = SweepPlan {
            nodes: vec![100, 200],
            seeds: vec![1, 2, 3],
            settings: serde_json::Map::new(),
        };
        let runs = plan.runs();
        assert_eq!(runs.len(), 6);
        assert_eq!(
            runs[4],
            RunId {
                index: 4,
                nodes: 200,
                seed: 2
            }
        );
    }
}
