//! The torture command line, shared by the `torture` binary and `mtlog-audit torture`.
//!
//! ```text
//! torture --seeds 1000000                      # the main job: Swarm, every core
//! torture --seeds 20000 --start 0 --report target/torture-report
//! torture replay --seed 1234 --scenario TornWrite
//! torture determinism --seeds 1000
//! torture canaries
//! torture --real --iterations 10000            # real processes, real SIGKILL
//! torture --seeds 1000000 --shard 3/16 --report shard-3   # one machine's share
//! torture merge shard-* --report torture-report           # one report from all shares
//! ```
//!
//! Exit status: 0 when every run passed (and coverage and determinism held), 1 when anything
//! failed, 2 on a usage or internal error.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::batch::{detail_failures, run_batch, BatchConfig};
use crate::coverage::{BRANCHES, FAULTS};
use crate::knobs::{Knobs, Overrides, Scenario, SCENARIOS, UNAVAILABLE};
use crate::outcome::OUTCOMES;
use crate::report::{self, Provenance};
use crate::run::{run_with, RunOptions};
use crate::seeds::{SeedRange, Shard};
use crate::{canary, determinism, merge, real, replay_command, replay_command_with};

#[derive(Parser, Debug)]
#[command(name = "torture", version, about = "Seeded crash and fault torture for mtlog-audit")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 10_000)]
    seeds: u64,
    /// The first seed (decimal or 0x-hex).
    #[arg(long, value_parser = parse_seed, default_value = "0")]
    start: u64,
    /// The scenario (Swarm mixes all of them).
    #[arg(long, value_parser = parse_scenario, default_value = "Swarm")]
    scenario: Scenario,
    /// Worker threads (default: every core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    jobs: Option<u64>,
    /// Run only block I of N (from 0) of the seed range: contiguous, disjoint blocks that
    /// together are the range. `torture merge` joins the shards' reports into one.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Write report.html and report.json into this directory.
    #[arg(long, default_value = "torture-report")]
    report: Option<PathBuf>,
    /// Write no report (and skip the determinism check that goes with it).
    #[arg(long)]
    no_report: bool,
    /// Take the first seed from the git commit (fresh but replayable in CI).
    #[arg(long)]
    seed_from_git: bool,
    /// Failure cards (full detail) to produce.
    #[arg(long, default_value_t = 10)]
    cards: usize,
    /// Do not run the determinism check in child processes with --report.
    #[arg(long)]
    no_determinism: bool,
    /// Report coverage gaps (I16) without failing on them.
    #[arg(long)]
    no_coverage_gate: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Print only the verdict line.
    #[arg(long)]
    quiet: bool,
    /// Real processes instead of the simulator: SIGKILL a writer child at seeded moments,
    /// recover, check I1-I4 against what it acknowledged over a pipe.
    #[arg(long)]
    real: bool,
    /// With --real: how many children to kill.
    #[arg(long, default_value_t = 50, requires = "real")]
    iterations: u64,
    /// With --real: the seed of the kill delays.
    #[arg(long, value_parser = parse_seed, default_value = "0x5eedc0de", requires = "real")]
    real_seed: u64,
    /// With --real: the log directory, new or empty (default: a fresh temporary one, removed
    /// afterwards).
    #[arg(long, requires = "real")]
    real_dir: Option<PathBuf>,
    /// Write every seed's trace hash here (used by the determinism check).
    #[arg(long, hide = true)]
    hashes_out: Option<PathBuf>,
    /// Write the failing seeds here, one `seed class` per line (used by the canary check).
    #[arg(long, hide = true)]
    failures_out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rerun one seed and print its knobs, full event trace and verdict.
    Replay {
        /// The seed (decimal or 0x-hex).
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        /// The scenario.
        #[arg(long, value_parser = parse_scenario, default_value = "Swarm")]
        scenario: Scenario,
        /// Trace lines to keep (the last ones).
        #[arg(long, default_value_t = 1_000_000)]
        trace_lines: usize,
        /// Knob overrides, as a shrunk failure prints them: 'features=kill9,torn events=40
        /// cycles=1 writers=2'.
        #[arg(long = "set", value_parser = Overrides::parse, default_value = "")]
        overrides: Overrides,
        /// Shrink the failure: the smallest knobs that still break the same invariant.
        #[arg(long)]
        shrink: bool,
    },
    /// I15: rerun seeds in two fresh processes with different --jobs and compare trace hashes.
    Determinism {
        /// How many seeds.
        #[arg(long, default_value_t = 1_000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, value_parser = parse_seed, default_value = "0")]
        start: u64,
        /// The scenario.
        #[arg(long, value_parser = parse_scenario, default_value = "Swarm")]
        scenario: Scenario,
    },
    /// Build with each planted bug and check that a smoke run fails (needs cargo).
    Canaries {
        /// Seeds per canary.
        #[arg(long, default_value_t = 2_000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, value_parser = parse_seed, default_value = "0")]
        start: u64,
        /// The cargo profile to build with.
        #[arg(long, default_value = "torture")]
        profile: String,
    },
    /// Merge the reports of `--shard` runs (each directory holds a report.json and its traces)
    /// into one report equal to that of one run over the whole range.
    Merge {
        /// The shards' report directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Write the merged report.html and report.json into this directory.
        #[arg(long, default_value = "torture-report")]
        report: PathBuf,
    },
    /// List scenarios, coverage items and outcome classes.
    List,
    /// The writer process of `--real` (started by it; emits until killed).
    #[command(hide = true)]
    RealChild {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("not a seed: {s:?} ({e})"))
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).map_err(|e| e.to_string())
}

