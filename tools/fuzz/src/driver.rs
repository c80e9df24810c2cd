//! Runs a target without libFuzzer: over the files and folders named on the command line (a
//! corpus, or a crash to reproduce), or, with none, over a bounded built-in random loop that
//! mutates the target's seeds from a fixed seed. A panic writes the input that caused it to
//! `crash-<target>-<hash>` in the current directory (as libFuzzer does) and exits with status 1.
//!
//! ```text
//! usage: <target> [--iterations N] [--seed S] [PATH ...]
//! ```

use crate::rng::SplitMix64;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Iterations of the built-in loop unless `--iterations` says otherwise.
pub const DEFAULT_ITERATIONS: u64 = 20_000;

/// Seed of the built-in loop unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 1;

/// A fuzz target as the driver sees it.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its name, for messages and crash files.
    pub name: &'static str,
    /// The target: panics if and only if it found a bug.
    pub run: fn(&[u8]),
    /// Valid inputs to start mutating from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// The longest input the built-in loop makes.
    pub max_len: usize,
}

/// The entry point of each target's binary.
pub fn main(target: Target) -> ExitCode {
    let mut iterations = DEFAULT_ITERATIONS;
    let mut seed = DEFAULT_SEED;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Option<u64> {
            let value = args.next().and_then(|v| v.parse().ok());
            if value.is_none() {
                eprintln!("{}: {flag} needs a number", target.name);
            }
            value
        };
        match arg.as_str() {
            "--iterations" => match number("--iterations") {
                Some(n) => iterations = n,
                None => return ExitCode::from(2),
            },
            "--seed" => match number("--seed") {
                Some(n) => seed = n,
                None => return ExitCode::from(2),
            },
            "-h" | "--help" => {
                println!(
                    "usage: {} [--iterations N] [--seed S] [PATH ...]\n\n\
                     Runs the {} fuzz target over every file under each PATH, or with no PATH \
                     over a built-in random loop ({DEFAULT_ITERATIONS} iterations from seed \
                     {DEFAULT_SEED} by default).",
                    target.name, target.name
                );
                return ExitCode::SUCCESS;
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let started = Instant::now();
    let result = if paths.is_empty() {
        random_loop(target, iterations, seed)
    } else {
        over_files(target, &paths)
    };
    match result {
        Ok(count) => {
            println!(
                "{}: {count} inputs, no failure, {:.2} s",
                target.name,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}: {message}", target.name);
            ExitCode::FAILURE
        }
    }
}

/// Runs `target` on `data`; on a panic, saves the input and says where.
fn run_one(target: Target, data: &[u8]) -> Result<(), String> {
    if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(data))).is_ok() {
        return Ok(());
    }
    let hash = qis_core::Id::hash(data).to_hex();
    let file = PathBuf::from(format!("crash-{}-{}", target.name, &hash[..16]));
    match std::fs::write(&file, data) {
        Ok(()) => Err(format!(
            "panicked on a {}-byte input, saved as {} (rerun: {} {})",
            data.len(),
            file.display(),
            target.name,
            file.display()
        )),
        Err(e) => Err(format!(
            "panicked on a {}-byte input; cannot save it as {}: {e}",
            data.len(),
            file.display()
        )),
    }
}

fn over_files(target: Target, paths: &[PathBuf]) -> Result<u64, String> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    files.sort();
    for file in &files {
        let data = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        run_one(target, &data).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(files.len() as u64)
}

/// Every file at or under `path`.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), files)?;
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

fn random_loop(target: Target, iterations: u64, seed: u64) -> Result<u64, String> {
    let seeds = (target.seeds)();
    let mut rng = SplitMix64::new(seed);
    for seed in &seeds {
        run_one(target, seed)?;
    }
    for _ in 0..iterations {
        let input = if seeds.is_empty() || rng.one_in(8) {
            let len = rng.below(target.max_len + 1);
            rng.bytes(len)
        } else {
            let base = seeds[rng.below(seeds.len())].clone();
            let count = 1 + rng.below(4);
            mutate(&mut rng, base, count, &seeds, target.max_len)
        };
        run_one(target, &input)?;
    }
    Ok(seeds.len() as u64 + iterations)
}

/// Applies `count` random byte-level mutations to `data`, never growing it past `max_len`.
pub fn mutate(
    rng: &mut SplitMix64,
    mut data: Vec<u8>,
    count: usize,
    seeds: &[Vec<u8>],
    max_len: usize,
) -> Vec<u8> {
    const INTERESTING: [u8; 8] = [0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x40];
    for _ in 0..count {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.byte();
            }
            2 if len > 0 => {
                let at = rng.below(len);
                data[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let at = rng.below(len + 1);
                data.insert(at, rng.byte());
            }
            4 if len > 0 => {
                let at = rng.below(len);
                data.remove(at);
            }
            5 => data.truncate(rng.below(len + 1)),
            6 if len > 0 => {
                // Duplicate a chunk in place (repeated fields, longer vectors).
                let from = rng.below(len);
                let to = from + rng.below((len - from).min(32)) + 1;
                let chunk = data[from..to].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            7 if !seeds.is_empty() => {
                // Splice: our head, another seed's tail.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            8 if len > 0 => {
                // A varint or length prefix made large.
                let at = rng.below(len);
                data[at] |= 0x80;
            }
            _ => {}
        }
        data.truncate(max_len);
    }
    data
}
