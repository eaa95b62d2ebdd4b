//! `torture merge`: the reports of `--shard I/N` runs joined into the report of one run over the
//! whole range.
//!
//! Every count in a report is a sum over runs, so shards add up: outcomes, scenarios,
//! invariants' checks and violations, coverage's eligible runs and hits, the swarm bins, the
//! totals. What is derived from the sums is derived again, the same way a single run derives it:
//! coverage gaps (and I16 with them), the swarm's hot bins, the verdict. Failure cards are those
//! of the lowest failing seeds, `cards_max` of them: each shard carded its own lowest, so the
//! lowest of all are among them. The shards must be one batch split: the same commit, profile,
//! scenario and card count, and seed blocks that follow each other with no gap and no overlap.
//!
//! What cannot equal a single run: wall time and speed (the shards ran side by side: the merge
//! reports the longest wall time, the speed over the summed worker time and the mean of the
//! shards' T1 floors), and the determinism sample (each shard checked its own seeds; the merge
//! sums them).

// The operator's report files, outside any simulation.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use mtlog_audit_reports::{Determinism, Report};

use crate::coverage::{below_gate, COVERAGE_RUNS_MIN};
use crate::outcome::OUTCOMES;

/// The largest `report.json` or trace file a merge reads (a shard's report of a million seeds
/// with every run failing stays far below it).
const FILE_MAX: u64 = 512 << 20;

/// One shard's report directory, read.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// Where it was read from.
    pub dir: PathBuf,
    /// Its `report.json`.
    pub report: Report,
    /// The trace files its failure rows name: (name relative to the report, text).
    pub files: Vec<(String, String)>,
}

/// Why shards could not be merged.
#[derive(Debug)]
pub enum MergeError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is larger than a merge reads.
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A `report.json` is not a torture report.
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A failure row names a trace file outside its report directory.
    TracePath {
        /// The shard.
        dir: PathBuf,
        /// The name.
        name: String,
    },
    /// Two shards differ where one batch cannot.
    Mismatch {
        /// What differs (`commit`, `scenario`, ...).
        what: &'static str,
        /// One shard's value.
        first: String,
        /// The other's.
        other: String,
    },
    /// The seed blocks do not follow each other.
    Blocks {
        /// The end of one block (exclusive) and the start of the next.
        expected: u64,
        /// Where the next block starts.
        found: u64,
    },
    /// Nothing to merge.
    Empty,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "{}: {source}", path.display()),
            Self::TooLarge { path } => {
                write!(f, "{}: larger than the {FILE_MAX} bytes a merge reads", path.display())
            }
            Self::Parse { path, source } => {
                write!(f, "{}: not a torture report.json ({source})", path.display())
            }
            Self::TracePath { dir, name } => write!(
                f,
                "{}: a failure row names the trace file {name:?}, outside the report directory",
                dir.display()
            ),
            Self::Mismatch { what, first, other } => write!(
                f,
                "the shards are not one batch: {what} {first:?} in one, {other:?} in another"
            ),
            Self::Blocks { expected, found } => write!(
                f,
                "the shards' seed blocks do not follow each other: one ends before seed \
                 {expected}, the next starts at {found} (a shard is missing, repeated, or from \
                 another range)"
            ),
            Self::Empty => write!(f, "no shard to merge"),
        }
    }
}

impl std::error::Error for MergeError {}

/// Reads a shard's `report.json` and the trace files its failure rows name.
///
/// # Errors
/// [`MergeError::Read`], [`MergeError::TooLarge`], [`MergeError::Parse`] or
/// [`MergeError::TracePath`].
pub fn read_shard(dir: &Path) -> Result<ShardReport, MergeError> {
    let path = dir.join("report.json");
    let report: Report = serde_json::from_str(&read_bounded(&path)?)
        .map_err(|source| MergeError::Parse { path: path.clone(), source })?;
    let mut files = Vec::new();
    for name in report.failures.iter().filter_map(|f| f.trace_file.as_ref()) {
        let relative = Path::new(name);
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(MergeError::TracePath { dir: dir.to_path_buf(), name: name.clone() });
        }
        files.push((name.clone(), read_bounded(&dir.join(relative))?));
    }
    Ok(ShardReport { dir: dir.to_path_buf(), report, files })
}