/// Checks a seed range before anything runs: a bad one is a usage error (exit 2) at once.
fn seed_range(start: u64, seeds: u64) -> Result<SeedRange, ExitCode> {
    SeedRange::new(start, seeds).map_err(|e| {
        eprintln!("torture: {e}");
        ExitCode::from(2)
    })
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    if let Some((name, note)) = UNAVAILABLE.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Err(format!("{name}: {note}"));
    }
    Scenario::parse(s).ok_or_else(|| {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name()).collect();
        format!("unknown scenario {s:?}; one of {}", names.join(", "))
    })
}

/// Runs the torture command line on `args` (the first is the program name). `exe_prefix`
/// places the harness in the current executable for the child processes it starts: empty for
/// the `torture` binary, `["torture"]` for `mtlog-audit torture`.
pub fn main_with(args: impl IntoIterator<Item = OsString>, exe_prefix: &[String]) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    if cli.run.real {
        return real_command(&cli.run, exe_prefix);
    }
    match cli.command {
        Some(Command::Replay { seed, scenario, trace_lines, overrides, shrink }) => {
            replay(seed, scenario, trace_lines, &overrides, shrink)
        }
        Some(Command::Determinism { seeds, start, scenario }) => match seed_range(start, seeds) {
            Ok(_) => determinism_command(start, seeds, scenario, exe_prefix),
            Err(code) => code,
        },
        Some(Command::RealChild { dir }) => match real::child(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("torture real-child: {e}");
                ExitCode::from(1)
            }
        },
        Some(Command::Canaries { seeds, start, profile }) => match seed_range(start, seeds) {
            Ok(_) => canaries(seeds, start, &profile),
            Err(code) => code,
        },
        Some(Command::Merge { shards, report }) => merge_command(&shards, &report),
        Some(Command::List) => list(),
        None => run(cli.run, exe_prefix),
    }
}

