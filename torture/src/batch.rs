//! Running many seeds on every core: one simulator per run, seeds handed out in fixed chunks
//! from a shared counter, results merged in seed order so the output does not depend on which
//! thread ran what.

#![allow(clippy::disallowed_methods)] // Harness glue outside any simulation: worker threads
                                      // and the wall clock for the runs/s measurement.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::coverage::Tally;
use crate::knobs::{Knobs, Scenario};
use crate::outcome::{Outcome, RunResult, ShrunkDetail, INVARIANTS, OUTCOMES};
use crate::run::{run_one, run_with, RunOptions};
use crate::swarm::SwarmTally;

/// Seeds per chunk a worker takes at a time.
const CHUNK: u64 = 32;

/// What to run.
#[derive(Clone, Debug)]
pub struct BatchConfig {
    /// The first seed.
    pub start: u64,
    /// How many seeds.
    pub seeds: u64,
    /// The scenario (`Swarm` mixes everything).
    pub scenario: Scenario,
    /// Worker threads.
    pub jobs: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Keep every seed's trace hash (for the determinism check).
    pub keep_hashes: bool,
}

/// Counts per scenario.
#[derive(Clone, Debug, Default)]
pub struct ScenarioCounts {
    /// Runs.
    pub runs: u64,
    /// Runs per outcome class (index as in [`OUTCOMES`]).
    pub outcomes: [u64; OUTCOMES.len()],
}

/// What a batch produced.
#[derive(Clone, Debug)]
pub struct BatchResult {
    /// The configuration.
    pub config: BatchConfig,
    /// Runs completed.
    pub runs: u64,
    /// Wall time of the whole batch.
    pub wall: Duration,
    /// CPU time the process spent on the batch (user + system), when the OS tells it: on a
    /// shared machine the honest measure of per-core speed.
    pub cpu_seconds: Option<f64>,
    /// Runs per outcome class.
    pub outcomes: [u64; OUTCOMES.len()],
    /// Counts per scenario.
    pub per_scenario: BTreeMap<Scenario, ScenarioCounts>,
    /// Checks per invariant.
    pub checks: [u64; INVARIANTS.len()],
    /// Violations per invariant.
    pub violations: [u64; INVARIANTS.len()],
    /// The lowest failing seed per invariant.
    pub first_failing: [Option<u64>; INVARIANTS.len()],
    /// Coverage counts.
    pub tally: Tally,
    /// Failure rate per knob bin.
    pub swarm: SwarmTally,
    /// Failing runs, by seed.
    pub failures: Vec<RunResult>,
    /// (seed, trace hash) of every run, if asked for.
    pub hashes: Vec<(u64, u64)>,
    /// Simulated nanoseconds, summed over runs.
    pub sim_nanos: u128,
    /// Events submitted and acknowledged, crashes and recoveries, summed.
    pub submitted: u64,
    /// See `submitted`.
    pub acked: u64,
    /// See `submitted`.
    pub crashes: u64,
    /// See `submitted`.
    pub recoveries: u64,
    /// Records whose loss was excused as outside the single-copy model.
    pub excused: u64,
    /// The T1 floor measured in this process ([`crate::floor`]), when the command measured it.
    pub floor_runs_per_cpu_second: Option<f64>,
}

impl BatchResult {
    fn new(config: BatchConfig) -> BatchResult {
        BatchResult {
            config,
            runs: 0,
            wall: Duration::ZERO,
            cpu_seconds: None,
            outcomes: [0; OUTCOMES.len()],
            per_scenario: BTreeMap::new(),
            checks: [0; INVARIANTS.len()],
            violations: [0; INVARIANTS.len()],
            first_failing: [None; INVARIANTS.len()],
            tally: Tally::new(),
            swarm: SwarmTally::default(),
            failures: Vec::new(),
            hashes: Vec::new(),
            sim_nanos: 0,
            submitted: 0,
            acked: 0,
            crashes: 0,
            recoveries: 0,
            excused: 0,
            floor_runs_per_cpu_second: None,
        }
    }

    fn add(&mut self, r: RunResult) {
        self.runs += 1;
        self.outcomes[r.outcome.index()] += 1;
        let s = self.per_scenario.entry(r.scenario).or_default();
        s.runs += 1;
        s.outcomes[r.outcome.index()] += 1;
        for (i, c) in r.checks.iter().enumerate() {
            self.checks[i] += u64::from(*c);
        }
        for v in &r.violations {
            let i = v.invariant.index();
            self.violations[i] += 1;
            self.first_failing[i] = Some(self.first_failing[i].map_or(r.seed, |s| s.min(r.seed)));
        }
        let knobs = Knobs::draw(r.seed, r.scenario);
        self.tally.add(&knobs.features, r.faults, r.branches);
        self.swarm.add(&knobs, r.failed());
        self.sim_nanos += u128::from(r.counters.sim_nanos);
        self.submitted += r.counters.submitted;
        self.acked += r.counters.acked;
        self.crashes += r.counters.crashes;
        self.recoveries += r.counters.recoveries;
        self.excused += u64::from(r.excused);
        if self.config.keep_hashes {
            self.hashes.push((r.seed, r.trace_hash));
        }
        if r.failed() {
            self.failures.push(r);
        }
    }

