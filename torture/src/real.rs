//! `torture --real`: real processes, real files, real SIGKILL.
//!
//! The simulator proves the WAL against a model of a disk; this proves it against the real one
//! (the kernel's page cache, `fdatasync`, `rename`, the process dying between any two
//! instructions). Each iteration spawns a writer process (this executable, re-run with the
//! hidden `real-child` subcommand) on a real temporary directory. The child's threads emit
//! events through a real [`Sink`] and report every attempt (`try ID T I`) before `emit` and
//! every acknowledgement (`ack SEQ ID`) after it, over a pipe. The parent SIGKILLs the child at
//! a seeded moment, reopens the log (recovery), and checks against everything any child ever
//! reported:
//!
//! - I1: every acknowledged seq is present with the acknowledged event, byte-identical in
//!   content (the content follows from the thread and index the child reported);
//! - I2: nothing appears that no child handed to `emit`, and no seq twice;
//! - I3: seqs are contiguous from 1, in order, up to the recovery report's head;
//! - I4: the reader's integrity check passes (chain and Merkle tree intact).
//!
//! A kill only loses the process, not the page cache: power loss belongs to the simulator.
//! The kill delays come from a seed (`--real-seed`), so a failing schedule can be rerun; the
//! timing of a real process is not reproducible bit for bit, which is why the simulator exists.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Real processes and time.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mtlog_audit::{EventId, Level, Options, Reader, Sink, Value};

/// Threads emitting in each child.
pub const CHILD_THREADS: u64 = 4;
/// The segment size of the real runs: small, so kills land in rotation and preparation too.
pub const SEGMENT_BYTES: u64 = 64 << 10;
/// The template every child event uses; its properties `T` and `I` make content checkable.
const TEMPLATE: &str = "t{T} i{I}";

/// What `torture --real` was asked to do.
#[derive(Clone, Debug)]
pub struct RealConfig {
    /// How many children to kill.
    pub iterations: u64,
    /// Seeds the kill delays.
    pub seed: u64,
    /// The log directory (a fresh temporary one if `None`). It must not exist yet or be empty:
    /// the checks hold only for a log that these runs' children alone wrote.
    pub dir: Option<PathBuf>,
    /// Arguments placing this executable's `real-child` subcommand: empty for `torture`,
    /// `["torture"]` for `mtlog-audit torture`.
    pub exe_prefix: Vec<String>,
}

/// What the runs established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RealSummary {
    /// Children killed.
    pub iterations: u64,
    /// Children that acknowledged at least one event before the kill.
    pub productive: u64,
    /// Events acknowledged over all children (every one checked after every later kill).
    pub acked: u64,
    /// Events handed to `emit` over all children.
    pub tried: u64,
    /// The log's head after the last recovery.
    pub head: u64,
    /// Recoveries that cut a torn or unacknowledged tail.
    pub cuts: u64,
}

/// Why a real run failed. Every variant says which iteration and what was found.
#[derive(Debug)]
pub enum RealError {
    /// The machine would not let us run the experiment (spawn, pipe, temp dir).
    Setup(String),
    /// The directory given for the log already holds something (a user's log, say): the run
    /// would recover and append to it, then report its events as phantoms. Nothing was done.
    DirInUse { dir: PathBuf, found: String },
    /// Recovery or reading failed on a log that only ever lost its process.
    Recovery { iteration: u64, what: String },
    /// An invariant did not hold.
    Violation { iteration: u64, invariant: &'static str, what: String },
    /// Fewer than half the children acknowledged anything: the kills came too early to test
    /// anything (the machine is too slow or too loaded for the delays).
    Unproductive { productive: u64, iterations: u64 },
}

impl fmt::Display for RealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealError::Setup(what) => write!(f, "setup: {what}"),
            RealError::DirInUse { dir, found } => write!(
                f,
                "--real-dir {}: {found}; give a new or empty directory (the run writes a log \
                 there and checks it holds only what its writers wrote)",
                dir.display()
            ),
            RealError::Recovery { iteration, what } => {
                write!(f, "iteration {iteration}: recovery failed: {what}")
            }
            RealError::Violation { iteration, invariant, what } => {
                write!(f, "iteration {iteration}: {invariant} violated: {what}")
            }
            RealError::Unproductive { productive, iterations } => write!(
                f,
                "only {productive} of {iterations} children acknowledged anything before the kill"
            ),
        }
    }
}

impl std::error::Error for RealError {}

