//! From a batch's results to the [`mtlog_audit_reports::Report`] (and the summary printed on
//! the terminal).

use std::fmt::Write as _;

use mtlog_audit_reports::{
    CoverageRow, Determinism, DivergenceRow, FailureCard, FailureRow, InvariantRow, OutcomeCount,
    Previous, Report, ScenarioRow, ShrunkCard, SwarmRow, TimelinePoint, Totals, Unavailable,
};

use crate::batch::BatchResult;
use crate::coverage::{BRANCHES, FAULTS, FAULTS_UNAVAILABLE};
use crate::knobs::{Knobs, SCENARIOS, UNAVAILABLE};
use crate::outcome::{RunResult, INVARIANTS, OUTCOMES};
use crate::replay_command;

/// The speed goal of the Swarm mix, in runs per CPU-second with every check armed (issue 20,
/// restating FAULT-MODEL.md §4c's 10,000, which was set from a WAL without hashing; the T1
/// floor printed beside it shows why).
pub const TARGET_RUNS_PER_SECOND_PER_CORE: f64 = 1_000.0;
/// Trace lines shown on a failure card (the full trace goes to a `.txt` beside the report).
const CARD_TRACE_LINES: usize = 60;

/// Where the run came from.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// `git rev-parse HEAD`, or `unknown`.
    pub commit: String,
    /// Whether `git status --porcelain` printed anything.
    pub dirty: bool,
    /// The cargo profile.
    pub profile: String,
    /// How the seeds were chosen.
    pub seed_source: String,
}

impl Provenance {
    /// Asks git (in the current directory) and the build.
    pub fn detect(seed_source: String) -> Provenance {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        Provenance {
            commit: git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned()),
            dirty: git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
            profile: format!(
                "{} (debug assertions {})",
                env!("TORTURE_PROFILE"),
                if cfg!(debug_assertions) { "on" } else { "off" },
            ),
            seed_source,
        }
    }
}

/// Builds the report. Returns it with the text traces to write beside it.
pub fn build(
    batch: &BatchResult,
    provenance: &Provenance,
    determinism: Option<Determinism>,
    previous: Option<&Report>,
    gaps: &[(String, u64, u64)],
    cards_max: usize,
    coverage_gate: bool,
) -> (Report, Vec<(String, String)>) {
    let failed = batch.failed_runs() > 0
        || !gaps.is_empty()
        || determinism.as_ref().is_some_and(|d| !d.mismatches.is_empty());
    let wall = batch.wall.as_secs_f64();
    let simulated = batch.sim_nanos as f64 / 1e9;
    let mut files = Vec::new();
    let failures = failure_rows(batch, &mut files);
    let report = Report {
        verdict: if failed { "FAIL" } else { "PASS" }.to_owned(),
        commit: provenance.commit.clone(),
        dirty: provenance.dirty,
        profile: provenance.profile.clone(),
        sim_version: "0.1.0".to_owned(),
        seed_source: provenance.seed_source.clone(),
        start: batch.config.start,
        seeds: batch.config.seeds,
        scenario: batch.config.scenario.to_string(),
        jobs: batch.config.jobs,
        runs: batch.runs,
        wall_seconds: wall,
        runs_per_second_per_core: batch.runs_per_second_per_core(),
        runs_per_cpu_second: batch.runs_per_cpu_second(),
        floor_runs_per_cpu_second: batch.floor_runs_per_cpu_second,
        target_runs_per_second_per_core: TARGET_RUNS_PER_SECOND_PER_CORE,
        simulated_seconds: simulated,
        sim_to_wall: if wall > 0.0 { simulated / wall } else { 0.0 },
        totals: Totals {
            submitted: batch.submitted,
            acked: batch.acked,
            crashes: batch.crashes,
            recoveries: batch.recoveries,
            excused: batch.excused,
        },
        previous: previous.map(|p| Previous {
            commit: p.commit.clone(),
            runs_per_second_per_core: p.runs_per_second_per_core,
            failure_rate: failure_rate(p),
        }),
        outcomes: OUTCOMES
            .iter()
            .map(|o| OutcomeCount {
                name: o.name().to_owned(),
                count: batch.count(*o),
                failure: o.is_failure(),
            })
            .collect(),
        scenarios: scenario_rows(batch),
        failures,
        cards: batch.failures.iter().filter(|f| f.detail.is_some()).map(card).collect(),
        invariants: INVARIANTS
            .iter()
            .enumerate()
            .map(|(i, inv)| InvariantRow {
                id: inv.id().to_owned(),
                title: inv.title().to_owned(),
                checks: batch.checks[i],
                violations: batch.violations[i],
                first_failing_seed: batch.first_failing[i],
            })
            .collect(),
        fault_coverage: coverage_rows(batch, true),
        swarm: swarm_rows(batch),
        branch_coverage: coverage_rows(batch, false),
        coverage_gaps: gaps
            .iter()
            .map(|(label, hits, runs)| format!("{label}: {hits} of {runs} eligible runs"))
            .collect(),
        unavailable: FAULTS_UNAVAILABLE
            .iter()
            .chain(UNAVAILABLE.iter())
            .map(|(n, r)| Unavailable { name: (*n).to_owned(), reason: (*r).to_owned() })
            .collect(),
        determinism,
        cards_max,
        coverage_gate,
    };
    (report, files)
}