fn read_bounded(path: &Path) -> Result<String, MergeError> {
    let read = |source| MergeError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = String::new();
    file.take(FILE_MAX + 1).read_to_string(&mut text).map_err(read)?;
    if text.len() as u64 > FILE_MAX {
        return Err(MergeError::TooLarge { path: path.to_path_buf() });
    }
    Ok(text)
}

/// Merges shards into one report, with the trace files it names.
///
/// # Errors
/// [`MergeError::Empty`], [`MergeError::Mismatch`] or [`MergeError::Blocks`].
pub fn merge(mut shards: Vec<ShardReport>) -> Result<(Report, Vec<(String, String)>), MergeError> {
    shards.sort_by_key(|s| s.report.start);
    let first = shards.first().ok_or(MergeError::Empty)?.report.clone();
    let mut expected = first.start;
    for s in &shards {
        let r = &s.report;
        same("commit", &first.commit, &r.commit)?;
        same("profile", &first.profile, &r.profile)?;
        same("scenario", &first.scenario, &r.scenario)?;
        same("cards", &first.cards_max, &r.cards_max)?;
        same("coverage gate", &first.coverage_gate, &r.coverage_gate)?;
        same(
            "outcome classes",
            &names(&first.outcomes, |o| &o.name),
            &names(&r.outcomes, |o| &o.name),
        )?;
        same("invariants", &names(&first.invariants, |i| &i.id), &names(&r.invariants, |i| &i.id))?;
        same(
            "scenarios",
            &names(&first.scenarios, |s| &s.name),
            &names(&r.scenarios, |s| &s.name),
        )?;
        same(
            "fault kinds",
            &names(&first.fault_coverage, |c| &c.label),
            &names(&r.fault_coverage, |c| &c.label),
        )?;
        same(
            "branches",
            &names(&first.branch_coverage, |c| &c.label),
            &names(&r.branch_coverage, |c| &c.label),
        )?;
        same("swarm bins", &swarm_keys(&first), &swarm_keys(r))?;
        if r.start != expected {
            return Err(MergeError::Blocks { expected, found: r.start });
        }
        expected = r.start.wrapping_add(r.seeds);
    }

    let mut m = first;
    m.seed_source = format!("{} ({} shards merged)", m.seed_source, shards.len());
    m.previous = None;
    for s in &shards[1..] {
        add(&mut m, &s.report);
    }
    m.runs_per_second_per_core = m.runs as f64
        / shards
            .iter()
            .map(|s| s.report.wall_seconds * s.report.jobs as f64)
            .sum::<f64>()
            .max(1e-9);
    let cpu: Option<f64> = shards
        .iter()
        .map(|s| {
            s.report.runs_per_cpu_second.filter(|r| *r > 0.0).map(|r| s.report.runs as f64 / r)
        })
        .sum();
    m.runs_per_cpu_second = cpu.filter(|c| *c > 0.0).map(|c| m.runs as f64 / c);
    let floors: Vec<f64> =
        shards.iter().filter_map(|s| s.report.floor_runs_per_cpu_second).collect();
    m.floor_runs_per_cpu_second =
        (!floors.is_empty()).then(|| floors.iter().sum::<f64>() / floors.len() as f64);
    m.sim_to_wall = if m.wall_seconds > 0.0 { m.simulated_seconds / m.wall_seconds } else { 0.0 };
    derive(&mut m);

    // The lowest failing seeds keep their cards and traces, as in one run's `detail_failures`.
    let mut cards: Vec<_> = shards.iter().flat_map(|s| s.report.cards.iter().cloned()).collect();
    cards.sort_by(|a, b| (a.seed, &a.scenario).cmp(&(b.seed, &b.scenario)));
    cards.truncate(m.cards_max);
    let carded: BTreeSet<(u64, String)> =
        cards.iter().map(|c| (c.seed, c.scenario.clone())).collect();
    m.cards = cards;
    m.failures = shards.iter().flat_map(|s| s.report.failures.iter().cloned()).collect();
    let class_order = |name: &str| OUTCOMES.iter().position(|o| o.name() == name);
    m.failures.sort_by(|a, b| {
        (class_order(&a.class), a.sim_nanos, a.seed).cmp(&(
            class_order(&b.class),
            b.sim_nanos,
            b.seed,
        ))
    });
    for row in &mut m.failures {
        if !carded.contains(&(row.seed, row.scenario.clone())) {
            row.trace_file = None;
        }
    }
    let kept: BTreeSet<&str> = m.failures.iter().filter_map(|f| f.trace_file.as_deref()).collect();
    let files = shards
        .iter()
        .flat_map(|s| s.files.iter())
        .filter(|(name, _)| kept.contains(name.as_str()))
        .cloned()
        .collect();
    Ok((m, files))
}