/// Everything the children reported, over all iterations.
#[derive(Default)]
struct Ledger {
    /// seq -> the event acknowledged with it.
    acked: BTreeMap<u64, EventId>,
    /// event id -> (thread, index): every event handed to `emit`.
    tried: BTreeMap<EventId, (u64, u64)>,
}

/// Runs the iterations; `progress` is called after each with (iteration, summary so far).
///
/// # Errors
/// The first violation or failure, with its iteration (see [`RealError`]).
pub fn run(
    config: &RealConfig,
    mut progress: impl FnMut(u64, &RealSummary),
) -> Result<RealSummary, RealError> {
    let tmp;
    let dir = match &config.dir {
        Some(d) => {
            dir_unused(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| RealError::Setup(format!("temp dir: {e}")))?;
            tmp.path().join("log")
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| RealError::Setup(format!("current executable: {e}")))?;
    // The simulator's seeded generator: a reproducible schedule of kill delays.
    let mut rng = mtlog_audit_sim::Rng::new(config.seed);
    // A child must live long enough to start (exec, open, recover) before the kill can land
    // in its writes; on a loaded machine that takes longer, so the base delay adapts.
    let mut base_us = 2_000u64;
    let mut ledger = Ledger::default();
    let mut summary = RealSummary::default();
    for iteration in 0..config.iterations {
        let delay = Duration::from_micros(base_us + rng.below(40_000));
        let (acks, tried) = run_child_and_kill(&exe, &config.exe_prefix, &dir, delay)?;
        if acks.is_empty() {
            base_us = (base_us * 2).min(2_000_000);
        } else {
            summary.productive += 1;
        }
        summary.acked += acks.len() as u64;
        summary.tried += tried.len() as u64;
        for (seq, id) in acks {
            if let Some(old) = ledger.acked.insert(seq, id) {
                return Err(RealError::Violation {
                    iteration,
                    invariant: "I2",
                    what: format!("seq {seq} acknowledged twice ({old} and {id})"),
                });
            }
        }
        ledger.tried.extend(tried);
        let (head, cut) = check(&dir, &ledger, iteration)?;
        summary.head = head;
        summary.cuts += u64::from(cut);
        summary.iterations = iteration + 1;
        progress(iteration, &summary);
    }
    if summary.productive * 2 < summary.iterations {
        return Err(RealError::Unproductive {
            productive: summary.productive,
            iterations: summary.iterations,
        });
    }
    Ok(summary)
}

/// Refuses a log directory that exists and is not empty, or is not a directory. One that does
/// not exist (or cannot be examined) is left to the children, which report their own error.
fn dir_unused(dir: &Path) -> Result<(), RealError> {
    let in_use = |found: &str| RealError::DirInUse { dir: dir.to_owned(), found: found.into() };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if !m.is_dir() => Err(in_use("exists and is not a directory")),
        Ok(_) => match std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
            Ok(false) => Ok(()),
            Ok(true) => Err(in_use("is not empty")),
            Err(e) => Err(RealError::Setup(format!("{}: {e}", dir.display()))),
        },
        Err(_) => Ok(()),
    }
}

fn violation(iteration: u64, invariant: &'static str, what: String) -> RealError {
    RealError::Violation { iteration, invariant, what }
}

/// Reopens the log (recovering it) and checks it against the ledger. Returns the head and
/// whether recovery cut anything.
fn check(dir: &Path, ledger: &Ledger, iteration: u64) -> Result<(u64, bool), RealError> {
    let recovery = |e: &dyn fmt::Display| RealError::Recovery { iteration, what: e.to_string() };
    let sink = Sink::open(options(dir)).map_err(|e| recovery(&e))?;
    let report = sink.recovery_report().clone();
    sink.close().map_err(|e| recovery(&e))?;
    let reader = Reader::open(dir).map_err(|e| recovery(&e))?;
    let integrity = reader.verify_integrity();
    if !integrity.is_valid() {
        return Err(violation(iteration, "I4", format!("{integrity:?}")));
    }
    let mut seq_expected = 1;
    let mut found = BTreeMap::new();
    for stored in reader.replay(1..=u64::MAX).map_err(|e| recovery(&e))? {
        let stored = stored.map_err(|e| recovery(&e))?;
        if stored.seq != seq_expected {
            return Err(violation(
                iteration,
                "I3",
                format!("seq {} where {seq_expected} was expected", stored.seq),
            ));
        }
        seq_expected += 1;
        let Some(&(t, i)) = ledger.tried.get(&stored.event.id) else {
            return Err(violation(
                iteration,
                "I2",
                format!("seq {}: phantom event {}", stored.seq, stored.event.id),
            ));
        };
        let e = &stored.event;
        let intact = e.template == TEMPLATE
            && e.message == format!("t{t} i{i}")
            && e.property("T") == Some(&Value::U64(t))
            && e.property("I") == Some(&Value::U64(i));
        if !intact {
            return Err(violation(
                iteration,
                "I1",
                format!("seq {}: content differs from what thread {t} emitted as #{i}", stored.seq),
            ));
        }
        found.insert(stored.seq, stored.event.id);
    }
    if seq_expected != report.seq_next {
        return Err(violation(
            iteration,
            "I3",
            format!("read back to seq {} but recovery reported head {}", seq_expected - 1, {
                report.seq_next - 1
            }),
        ));
    }
    for (seq, id) in &ledger.acked {
        if found.get(seq) != Some(id) {
            return Err(violation(
                iteration,
                "I1",
                format!("acknowledged seq {seq} ({id}) lost: found {:?}", found.get(seq)),
            ));
        }
    }
    Ok((report.seq_next - 1, !report.cuts.is_empty()))
}