fn run(mut args: RunArgs, exe_prefix: &[String]) -> ExitCode {
    if args.no_report {
        args.report = None;
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        |j| j as usize,
    );
    let (start, mut seed_source) = if args.seed_from_git {
        let p = Provenance::detect(String::new());
        // The commit's first 15 hex digits: a start below 2^60, so any accepted --seeds fits.
        let start = u64::from_str_radix(p.commit.get(..15).unwrap_or("0"), 16).unwrap_or(0);
        (start, format!("git commit {} (start {start:#x})", p.commit))
    } else {
        (args.start, format!("fixed start {}", args.start))
    };
    let mut range = match seed_range(start, args.seeds) {
        Ok(range) => range,
        Err(code) => return code,
    };
    if let Some(shard) = args.shard {
        range = match range.shard(shard) {
            Ok(block) => block,
            Err(e) => {
                eprintln!("torture: {e}");
                return ExitCode::from(2);
            }
        };
        seed_source = format!(
            "{seed_source}, shard {}/{} of {} seeds: {}..={}",
            shard.index,
            shard.of,
            args.seeds,
            range.start(),
            range.start() + (range.count() - 1)
        );
    }
    let (start, seeds) = (range.start(), range.count());
    let config = BatchConfig {
        start,
        seeds,
        scenario: args.scenario,
        jobs,
        progress: !args.no_progress && !args.quiet,
        keep_hashes: args.hashes_out.is_some(),
    };
    if !args.quiet {
        eprintln!(
            "torture: {} seeds of {} from {start} on {jobs} threads ({seed_source})",
            seeds, args.scenario
        );
    }
    let mut batch = run_batch(&config);
    // Beside the batch's speed, the writer's floor on the same CPU, under the same load (a
    // quarter CPU-second; not for the hidden child runs of the determinism check).
    if args.hashes_out.is_none() {
        batch.floor_runs_per_cpu_second = crate::floor::measure(0.25);
    }
    if let Some(path) = &args.hashes_out {
        if let Err(e) = determinism::write_hashes(path, &batch.hashes) {
            eprintln!("torture: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.failures_out {
        let lines: String =
            batch.failures.iter().map(|f| format!("{} {}\n", f.seed, f.outcome)).collect();
        if let Err(e) = write_text(path, &lines) {
            eprintln!("torture: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    detail_failures(&mut batch, args.cards, 20_000);
    let gaps = if args.no_coverage_gate { Vec::new() } else { batch.tally.gaps() };
    let determinism = match (&args.report, args.no_determinism) {
        (Some(_), false) => {
            let sample = (seeds / 100).clamp(100.min(seeds), 1_000);
            match determinism::check_in_children(start, sample, args.scenario, exe_prefix) {
                Ok(d) => Some(d),
                Err(e) => {
                    eprintln!("torture: determinism check did not run: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let nondeterministic = determinism.as_ref().is_some_and(|d| !d.mismatches.is_empty());
    count_batch_checks(&mut batch, determinism.as_ref(), gaps.len(), args.no_coverage_gate);
    if !args.quiet {
        print!("{}", report::summary(&batch, &gaps, 1_000));
        if let Some(d) = &determinism {
            println!("determinism (I15): {}: {} of {} seeds match", d.method, d.matched, d.seeds);
            for (seed, a, b) in &d.mismatches {
                println!("  NONDETERMINISM seed {seed}: {a} vs {b}");
            }
        }
    }
    if let Some(dir) = &args.report {
        let provenance =
            Provenance { seed_source: seed_source.clone(), ..Provenance::detect(seed_source) };
        let previous = mtlog_audit_reports::read_previous(dir);
        let (report, files) = report::build(
            &batch,
            &provenance,
            determinism,
            previous.as_ref(),
            &gaps,
            args.cards,
            !args.no_coverage_gate,
        );
        if let Err(e) = mtlog_audit_reports::write_report(dir, &report, &files) {
            eprintln!("torture: writing the report to {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        if !args.quiet {
            println!("report: {}", dir.join("report.html").display());
        }
    }
    let failed = batch.failed_runs() > 0 || !gaps.is_empty() || nondeterministic;
    println!(
        "verdict: {} ({} runs, {} failing, {:.0} runs/s per core)",
        if failed { "FAIL" } else { "PASS" },
        batch.runs,
        batch.failed_runs(),
        batch.runs_per_second_per_core()
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// I15 and I16 are checked over the batch, not per run: count them into the invariants table.
fn count_batch_checks(
    batch: &mut crate::batch::BatchResult,
    determinism: Option<&mtlog_audit_reports::Determinism>,
    gaps: usize,
    no_gate: bool,
) {
    use crate::coverage::COVERAGE_RUNS_MIN;
    use crate::outcome::Invariant;
    let i15 = Invariant::I15.index();
    // Each failing seed was rerun for its card and its hash compared.
    let reruns = batch.failures.iter().filter(|f| f.detail.is_some()).count() as u64;
    let nondeterministic = batch
        .failures
        .iter()
        .filter(|f| f.violations.iter().any(|v| v.invariant == Invariant::I15))
        .count() as u64;
    batch.checks[i15] += reruns + determinism.map_or(0, |d| d.seeds);
    batch.violations[i15] +=
        nondeterministic + determinism.map_or(0, |d| d.mismatches.len() as u64);
    if !no_gate {
        let i16 = Invariant::I16.index();
        let t = &batch.tally;
        let judged = t.fault_runs.iter().chain(&t.branch_runs).filter(|r| **r >= COVERAGE_RUNS_MIN);
        batch.checks[i16] += judged.count() as u64;
        batch.violations[i16] += gaps as u64;
    }
}

#[allow(clippy::disallowed_methods)] // The operator's file, outside any simulation.
fn write_text(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn replay(
    seed: u64,
    scenario: Scenario,
    trace_lines: usize,
    overrides: &Overrides,
    shrink: bool,
) -> ExitCode {
    crate::panics::install_quiet_hook();
    let knobs = Knobs::draw_with(seed, scenario, overrides);
    if overrides.is_empty() {
        println!("replay: {}", replay_command(seed, scenario));
    } else {
        println!("replay: {}", replay_command_with(seed, scenario, &overrides.to_string()));
    }
    println!("knobs: {knobs}");
    let result = run_with(seed, scenario, overrides, &RunOptions { detail: true, trace_lines });
    if let Some(d) = &result.detail {
        if d.trace_dropped > 0 {
            println!("... {} earlier trace lines dropped", d.trace_dropped);
        }
        for line in &d.trace {
            println!("{line}");
        }
        println!("\ntimeline:");
        for t in &d.timeline {
            println!("  {:>14} ns {:<9} {}", t.at_nanos, t.lane, t.label);
        }
        if !d.divergence.is_empty() {
            println!("\nmodel against recovered:");
            for (seq, model, recovered) in &d.divergence {
                println!("  seq {seq:>6}  model: {model}  |  recovered: {recovered}");
            }
        }
    }
    println!(
        "\nseed {seed} {scenario}: {} (trace hash {:016x}, {} events, {} submitted, {} acked, \
         {} crashes, {} recoveries)",
        result.outcome,
        result.trace_hash,
        result.trace_events,
        result.counters.submitted,
        result.counters.acked,
        result.counters.crashes,
        result.counters.recoveries
    );
    for v in &result.violations {
        println!("  {} {}: {}", v.invariant.id(), v.class, v.detail);
    }
    if shrink && result.failed() {
        if let Some(s) = crate::shrink::shrink_run(&result) {
            println!("\nshrunk in {} reruns: {}", s.attempts, s.steps.join("; "));
            let text = s.overrides.to_string();
            println!("  {}", replay_command_with(seed, scenario, &text));
        }
    }
    if result.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn determinism_command(
    start: u64,
    seeds: u64,
    scenario: Scenario,
    exe_prefix: &[String],
) -> ExitCode {
    match determinism::check_in_children(start, seeds, scenario, exe_prefix) {
        Ok(d) => {
            println!("determinism (I15): {}: {} of {} seeds match", d.method, d.matched, d.seeds);
            for (seed, a, b) in &d.mismatches {
                println!("  NONDETERMINISM seed {seed}: {a} vs {b}");
                println!("    {}", replay_command(*seed, scenario));
            }
            if d.mismatches.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("torture determinism: {e}");
            ExitCode::from(2)
        }
    }
}

fn canaries(seeds: u64, start: u64, profile: &str) -> ExitCode {
    let results = canary::run_all(seeds, start, profile);
    let mut all = true;
    println!("\n{:<28} caught", "canary");
    for r in &results {
        println!(
            "{:<28} {} {:?}",
            r.feature,
            if r.caught { "yes, new failing seeds" } else { "NO" },
            r.new_failures
        );
        if !r.caught {
            all = false;
            println!("{}", r.tail);
        }
    }
    if all {
        println!("every canary was caught");
        ExitCode::SUCCESS
    } else {
        println!("a planted bug went unnoticed: the harness is blind to it");
        ExitCode::from(1)
    }
}

fn merge_command(shards: &[PathBuf], out: &std::path::Path) -> ExitCode {
    let mut loaded = Vec::new();
    for dir in shards {
        match merge::read_shard(dir) {
            Ok(shard) => loaded.push(shard),
            Err(e) => {
                eprintln!("torture merge: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let (report, files) = match merge::merge(loaded) {
        Ok(merged) => merged,
        Err(e) => {
            eprintln!("torture merge: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = mtlog_audit_reports::write_report(out, &report, &files) {
        eprintln!("torture merge: writing the report to {}: {e}", out.display());
        return ExitCode::from(2);
    }
    println!("report: {}", out.join("report.html").display());
    let failing: u64 = report.outcomes.iter().filter(|o| o.failure).map(|o| o.count).sum();
    println!(
        "verdict: {} ({} runs in {} shards, {failing} failing)",
        report.verdict,
        report.runs,
        shards.len()
    );
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn list() -> ExitCode {
    println!("scenarios:");
    for s in SCENARIOS {
        println!("  {s}");
    }
    for (name, note) in UNAVAILABLE {
        println!("  {name}: {note}");
    }
    println!("fault kinds (coverage):");
    for f in FAULTS {
        let (id, label) = f.label();
        println!("  {id:<4} {label}");
    }
    println!("recovery branches (coverage):");
    for b in BRANCHES {
        println!("  {}", b.label());
    }
    println!("outcome classes:");
    for o in OUTCOMES {
        println!("  {}{}", o.name(), if o.is_failure() { " (failure)" } else { "" });
    }
    ExitCode::SUCCESS
}

fn real_command(args: &RunArgs, exe_prefix: &[String]) -> ExitCode {
    let config = real::RealConfig {
        iterations: args.iterations,
        seed: args.real_seed,
        dir: args.real_dir.clone(),
        exe_prefix: exe_prefix.to_vec(),
    };
    if !args.quiet {
        eprintln!(
            "torture --real: {} SIGKILLed writer processes ({} threads each), kill delays from \
             seed {:#x}",
            config.iterations,
            real::CHILD_THREADS,
            config.seed
        );
    }
    let bar = if args.no_progress || args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(config.iterations)
    };
    #[allow(clippy::disallowed_methods)] // Wall time of real processes, for the operator.
    let started = std::time::Instant::now();
    let result = real::run(&config, |_, s| {
        bar.inc(1);
        bar.set_message(format!("{} acked, head {}", s.acked, s.head));
    });
    bar.finish_and_clear();
    let replay = format!(
        "cargo run --release -p torture -- --real --iterations {} --real-seed {:#x}",
        config.iterations, config.seed
    );
    match result {
        Ok(s) => {
            if !args.quiet {
                println!(
                    "{} kills, {} productive, {} events acknowledged and {} handed to emit, \
                     head {}, {} recoveries cut a tail, {:.1} s",
                    s.iterations,
                    s.productive,
                    s.acked,
                    s.tried,
                    s.head,
                    s.cuts,
                    started.elapsed().as_secs_f64()
                );
            }
            println!("verdict: PASS (real: {} kills, I1-I4 held after each)", s.iterations);
            ExitCode::SUCCESS
        }
        // A directory refused before anything ran is a usage error, not a verdict.
        Err(e @ real::RealError::DirInUse { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            println!("verdict: FAIL (real): {e}");
            println!("rerun: {replay}");
            ExitCode::from(1)
        }
    }
}
