//! # mtlog-audit-reports: the torture harness's results as one self-contained HTML page
//!
//! The torture harness (`torture/`) fills a [`Report`]; this crate writes it as `report.json`
//! (for CI gates and trends) and `report.html`: inline CSS and SVG, no script needed, no network,
//! readable by an auditor with any browser. It shows the verdict and the run's provenance
//! (commit, dirty flag, profile, seeds, wall time, runs/s per core), the failure table with
//! replay commands, a card per failing seed (knobs, trace excerpt, model against recovered log,
//! an SVG timeline with faults marked), the invariants table, the fault-coverage matrix (zero
//! cells red and marked with a symbol), the outcome histogram and the determinism panel.
//! Every status is shown with a colour *and* a symbol, so the page reads without colour.
//!
//! ```
//! use mtlog_audit_reports::{render_html, Report};
//! let report = Report::example();
//! let html = render_html(&report).unwrap();
//! assert!(html.contains("FAIL"));
//! ```
//!
//! Rendering is a pure function of the `Report`: timings and the commit are fields, so tests
//! can fix them and snapshot the page.

mod svg;

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use svg::{outcome_histogram, timeline};

/// The whole report. Field order is the page's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// The git commit the binary was run from (`unknown` outside a checkout).
    pub commit: String,
    /// Whether the work tree had uncommitted changes.
    pub dirty: bool,
    /// The cargo profile (`torture`, `release`, `debug`).
    pub profile: String,
    /// The simulator crate's version.
    pub sim_version: String,
    /// How the seeds were chosen: a fixed start, or derived from the git commit.
    pub seed_source: String,
    /// The first seed.
    pub start: u64,
    /// Seeds run.
    pub seeds: u64,
    /// The scenario asked for.
    pub scenario: String,
    /// Worker threads.
    pub jobs: usize,
    /// Runs completed.
    pub runs: u64,
    /// Wall time of the batch, in seconds.
    pub wall_seconds: f64,
    /// Runs per second per worker thread (wall time).
    pub runs_per_second_per_core: f64,
    /// Runs per CPU-second of the process (user + system): the per-core speed on a machine
    /// shared with other work. `None` where the OS does not tell.
    #[serde(default)]
    pub runs_per_cpu_second: Option<f64>,
    /// The T1 floor measured in the same process: runs per CPU-second of the writer's encoding
    /// and hashing alone, the ceiling no harness change can pass.
    #[serde(default)]
    pub floor_runs_per_cpu_second: Option<f64>,
    /// The speed goal, in runs per CPU-second (issue 20: 1,000 for the Swarm mix with every
    /// check armed; FAULT-MODEL.md §4c's 10,000 was set from a WAL without hashing).
    pub target_runs_per_second_per_core: f64,
    /// Simulated seconds, summed over runs.
    pub simulated_seconds: f64,
    /// Simulated seconds per wall second.
    pub sim_to_wall: f64,
    /// Events submitted and acknowledged, crashes and recoveries, over all runs.
    pub totals: Totals,
    /// The previous report in the same directory, if there was one.
    pub previous: Option<Previous>,
    /// Runs per outcome class.
    pub outcomes: Vec<OutcomeCount>,
    /// Runs and failures per scenario, including the unavailable ones.
    pub scenarios: Vec<ScenarioRow>,
    /// One row per failing seed (sorted by class, then seed).
    pub failures: Vec<FailureRow>,
    /// Failure cards for the first failing seeds.
    pub cards: Vec<FailureCard>,
    /// One row per invariant.
    pub invariants: Vec<InvariantRow>,
    /// Fault kinds: eligible runs and runs in which each fired.
    pub fault_coverage: Vec<CoverageRow>,
    /// Recovery branches and harness paths.
    pub branch_coverage: Vec<CoverageRow>,
    /// Items below the coverage gate (I16), as text.
    pub coverage_gaps: Vec<String>,
    /// What this tier cannot exercise yet, with the reason.
    pub unavailable: Vec<Unavailable>,
    /// Failure rate against each knob, binned.
    #[serde(default)]
    pub swarm: Vec<SwarmRow>,
    /// The determinism check, if it ran.
    pub determinism: Option<Determinism>,
    /// How many failure cards the run was asked for (`--cards`): a merge of shards keeps this
    /// many of the lowest failing seeds, as one run over the whole range would.
    #[serde(default = "default_cards_max")]
    pub cards_max: usize,
    /// Whether coverage gaps fail the run (I16); `false` with `--no-coverage-gate`.
    #[serde(default = "default_true")]
    pub coverage_gate: bool,
}

fn default_cards_max() -> usize {
    10
}