fn failure_rate(r: &Report) -> f64 {
    if r.runs == 0 {
        return 0.0;
    }
    r.outcomes.iter().filter(|o| o.failure).map(|o| o.count).sum::<u64>() as f64 / r.runs as f64
}

fn scenario_rows(batch: &BatchResult) -> Vec<ScenarioRow> {
    let mut rows: Vec<ScenarioRow> = SCENARIOS
        .iter()
        .map(|s| {
            let counts = batch.per_scenario.get(s).cloned().unwrap_or_default();
            let failures = OUTCOMES
                .iter()
                .filter(|o| o.is_failure())
                .map(|o| counts.outcomes[o.index()])
                .sum();
            ScenarioRow {
                name: s.name().to_owned(),
                runs: counts.runs,
                failures,
                available: true,
                note: String::new(),
            }
        })
        .collect();
    rows.extend(UNAVAILABLE.iter().map(|(name, note)| ScenarioRow {
        name: (*name).to_owned(),
        runs: 0,
        failures: 0,
        available: false,
        note: (*note).to_owned(),
    }));
    rows
}

fn failure_rows(batch: &BatchResult, files: &mut Vec<(String, String)>) -> Vec<FailureRow> {
    let mut failures: Vec<&RunResult> = batch.failures.iter().collect();
    failures.sort_by_key(|f| (f.outcome, f.counters.sim_nanos, f.seed));
    failures
        .into_iter()
        .map(|f| {
            let knobs = Knobs::draw(f.seed, f.scenario);
            let trace_file = f.detail.as_ref().map(|d| {
                let name = format!("traces/seed-{}-{}.txt", f.seed, f.scenario);
                let mut text = String::new();
                let _ = writeln!(text, "# {}", replay_command(f.seed, f.scenario));
                let _ = writeln!(text, "# knobs: {}", d.knobs);
                for v in &f.violations {
                    let _ = writeln!(text, "# {} {}: {}", v.invariant.id(), v.class, v.detail);
                }
                if d.trace_dropped > 0 {
                    let _ = writeln!(text, "# ({} earlier lines dropped)", d.trace_dropped);
                }
                for line in &d.trace {
                    text.push_str(line);
                    text.push('\n');
                }
                files.push((name.clone(), text));
                name
            });
            let first = f.first_violation();
            FailureRow {
                seed: f.seed,
                scenario: f.scenario.to_string(),
                class: f.outcome.name().to_owned(),
                invariant: first.map(|v| v.invariant.id().to_owned()).unwrap_or_default(),
                detail: first.map(|v| v.detail.clone()).unwrap_or_default(),
                sim_nanos: f.counters.sim_nanos,
                fault_mix: knobs.features.names().join(","),
                replay: replay_command(f.seed, f.scenario),
                trace_file,
            }
        })
        .collect()
}

fn card(f: &RunResult) -> FailureCard {
    let d = f.detail.clone().unwrap_or_default();
    let skip = d.trace.len().saturating_sub(CARD_TRACE_LINES);
    FailureCard {
        seed: f.seed,
        scenario: f.scenario.to_string(),
        class: f.outcome.name().to_owned(),
        violations: f
            .violations
            .iter()
            .map(|v| format!("{} {}: {}", v.invariant.id(), v.class, v.detail))
            .collect(),
        knobs: d.knobs.clone(),
        replay: replay_command(f.seed, f.scenario),
        trace_excerpt: d.trace[skip..].to_vec(),
        trace_omitted: skip as u64 + d.trace_dropped,
        timeline: d
            .timeline
            .iter()
            .map(|t| TimelinePoint {
                at_nanos: t.at_nanos,
                lane: t.lane.to_owned(),
                label: t.label.clone(),
            })
            .collect(),
        divergence: d
            .divergence
            .iter()
            .map(|(seq, model, recovered)| DivergenceRow {
                seq: *seq,
                model: model.clone(),
                recovered: recovered.clone(),
            })
            .collect(),
        shrunk: d.shrunk.as_ref().map(|s| {
            let skip = s.trace.len().saturating_sub(CARD_TRACE_LINES);
            ShrunkCard {
                overrides: s.overrides.clone(),
                replay: s.replay.clone(),
                attempts: s.attempts,
                steps: s.steps.clone(),
                violation: s.violation.clone(),
                trace_events: s.trace_events,
                trace_excerpt: s.trace[skip..].to_vec(),
            }
        }),
    }
}

