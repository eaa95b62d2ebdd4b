//! Canaries: proof that the harness can fail. Each cargo feature plants one real bug in core
//! (a `#[cfg(feature = ...)]` line in `core/src/wal/*`, and for the checkpoint canary one in
//! `core/src/integrity/checkpointer.rs` too); a smoke run built with it must fail.
//!
//! `torture canaries` builds and runs each variant with `cargo` (so it needs the source tree
//! and takes a few minutes: one build per canary).

#![allow(clippy::disallowed_methods)] // Harness glue: spawns cargo.

use std::process::Command;

/// Every canary: the feature and the bug it plants.
pub const CANARIES: [(&str, &str); 7] = [
    ("canary-ack-before-sync", "the writer acknowledges a batch before its fdatasync"),
    ("canary-no-dir-fsync", "no directory fsync after a segment file is created and renamed"),
    ("canary-fsync-retry", "a failed fdatasync is retried and, if the retry says Ok, acked"),
    ("canary-truncate-on-crc", "recovery cuts at any checksum error, even below the watermark"),
    ("canary-scan-stops-at-zero", "the segment scan stops at the first zero record header"),
    ("canary-trust-page-cache", "reopening after a failed fsync trusts the page cache"),
    ("canary-checkpoint-undurable", "a checkpoint is signed over a batch before its fdatasync"),
];

/// The outcome of one canary.
#[derive(Clone, Debug)]
pub struct CanaryResult {
    /// The feature.
    pub feature: &'static str,
    /// Whether the run failed at a seed where the build without canaries passes.
    pub caught: bool,
    /// Seeds that fail only with the canary (the first few).
    pub new_failures: Vec<u64>,
    /// The last lines the run printed.
    pub tail: String,
}

/// Builds the torture binary without canaries and with each one, runs `seeds` Swarm seeds from
/// `start`, and calls a canary caught when it fails at a seed the plain build passes (so a core
/// bug that already fails some seeds does not make every canary look caught).
pub fn run_all(seeds: u64, start: u64, profile: &str) -> Vec<CanaryResult> {
    eprintln!("baseline (no canary) ...");
    let (baseline, _) = run_variant(None, seeds, start, profile);
    CANARIES
        .iter()
        .map(|(feature, what)| {
            eprintln!("canary {feature}: {what} ...");
            let (failing, tail) = run_variant(Some(feature), seeds, start, profile);
            let new_failures: Vec<u64> =
                failing.iter().copied().filter(|s| !baseline.contains(s)).take(5).collect();
            CanaryResult { feature, caught: !new_failures.is_empty(), new_failures, tail }
        })
        .collect()
}

/// Runs one build; returns its failing seeds and the tail of its output.
fn run_variant(
    feature: Option<&str>,
    seeds: u64,
    start: u64,
    profile: &str,
) -> (std::collections::BTreeSet<u64>, String) {
    let file = std::env::temp_dir().join(format!(
        "torture-canary-{}-{}.txt",
        std::process::id(),
        feature.unwrap_or("baseline")
    ));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["run", "--quiet", "--profile", profile, "-p", "torture"]);
    if let Some(f) = feature {
        cmd.args(["--features", f]);
    }
    cmd.args(["--", "--seeds", &seeds.to_string(), "--start", &start.to_string()])
        .args([
            "--no-progress",
            "--no-determinism",
            "--no-coverage-gate",
            "--cards",
            "0",
            "--no-report",
        ])
        .arg("--failures-out")
        .arg(&file);
    let tail = match cmd.output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().rev().take(4).collect();
            lines.into_iter().rev().collect::<Vec<_>>().join("\n")
        }
        Err(e) => format!("cargo: {e}"),
    };
    let failing = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    let _ = std::fs::remove_file(&file);
    (failing, tail)
}