fn default_true() -> bool {
    true
}

/// Totals over all runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Events submitted.
    pub submitted: u64,
    /// Events acknowledged.
    pub acked: u64,
    /// Crashes.
    pub crashes: u64,
    /// Recoveries.
    pub recoveries: u64,
    /// Acknowledged records lost to faults outside the single-copy model (excused).
    pub excused: u64,
}

/// The previous report, for deltas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    /// Its commit.
    pub commit: String,
    /// Its runs/s per core.
    pub runs_per_second_per_core: f64,
    /// Its failing share of runs.
    pub failure_rate: f64,
}

/// Runs of one outcome class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCount {
    /// The class name (`clean`, `SILENT-LOSS`, ...).
    pub name: String,
    /// Runs.
    pub count: u64,
    /// Whether the class is a failure.
    pub failure: bool,
}

/// One scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRow {
    /// Its name.
    pub name: String,
    /// Runs.
    pub runs: u64,
    /// Failing runs.
    pub failures: u64,
    /// Whether this tier can run it at all.
    pub available: bool,
    /// Why not, when it cannot.
    pub note: String,
}

/// One failing seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureRow {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: String,
    /// The failure class.
    pub class: String,
    /// The first violated invariant.
    pub invariant: String,
    /// What was found.
    pub detail: String,
    /// Simulated nanoseconds the run lasted.
    pub sim_nanos: u64,
    /// The fault families on.
    pub fault_mix: String,
    /// The one-line replay command.
    pub replay: String,
    /// The file holding the full text trace, relative to the report, if written.
    pub trace_file: Option<String>,
}

/// The detail of one failing seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureCard {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: String,
    /// The failure class.
    pub class: String,
    /// Every violation, as text.
    pub violations: Vec<String>,
    /// Every knob (the VOPR banner).
    pub knobs: String,
    /// The replay command.
    pub replay: String,
    /// The last lines of the event trace.
    pub trace_excerpt: Vec<String>,
    /// Trace lines not shown.
    pub trace_omitted: u64,
    /// Harness events on the simulated timeline.
    pub timeline: Vec<TimelinePoint>,
    /// Model against recovered log around the first divergence.
    pub divergence: Vec<DivergenceRow>,
    /// The failure shrunk to the smallest knobs that still break the same invariant.
    #[serde(default)]
    pub shrunk: Option<ShrunkCard>,
}

/// A failure shrunk: knob overrides found by rerunning with less ("drop until it stops
/// failing"), and the shrunk run's own trace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShrunkCard {
    /// The overrides (`features=... events=N cycles=C writers=W`).
    pub overrides: String,
    /// The replay command of the shrunk run.
    pub replay: String,
    /// Reruns tried.
    pub attempts: u32,
    /// Each kept step, in order.
    pub steps: Vec<String>,
    /// The shrunk run's first violation.
    pub violation: String,
    /// Events in the shrunk run's trace.
    pub trace_events: u64,
    /// The last lines of the shrunk run's trace.
    pub trace_excerpt: Vec<String>,
}

/// Swarm analysis: runs and failures of the runs whose knob fell in one bin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmRow {
    /// The knob.
    pub knob: String,
    /// The bin ("off", "4-16 KiB", ...).
    pub bin: String,
    /// Runs in the bin.
    pub runs: u64,
    /// Failing runs in the bin.
    pub failures: u64,
    /// Whether the bin's failure rate stands out: at least 3 failures and twice the batch's
    /// overall rate.
    pub hot: bool,
}

/// One point on a failure card's timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Simulated nanoseconds since the run started.
    pub at_nanos: u64,
    /// The lane: `app`, `disk`, `fault`, `recovery`, `check`.
    pub lane: String,
    /// What happened.
    pub label: String,
}

/// One seq of the divergence view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DivergenceRow {
    /// The seq.
    pub seq: u64,
    /// What the model says.
    pub model: String,
    /// What was read back.
    pub recovered: String,
}

/// One invariant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvariantRow {
    /// `I1` ...
    pub id: String,
    /// What it checks.
    pub title: String,
    /// Checks performed.
    pub checks: u64,
    /// Violations.
    pub violations: u64,
    /// The lowest failing seed.
    pub first_failing_seed: Option<u64>,
}

/// One coverage item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// FAULT-MODEL.md id (`D2`), empty for branches.
    pub id: String,
    /// What it is.
    pub label: String,
    /// Runs in which it should fire sometimes.
    pub eligible: u64,
    /// Runs in which it fired.
    pub hits: u64,
    /// Whether it is below the gate (and the batch is big enough to judge).
    pub gap: bool,
}

