//! I15 across processes: the same seeds run in two fresh child processes with different
//! `--jobs` must give the same trace hash per seed. Running twice inside one process would miss
//! global state (statics, thread-locals, allocation addresses leaking into behaviour).

#![allow(clippy::disallowed_methods)] // Harness glue: child processes and their hash files.

use std::path::{Path, PathBuf};
use std::process::Command;

use mtlog_audit_reports::Determinism;

use crate::knobs::Scenario;

/// Runs `seeds` seeds from `start` in two child processes of the current executable, with
/// `--jobs 1` and `--jobs 2`, and compares their per-seed trace hashes. `exe_prefix` places
/// the harness in the current executable: empty for `torture`, `["torture"]` for the
/// `mtlog-audit` CLI.
///
/// # Errors
/// A child that could not be started or wrote no hash file.
pub fn check_in_children(
    start: u64,
    seeds: u64,
    scenario: Scenario,
    exe_prefix: &[String],
) -> Result<Determinism, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let a = run_child(&exe, exe_prefix, start, seeds, scenario, 1)?;
    let b = run_child(&exe, exe_prefix, start, seeds, scenario, 2)?;
    if a.len() != b.len() {
        return Err(format!("the children ran {} and {} seeds", a.len(), b.len()));
    }
    let mut mismatches = Vec::new();
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            mismatches.push((x.0, format!("{:016x}", x.1), format!("{:016x}", y.1)));
        }
    }
    Ok(Determinism {
        method: format!("{scenario} seeds rerun in 2 fresh processes, --jobs 1 and --jobs 2"),
        seeds: a.len() as u64,
        matched: (a.len() - mismatches.len()) as u64,
        mismatches,
    })
}

fn run_child(
    exe: &Path,
    prefix: &[String],
    start: u64,
    seeds: u64,
    scenario: Scenario,
    jobs: usize,
) -> Result<Vec<(u64, u64)>, String> {
    let file = hash_file(jobs);
    let status = Command::new(exe)
        .args(prefix)
        .args(["--seeds", &seeds.to_string(), "--start", &start.to_string()])
        .args(["--scenario", scenario.name(), "--jobs", &jobs.to_string()])
        .args(["--no-progress", "--no-determinism", "--no-coverage-gate", "--quiet", "--no-report"])
        .arg("--hashes-out")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("child (--jobs {jobs}, {status}) wrote no hashes: {e}"))?;
    let _ = std::fs::remove_file(&file);
    parse_hashes(&text)
}

fn hash_file(jobs: usize) -> PathBuf {
    std::env::temp_dir().join(format!("torture-hashes-{}-{jobs}.txt", std::process::id()))
}

/// Writes `seed hash` lines (hash in hex), sorted by seed.
///
/// # Errors
/// The I/O error writing the file.
pub fn write_hashes(path: &Path, hashes: &[(u64, u64)]) -> std::io::Result<()> {
    let mut text = String::with_capacity(hashes.len() * 28);
    for (seed, hash) in hashes {
        text.push_str(&format!("{seed} {hash:016x}\n"));
    }
    std::fs::write(path, text)
}

fn parse_hashes(text: &str) -> Result<Vec<(u64, u64)>, String> {
    text.lines()
        .map(|line| {
            let (seed, hash) = line.split_once(' ').ok_or_else(|| format!("bad line {line:?}"))?;
            let seed = seed.parse().map_err(|_| format!("bad seed in {line:?}"))?;
            let hash =
                u64::from_str_radix(hash, 16).map_err(|_| format!("bad hash in {line:?}"))?;
            Ok((seed, hash))
        })
        .collect()
}