/// Adds `r`'s sums into `m` (whose lists are in the same order: checked by the caller).
fn add(m: &mut Report, r: &Report) {
    m.seeds += r.seeds;
    m.runs += r.runs;
    m.jobs += r.jobs;
    m.wall_seconds = m.wall_seconds.max(r.wall_seconds);
    m.simulated_seconds += r.simulated_seconds;
    m.totals.submitted += r.totals.submitted;
    m.totals.acked += r.totals.acked;
    m.totals.crashes += r.totals.crashes;
    m.totals.recoveries += r.totals.recoveries;
    m.totals.excused += r.totals.excused;
    m.dirty |= r.dirty;
    for (a, b) in m.outcomes.iter_mut().zip(&r.outcomes) {
        a.count += b.count;
    }
    for (a, b) in m.scenarios.iter_mut().zip(&r.scenarios) {
        a.runs += b.runs;
        a.failures += b.failures;
    }
    for (a, b) in m.invariants.iter_mut().zip(&r.invariants) {
        a.checks += b.checks;
        a.violations += b.violations;
        a.first_failing_seed = match (a.first_failing_seed, b.first_failing_seed) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }
    for (a, b) in m
        .fault_coverage
        .iter_mut()
        .chain(m.branch_coverage.iter_mut())
        .zip(r.fault_coverage.iter().chain(&r.branch_coverage))
    {
        a.eligible += b.eligible;
        a.hits += b.hits;
    }
    for (a, b) in m.swarm.iter_mut().zip(&r.swarm) {
        a.runs += b.runs;
        a.failures += b.failures;
    }
    m.determinism = match (m.determinism.take(), &r.determinism) {
        (Some(a), Some(b)) => Some(Determinism {
            method: a.method,
            seeds: a.seeds + b.seeds,
            matched: a.matched + b.matched,
            mismatches: a.mismatches.into_iter().chain(b.mismatches.iter().cloned()).collect(),
        }),
        (a, b) => a.or_else(|| b.clone()),
    };
}

/// What one run derives from its sums, derived again from the merged sums.
fn derive(m: &mut Report) {
    let mut gaps = Vec::new();
    let mut judged = 0;
    for row in m.fault_coverage.iter_mut().chain(m.branch_coverage.iter_mut()) {
        row.gap = below_gate(row.hits, row.eligible);
        judged += u64::from(row.eligible >= COVERAGE_RUNS_MIN);
        if m.coverage_gate && row.gap {
            let label = if row.id.is_empty() {
                row.label.clone()
            } else {
                format!("{} {}", row.id, row.label)
            };
            gaps.push(format!("{label}: {} of {} eligible runs", row.hits, row.eligible));
        }
    }
    // I16 is judged over the batch: the shards each judged their own share.
    if let Some(i16) = m.invariants.iter_mut().find(|i| i.id == "I16") {
        (i16.checks, i16.violations) =
            if m.coverage_gate { (judged, gaps.len() as u64) } else { (0, 0) };
    }
    let failed_runs: u64 = m.outcomes.iter().filter(|o| o.failure).map(|o| o.count).sum();
    let overall = failed_runs as f64 / m.runs.max(1) as f64;
    for row in &mut m.swarm {
        row.hot = row.failures >= 3 && row.failures as f64 > 2.0 * overall * row.runs as f64;
    }
    let nondeterministic = m.determinism.as_ref().is_some_and(|d| !d.mismatches.is_empty());
    m.verdict =
        if failed_runs > 0 || !gaps.is_empty() || nondeterministic { "FAIL" } else { "PASS" }
            .to_owned();
    m.coverage_gaps = gaps;
}