/// Something this tier cannot exercise yet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    /// What.
    pub name: String,
    /// Why not.
    pub reason: String,
}

/// The determinism check (I15).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Determinism {
    /// How it was run.
    pub method: String,
    /// Seeds compared.
    pub seeds: u64,
    /// Seeds with equal hashes.
    pub matched: u64,
    /// Mismatches: seed and the two hashes.
    pub mismatches: Vec<(u64, String, String)>,
}

impl Report {
    /// Whether the report's verdict is a pass.
    pub fn passed(&self) -> bool {
        self.verdict == "PASS"
    }

    /// A small, fixed report exercising every section (docs and snapshot tests).
    pub fn example() -> Report {
        let replay = "cargo run --release -p torture -- replay --seed 7 --scenario TornWrite";
        Report {
            verdict: "FAIL".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: true,
            profile: "torture".into(),
            sim_version: "0.1.0".into(),
            seed_source: "fixed start 0".into(),
            start: 0,
            seeds: 100,
            scenario: "Swarm".into(),
            jobs: 2,
            runs: 100,
            wall_seconds: 0.5,
            runs_per_second_per_core: 100.0,
            runs_per_cpu_second: Some(110.0),
            floor_runs_per_cpu_second: Some(4_200.0),
            target_runs_per_second_per_core: 1_000.0,
            simulated_seconds: 12.5,
            sim_to_wall: 25.0,
            totals: Totals {
                submitted: 5000,
                acked: 4900,
                crashes: 150,
                recoveries: 240,
                excused: 0,
            },
            previous: Some(Previous {
                commit: "fedcba9876543210fedcba9876543210fedcba98".into(),
                runs_per_second_per_core: 120.0,
                failure_rate: 0.0,
            }),
            outcomes: vec![
                OutcomeCount { name: "clean".into(), count: 60, failure: false },
                OutcomeCount { name: "tail-truncated(ok)".into(), count: 30, failure: false },
                OutcomeCount { name: "corruption-detected(ok)".into(), count: 9, failure: false },
                OutcomeCount { name: "SILENT-LOSS".into(), count: 1, failure: true },
            ],
            scenarios: vec![
                ScenarioRow {
                    name: "TornWrite".into(),
                    runs: 100,
                    failures: 1,
                    available: true,
                    note: String::new(),
                },
                ScenarioRow {
                    name: "NetworkPartition".into(),
                    runs: 0,
                    failures: 0,
                    available: false,
                    note: "not yet available (arrives with replication)".into(),
                },
            ],
            failures: vec![FailureRow {
                seed: 7,
                scenario: "TornWrite".into(),
                class: "SILENT-LOSS".into(),
                invariant: "I1".into(),
                detail: "seq 12 was acknowledged but the recovered log ends at seq 9".into(),
                sim_nanos: 1_500_000,
                fault_mix: "power_loss,torn".into(),
                replay: replay.into(),
                trace_file: Some("traces/seed-7-TornWrite.txt".into()),
            }],
            cards: vec![FailureCard {
                seed: 7,
                scenario: "TornWrite".into(),
                class: "SILENT-LOSS".into(),
                violations: vec!["I1 SILENT-LOSS: seq 12 lost".into()],
                knobs: "seed=7 scenario=TornWrite writers=2".into(),
                replay: replay.into(),
                trace_excerpt: vec!["   41 t=10 Write f=3 off=64 len=120 -> ok(120)".into()],
                trace_omitted: 40,
                timeline: vec![
                    TimelinePoint { at_nanos: 0, lane: "recovery".into(), label: "open".into() },
                    TimelinePoint {
                        at_nanos: 500_000,
                        lane: "app".into(),
                        label: "commit 3".into(),
                    },
                    TimelinePoint {
                        at_nanos: 900_000,
                        lane: "fault".into(),
                        label: "D2 torn".into(),
                    },
                    TimelinePoint {
                        at_nanos: 1_000_000,
                        lane: "disk".into(),
                        label: "crash".into(),
                    },
                    TimelinePoint { at_nanos: 1_500_000, lane: "check".into(), label: "I1".into() },
                ],
                divergence: vec![
                    DivergenceRow {
                        seq: 11,
                        model: "acked".into(),
                        recovered: "read, equal".into(),
                    },
                    DivergenceRow { seq: 12, model: "acked".into(), recovered: "missing".into() },
                ],
                shrunk: Some(ShrunkCard {
                    overrides: "features=torn events=12 cycles=1 writers=1".into(),
                    replay: format!("{replay} --set 'features=torn events=12 cycles=1 writers=1'"),
                    attempts: 31,
                    steps: vec!["noise off".into(), "events 300 -> 12".into()],
                    violation: "I1 SILENT-LOSS: seq 12 lost".into(),
                    trace_events: 96,
                    trace_excerpt: vec!["   95 t=9 Crash kind=power -> ok(0)".into()],
                }),
            }],
            invariants: vec![
                InvariantRow {
                    id: "I1".into(),
                    title: "acked durability".into(),
                    checks: 4900,
                    violations: 1,
                    first_failing_seed: Some(7),
                },
                InvariantRow {
                    id: "I2".into(),
                    title: "no phantoms".into(),
                    checks: 4900,
                    violations: 0,
                    first_failing_seed: None,
                },
            ],
            fault_coverage: vec![
                CoverageRow {
                    id: "D2".into(),
                    label: "torn write".into(),
                    eligible: 100,
                    hits: 40,
                    gap: false,
                },
                CoverageRow {
                    id: "D8".into(),
                    label: "misdirected write".into(),
                    eligible: 100,
                    hits: 0,
                    gap: true,
                },
            ],
            swarm: vec![
                SwarmRow {
                    knob: "torn".into(),
                    bin: "off".into(),
                    runs: 60,
                    failures: 0,
                    hot: false,
                },
                SwarmRow {
                    knob: "torn".into(),
                    bin: "on".into(),
                    runs: 40,
                    failures: 4,
                    hot: true,
                },
            ],
            branch_coverage: vec![CoverageRow {
                id: String::new(),
                label: "recovery: torn-tail cut".into(),
                eligible: 100,
                hits: 30,
                gap: false,
            }],
            coverage_gaps: vec!["D8 misdirected write: 0 of 100 runs".into()],
            unavailable: vec![Unavailable {
                name: "D9 lost write (detect)".into(),
                reason: "needs shadow directories or external checkpoints".into(),
            }],
            determinism: Some(Determinism {
                method: "2 fresh processes, --jobs 1 and --jobs 2".into(),
                seeds: 10,
                matched: 10,
                mismatches: Vec::new(),
            }),
            cards_max: 10,
            coverage_gate: true,
        }
    }
}