/// What one child reported: acknowledgements (seq, id) and attempts (id, (thread, index)).
type Reported = (Vec<(u64, EventId)>, Vec<(EventId, (u64, u64))>);

/// Starts a writer child, lets it run for `delay`, SIGKILLs it, and returns what it reported.
fn run_child_and_kill(
    exe: &Path,
    prefix: &[String],
    dir: &Path,
    delay: Duration,
) -> Result<Reported, RealError> {
    let mut child = Command::new(exe)
        .args(prefix)
        .arg("real-child")
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RealError::Setup(format!("spawning {}: {e}", exe.display())))?;
    let stdout =
        child.stdout.take().ok_or_else(|| RealError::Setup("the child has no stdout".into()))?;
    let reader = std::thread::spawn(move || parse_reports(BufReader::new(stdout)));
    let started = Instant::now();
    while started.elapsed() < delay {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(RealError::Setup(format!("the child exited before the kill: {status}")));
        }
        std::thread::sleep(Duration::from_micros(200).min(delay));
    }
    child.kill().map_err(|e| RealError::Setup(format!("kill: {e}")))?; // SIGKILL on Unix
    child.wait().map_err(|e| RealError::Setup(format!("wait: {e}")))?;
    reader.join().map_err(|_| RealError::Setup("the pipe reader panicked".into()))
}

/// Parses the child's lines; a line cut by the kill is ignored.
fn parse_reports(input: impl BufRead) -> Reported {
    let mut acks = Vec::new();
    let mut tried = Vec::new();
    for line in input.lines() {
        let Ok(line) = line else { break };
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[..] {
            ["try", id, t, i] => {
                if let (Ok(id), Ok(t), Ok(i)) = (id.parse(), t.parse(), i.parse()) {
                    tried.push((id, (t, i)));
                }
            }
            ["ack", seq, id] => {
                if let (Ok(seq), Ok(id)) = (seq.parse(), id.parse()) {
                    acks.push((seq, id));
                }
            }
            _ => {}
        }
    }
    (acks, tried)
}

fn options(dir: &Path) -> Options {
    Options::new(dir).segment_bytes(SEGMENT_BYTES)
}

/// The child: [`CHILD_THREADS`] threads emitting until killed, printing `try ID T I` before
/// each emit and `ack SEQ ID` after each acknowledgement, whole lines under the stdout lock.
///
/// # Errors
/// The sink failed to open or an emit failed (the parent then sees the child exit early).
pub fn child(dir: &Path) -> Result<(), mtlog_audit::Error> {
    let sink = Sink::open(options(dir))?;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..CHILD_THREADS)
            .map(|t| {
                let sink = &sink;
                s.spawn(move || -> Result<(), mtlog_audit::Error> {
                    for i in 0..u64::MAX {
                        let ev = sink
                            .event(Level::Information, TEMPLATE)
                            .with("T", t)
                            .with("I", i)
                            .build();
                        println_locked(&format!("try {} {t} {i}", ev.id));
                        let r = sink.emit(&ev)?;
                        println_locked(&format!("ack {} {}", r.seq, ev.id));
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or(Ok(())))
    })
}

fn println_locked(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_cut_by_the_kill_are_ignored_and_whole_ones_kept() {
        let id = EventId([7; 16]);
        let text = format!("try {id} 1 2\nack 5 {id}\nack 6\ntry {id} 1\nack x y\nack 9 {id}");
        let (acks, tried) = parse_reports(text.as_bytes());
        assert_eq!(acks, vec![(5, id), (9, id)]);
        assert_eq!(tried, vec![(id, (1, 2))]);
    }
}