    fn merge(&mut self, other: BatchResult) {
        self.runs += other.runs;
        for i in 0..OUTCOMES.len() {
            self.outcomes[i] += other.outcomes[i];
        }
        for (k, v) in other.per_scenario {
            let s = self.per_scenario.entry(k).or_default();
            s.runs += v.runs;
            for i in 0..OUTCOMES.len() {
                s.outcomes[i] += v.outcomes[i];
            }
        }
        for i in 0..INVARIANTS.len() {
            self.checks[i] += other.checks[i];
            self.violations[i] += other.violations[i];
            self.first_failing[i] = match (self.first_failing[i], other.first_failing[i]) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.tally.merge(&other.tally);
        self.swarm.merge(&other.swarm);
        self.failures.extend(other.failures);
        self.hashes.extend(other.hashes);
        self.sim_nanos += other.sim_nanos;
        self.submitted += other.submitted;
        self.acked += other.acked;
        self.crashes += other.crashes;
        self.recoveries += other.recoveries;
        self.excused += other.excused;
    }

    /// Runs per second per worker thread.
    pub fn runs_per_second_per_core(&self) -> f64 {
        let secs = self.wall.as_secs_f64().max(1e-9);
        self.runs as f64 / secs / self.config.jobs.max(1) as f64
    }

    /// Runs per CPU-second (user + system time of the process), if known.
    pub fn runs_per_cpu_second(&self) -> Option<f64> {
        self.cpu_seconds.filter(|s| *s > 0.0).map(|s| self.runs as f64 / s)
    }

    /// Whether any run failed.
    pub fn failed_runs(&self) -> u64 {
        OUTCOMES.iter().filter(|o| o.is_failure()).map(|o| self.outcomes[o.index()]).sum()
    }

    /// The count of one outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes[o.index()]
    }
}

/// Runs the batch on `config.jobs` threads.
pub fn run_batch(config: &BatchConfig) -> BatchResult {
    crate::panics::install_quiet_hook();
    let next = AtomicU64::new(0);
    let total = config.seeds;
    let bar = progress_bar(config);
    let merged = Mutex::new(BatchResult::new(config.clone()));
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            scope.spawn(|| {
                let mut local = BatchResult::new(config.clone());
                let options = RunOptions::default();
                loop {
                    let from = next.fetch_add(CHUNK, Ordering::Relaxed);
                    if from >= total {
                        break;
                    }
                    let to = (from + CHUNK).min(total);
                    for i in from..to {
                        local.add(run_one(config.start.wrapping_add(i), config.scenario, &options));
                    }
                    if let Some(bar) = &bar {
                        bar.inc(to - from);
                    }
                }
                merged.lock().unwrap_or_else(|p| p.into_inner()).merge(local);
            });
        }
    });
    let mut result = merged.into_inner().unwrap_or_else(|p| p.into_inner());
    result.wall = started.elapsed();
    result.cpu_seconds =
        process_cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.failures.sort_by_key(|r| (r.seed, r.scenario));
    result.hashes.sort_unstable();
    result
}

/// User + system CPU seconds of this process, from `/proc/self/stat` (Linux; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    // The seam rule is about simulations; this is the harness measuring itself.
    #[allow(clippy::disallowed_methods)]
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_seconds_of_stat(&stat)
}

/// User + system CPU seconds from the text of a `/proc/.../stat` file: the 14th and 15th fields
/// (counted after the parenthesised command name, which may hold spaces), in clock ticks.
pub(crate) fn cpu_seconds_of_stat(stat: &str) -> Option<f64> {
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    const TICKS_PER_SECOND: f64 = 100.0; // USER_HZ on Linux
    Some((utime + stime) / TICKS_PER_SECOND)
}

fn progress_bar(config: &BatchConfig) -> Option<indicatif::ProgressBar> {
    if !config.progress {
        return None;
    }
    let bar = indicatif::ProgressBar::new(config.seeds);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} seeds ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Reruns failing seeds with full detail (trace, timeline, divergence), up to `cards`, and
/// checks each rerun gives the same trace hash (I15): a mismatch adds a NONDETERMINISM
/// violation. Each is also shrunk ([`crate::shrink`]) and the shrunk run's trace kept.
pub fn detail_failures(result: &mut BatchResult, cards: usize, trace_lines: usize) {
    let options = RunOptions { detail: true, trace_lines };
    for failure in result.failures.iter_mut().take(cards) {
        let again = run_one(failure.seed, failure.scenario, &options);
        if again.trace_hash != failure.trace_hash && failure.outcome != Outcome::Panic {
            failure.violations.push(crate::outcome::Violation {
                invariant: crate::outcome::Invariant::I15,
                class: Outcome::Nondeterminism,
                detail: format!(
                    "rerun gave trace hash {:016x}, the batch {:016x}",
                    again.trace_hash, failure.trace_hash
                ),
            });
        }
        failure.detail = again.detail;
        let shrunk = crate::shrink::shrink_run(failure);
        if let (Some(detail), Some(shrunk)) = (failure.detail.as_mut(), shrunk) {
            let small = run_with(failure.seed, failure.scenario, &shrunk.overrides, &options);
            let overrides = shrunk.overrides.to_string();
            detail.shrunk = Some(ShrunkDetail {
                replay: crate::replay_command_with(failure.seed, failure.scenario, &overrides),
                overrides,
                attempts: shrunk.attempts,
                steps: shrunk.steps,
                trace: small.detail.map(|d| d.trace).unwrap_or_default(),
                trace_events: small.trace_events,
                violation: small
                    .violations
                    .first()
                    .map(|v| format!("{} {}: {}", v.invariant.id(), v.class, v.detail))
                    .unwrap_or_default(),
            });
        }
    }
}