/// Renders the report as one self-contained HTML page.
///
/// # Errors
/// A template error (a bug in this crate's template).
pub fn render_html(report: &Report) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", include_str!("../templates/report.html"))?;
    env.add_filter("thousands", thousands);
    env.add_filter("pct", pct);
    env.add_filter("seconds", seconds);
    let histogram = minijinja::Value::from_safe_string(svg::outcome_histogram(&report.outcomes));
    let timelines: Vec<minijinja::Value> = report
        .cards
        .iter()
        .map(|c| minijinja::Value::from_safe_string(svg::timeline(&c.timeline)))
        .collect();
    let failure_rate = if report.runs == 0 {
        0.0
    } else {
        report.outcomes.iter().filter(|o| o.failure).map(|o| o.count).sum::<u64>() as f64
            / report.runs as f64
    };
    let template = env.get_template("report.html")?;
    template.render(minijinja::context! {
        r => minijinja::Value::from_serialize(report),
        histogram => histogram,
        timelines => timelines,
        failure_rate => failure_rate,
        // The goal is per CPU-second; where the OS gave no CPU time, wall time per thread.
        speed_ok => report.runs_per_cpu_second.unwrap_or(report.runs_per_second_per_core)
            >= report.target_runs_per_second_per_core,
    })
}

/// Writes `report.json` and `report.html` into `dir` (created if missing), plus each
/// `(relative path, text)` of `files` (the full text traces of failing seeds).
///
/// # Errors
/// I/O errors, or a template error.
#[allow(clippy::disallowed_methods)] // Writing the report to the operator's directory is the
                                     // point of this function; no simulation runs here.
pub fn write_report(dir: &Path, report: &Report, files: &[(String, String)]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let html = render_html(report).map_err(io::Error::other)?;
    let json = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.html"), html)?;
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Reads the `report.json` in `dir`, if there is one (for the comparison with the previous run).
#[allow(clippy::disallowed_methods)] // See `write_report`.
pub fn read_previous(dir: &Path) -> Option<Report> {
    let text = std::fs::read(dir.join("report.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

fn thousands(value: f64) -> String {
    let n = value.round() as i128;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

fn pct(value: f64) -> String {
    format!("{:.2} %", value * 100.0)
}

fn seconds(value: f64) -> String {
    format!("{value:.2} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(thousands(-1000.0), "-1,000");
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render_html(&Report::example()).unwrap();
        assert!(!html.contains("http://") && !html.contains("https://"), "no network");
        assert!(!html.contains("<script src"), "no external script");
        assert!(html.contains("<svg"), "charts are inline SVG");
    }
}