/// The swarm analysis rows: a bin is hot when it has at least 3 failures at twice the batch's
/// overall failure rate.
fn swarm_rows(batch: &BatchResult) -> Vec<SwarmRow> {
    let overall = batch.failed_runs() as f64 / batch.runs.max(1) as f64;
    batch
        .swarm
        .rows()
        .into_iter()
        .map(|(knob, bin, runs, failures)| SwarmRow {
            knob: knob.to_owned(),
            bin: bin.to_owned(),
            runs,
            failures,
            hot: failures >= 3 && failures as f64 > 2.0 * overall * runs as f64,
        })
        .collect()
}

fn coverage_rows(batch: &BatchResult, faults: bool) -> Vec<CoverageRow> {
    let t = &batch.tally;
    let gap = crate::coverage::below_gate;
    if faults {
        FAULTS
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (id, label) = f.label();
                CoverageRow {
                    id: id.to_owned(),
                    label: label.to_owned(),
                    eligible: t.fault_runs[i],
                    hits: t.fault_hits[i],
                    gap: gap(t.fault_hits[i], t.fault_runs[i]),
                }
            })
            .collect()
    } else {
        BRANCHES
            .iter()
            .enumerate()
            .map(|(i, b)| CoverageRow {
                id: String::new(),
                label: b.label().to_owned(),
                eligible: t.branch_runs[i],
                hits: t.branch_hits[i],
                gap: gap(t.branch_hits[i], t.branch_runs[i]),
            })
            .collect()
    }
}

/// The terminal summary: scenarios, outcomes, invariants, coverage gaps, speed, failures with
/// their replay commands.
pub fn summary(batch: &BatchResult, gaps: &[(String, u64, u64)], failures_max: usize) -> String {
    let mut s = String::new();
    let wall = batch.wall.as_secs_f64();
    let _ = writeln!(
        s,
        "\n{} runs ({} from seed {}) on {} threads in {:.2} s: {:.0} runs/s, {:.0} runs/s per core \
         (target {:.0})",
        batch.runs,
        batch.config.scenario,
        batch.config.start,
        batch.config.jobs,
        wall,
        batch.runs as f64 / wall.max(1e-9),
        batch.runs_per_second_per_core(),
        TARGET_RUNS_PER_SECOND_PER_CORE
    );
    if let Some(r) = batch.runs_per_cpu_second() {
        let _ = writeln!(
            s,
            "{r:.0} runs per CPU-second (process user + system time; goal {:.0})",
            TARGET_RUNS_PER_SECOND_PER_CORE
        );
    }
    if let Some(f) = batch.floor_runs_per_cpu_second {
        let _ = writeln!(
            s,
            "T1 floor, same process: {f:.0} runs per CPU-second for the writer's encoding and \
             hashing alone ({} events per run, no disk, recovery or check)",
            crate::floor::FLOOR_EVENTS
        );
    }
    let _ = writeln!(s, "\n{:<24} {:>9} {:>9}", "scenario", "runs", "failures");
    for row in scenario_rows(batch) {
        if !row.available {
            let _ = writeln!(s, "{:<24} {:>9} {:>9}  {}", row.name, "-", "-", row.note);
        } else if row.runs > 0 {
            let _ = writeln!(s, "{:<24} {:>9} {:>9}", row.name, row.runs, row.failures);
        }
    }
    let _ = writeln!(s, "\n{:<26} {:>9} {:>8}", "outcome", "runs", "share");
    for o in OUTCOMES {
        let n = batch.count(o);
        if n > 0 || !o.is_failure() {
            let share = 100.0 * n as f64 / batch.runs.max(1) as f64;
            let _ = writeln!(s, "{:<26} {:>9} {:>7.2}%", o.name(), n, share);
        }
    }
    let _ = writeln!(s, "\n{:<5} {:>12} {:>10}  invariant", "id", "checks", "violations");
    for (i, inv) in INVARIANTS.iter().enumerate() {
        let _ = writeln!(
            s,
            "{:<5} {:>12} {:>10}  {}",
            inv.id(),
            batch.checks[i],
            batch.violations[i],
            inv.title()
        );
    }
    for (name, reason) in FAULTS_UNAVAILABLE.iter().chain(UNAVAILABLE.iter()) {
        let _ = writeln!(s, "not yet available: {name}: {reason}");
    }
    for (label, hits, runs) in gaps {
        let _ = writeln!(s, "COVERAGE GAP (I16): {label}: fired in {hits} of {runs} eligible runs");
    }
    if batch.failures.is_empty() {
        let _ = writeln!(s, "\nno failures");
    } else {
        let _ = writeln!(s, "\n{} failing runs:", batch.failures.len());
        for f in batch.failures.iter().take(failures_max) {
            let detail = f.first_violation().map(|v| v.detail.as_str()).unwrap_or("");
            let _ = writeln!(s, "  seed {} {} {}: {detail}", f.seed, f.scenario, f.outcome);
            let _ = writeln!(s, "    {}", replay_command(f.seed, f.scenario));
        }
        if batch.failures.len() > failures_max {
            let _ = writeln!(s, "  ... and {} more", batch.failures.len() - failures_max);
        }
    }
    s
}