fn same<T: PartialEq + fmt::Debug>(
    what: &'static str,
    first: &T,
    other: &T,
) -> Result<(), MergeError> {
    if first == other {
        Ok(())
    } else {
        Err(MergeError::Mismatch { what, first: format!("{first:?}"), other: format!("{other:?}") })
    }
}

fn names<T>(rows: &[T], name: impl Fn(&T) -> &String) -> Vec<String> {
    rows.iter().map(|r| name(r).clone()).collect()
}

fn swarm_keys(r: &Report) -> Vec<(String, String)> {
    r.swarm.iter().map(|s| (s.knob.clone(), s.bin.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard of `seeds` seeds from `start` whose one failure (with its card and trace) is at
    /// `failing`.
    fn shard(start: u64, seeds: u64, failing: u64) -> ShardReport {
        let mut r = Report::example();
        (r.start, r.seeds, r.runs) = (start, seeds, seeds);
        r.cards_max = 1;
        let trace = format!("traces/seed-{failing}-TornWrite.txt");
        r.failures[0].seed = failing;
        r.failures[0].trace_file = Some(trace.clone());
        r.cards[0].seed = failing;
        ShardReport {
            dir: PathBuf::from("s"),
            report: r,
            files: vec![(trace, format!("trace {failing}"))],
        }
    }

    #[test]
    fn the_lowest_failing_seeds_keep_their_cards_and_traces() {
        let (m, files) = merge(vec![shard(100, 100, 150), shard(0, 100, 7)]).unwrap();
        assert_eq!((m.start, m.seeds, m.runs), (0, 200, 200));
        assert_eq!(m.verdict, "FAIL");
        assert_eq!(m.cards.iter().map(|c| c.seed).collect::<Vec<_>>(), [7], "cards_max is 1");
        let traced: Vec<_> = m.failures.iter().map(|f| (f.seed, f.trace_file.is_some())).collect();
        assert_eq!(traced, [(7, true), (150, false)]);
        assert_eq!(files, [("traces/seed-7-TornWrite.txt".to_owned(), "trace 7".to_owned())]);
        let silent = m.outcomes.iter().find(|o| o.name == "SILENT-LOSS").unwrap();
        assert_eq!(silent.count, 2);
        assert_eq!(
            m.invariants[0].first_failing_seed,
            Report::example().invariants[0].first_failing_seed
        );
    }

    #[test]
    fn shards_of_different_batches_or_overlapping_blocks_are_refused() {
        let mut other = shard(100, 100, 150);
        other.report.commit = "another".into();
        assert!(matches!(
            merge(vec![shard(0, 100, 7), other]),
            Err(MergeError::Mismatch { what: "commit", .. })
        ));
        assert!(matches!(
            merge(vec![shard(0, 100, 7), shard(50, 100, 60)]),
            Err(MergeError::Blocks { expected: 100, found: 50 })
        ));
        assert!(matches!(merge(Vec::new()), Err(MergeError::Empty)));
    }

    #[test]
    fn a_trace_path_outside_the_report_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::example();
        r.failures[0].trace_file = Some("../../etc/passwd".into());
        std::fs::write(dir.path().join("report.json"), serde_json::to_string(&r).unwrap()).unwrap();
        assert!(matches!(read_shard(dir.path()), Err(MergeError::TracePath { .. })));
    }
}
