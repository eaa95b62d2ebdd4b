//! What one run produced: its outcome class, the invariants checked and broken, coverage bits,
//! counters, and (for replays and failure cards) the full detail.

use std::fmt;

use crate::knobs::Scenario;

/// The outcome class of a run (FAULT-MODEL.md §4b, last paragraph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// No damage anywhere; every recovery was clean.
    Clean,
    /// A torn or unproven tail was quarantined and cut, past the durable point.
    TailTruncated,
    /// Damage in the durable region was refused and reported where it is.
    CorruptionDetected,
    /// An acknowledged (or recovered) record is missing and nothing reported it.
    SilentLoss,
    /// A record came back with bytes other than those written.
    SilentCorruption,
    /// A record came back that was never written (or twice).
    Phantom,
    /// Records came back out of order or with a gap, or the writer skipped a seq.
    Order,
    /// The hash chain does not verify, or disagrees with the receipts or the model.
    Chain,
    /// Corruption was reported where no fault was injected (or at the wrong place).
    FalseAlarm,
    /// An acknowledgement after an injected I/O error, before a reopen.
    NoFailstop,
    /// The same seed gave a different trace.
    Nondeterminism,
    /// The run panicked (an assertion in the library, the simulator or the harness).
    Panic,
    /// The documented timestamp rule (`clock_adjusted`) does not hold.
    Timestamp,
    /// A resource bound (queue, batch, open handles) was exceeded, or a handle leaked.
    Resource,
    /// Two recoveries of the same state disagree (head, seq or report).
    Idempotence,
    /// With faults healed, the log did not recover or appends did not resume.
    Liveness,
    /// A signed checkpoint does not verify against the recovered log, covers a seq that is not
    /// durable, or the checkpoints moved backwards.
    Checkpoint,
}

/// Every outcome class, in report order.
pub const OUTCOMES: [Outcome; 17] = [
    Outcome::Clean,
    Outcome::TailTruncated,
    Outcome::CorruptionDetected,
    Outcome::SilentLoss,
    Outcome::SilentCorruption,
    Outcome::Phantom,
    Outcome::Order,
    Outcome::Chain,
    Outcome::FalseAlarm,
    Outcome::NoFailstop,
    Outcome::Nondeterminism,
    Outcome::Panic,
    Outcome::Timestamp,
    Outcome::Resource,
    Outcome::Idempotence,
    Outcome::Liveness,
    Outcome::Checkpoint,
];

impl Outcome {
    /// The name used in summaries and reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::TailTruncated => "tail-truncated(ok)",
            Outcome::CorruptionDetected => "corruption-detected(ok)",
            Outcome::SilentLoss => "SILENT-LOSS",
            Outcome::SilentCorruption => "SILENT-CORRUPTION",
            Outcome::Phantom => "PHANTOM",
            Outcome::Order => "ORDER",
            Outcome::Chain => "CHAIN",
            Outcome::FalseAlarm => "FALSE-ALARM",
            Outcome::NoFailstop => "NO-FAILSTOP",
            Outcome::Nondeterminism => "NONDETERMINISM",
            Outcome::Panic => "PANIC",
            Outcome::Timestamp => "TIMESTAMP",
            Outcome::Resource => "RESOURCE",
            Outcome::Idempotence => "IDEMPOTENCE",
            Outcome::Liveness => "LIVENESS",
            Outcome::Checkpoint => "CHECKPOINT",
        }
    }

    /// Whether this class is a failure.
    pub fn is_failure(self) -> bool {
        !matches!(self, Outcome::Clean | Outcome::TailTruncated | Outcome::CorruptionDetected)
    }

    /// Its index in [`OUTCOMES`].
    pub fn index(self) -> usize {
        OUTCOMES.iter().position(|o| *o == self).unwrap_or(0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The invariants of FAULT-MODEL.md §4b this tier checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// Acknowledged records survive byte-identical, with the receipt's chain hash.
    I1,
    /// No phantoms, no duplicates.
    I2,
    /// A contiguous prefix, in order.
    I3,
    /// The hash chain verifies from genesis and matches the model.
    I4,
    /// Corruption reported where it is, never silently cut; no false alarms.
    I5,
    /// Tails are cut only past the durable point, and the cut is logged.
    I6,
    /// Fail-stop after an I/O error.
    I9,
    /// Recovery is idempotent, also when interrupted by crashes.
    I10,
    /// Acknowledged seqs never regress across restarts.
    I11,
    /// With faults healed, recovery succeeds and appends resume.
    I12,
    /// Queue, batch and open-handle bounds; no leaked handles.
    I13,
    /// The timestamp policy (`clock_adjusted`).
    I14,
    /// Determinism: the same seed gives the same trace hash.
    I15,
    /// Coverage: every fault kind and recovery branch fires in the batch.
    I16,
    /// Signed checkpoints (runs with signing on): every one on disk verifies against the
    /// recovered log, covers only durable seqs, and they never move backwards.
    I17,
}

/// Every checked invariant, in order.
pub const INVARIANTS: [Invariant; 15] = [
    Invariant::I1,
    Invariant::I2,
    Invariant::I3,
    Invariant::I4,
    Invariant::I5,
    Invariant::I6,
    Invariant::I9,
    Invariant::I10,
    Invariant::I11,
    Invariant::I12,
    Invariant::I13,
    Invariant::I14,
    Invariant::I15,
    Invariant::I16,
    Invariant::I17,
];

impl Invariant {
    /// Its index in [`INVARIANTS`].
    pub fn index(self) -> usize {
        INVARIANTS.iter().position(|i| *i == self).unwrap_or(0)
    }

    /// `"I1"` etc.
    pub fn id(self) -> &'static str {
        match self {
            Invariant::I1 => "I1",
            Invariant::I2 => "I2",
            Invariant::I3 => "I3",
            Invariant::I4 => "I4",
            Invariant::I5 => "I5",
            Invariant::I6 => "I6",
            Invariant::I9 => "I9",
            Invariant::I10 => "I10",
            Invariant::I11 => "I11",
            Invariant::I12 => "I12",
            Invariant::I13 => "I13",
            Invariant::I14 => "I14",
            Invariant::I15 => "I15",
            Invariant::I16 => "I16",
            Invariant::I17 => "I17",
        }
    }

    /// One line saying what it checks.
    pub fn title(self) -> &'static str {
        match self {
            Invariant::I1 => "acked durability: byte-identical, chain hash equals receipt",
            Invariant::I2 => "no phantoms, no duplicates",
            Invariant::I3 => "contiguous prefix, in order",
            Invariant::I4 => "hash chain intact from genesis; head equals the model's",
            Invariant::I5 => "corruption reported at its location, never cut; no false alarm",
            Invariant::I6 => "torn tail cut only past the durable point, and logged",
            Invariant::I9 => "fail-stop after an injected I/O error",
            Invariant::I10 => "recovery idempotent (twice, and after k crashes inside it)",
            Invariant::I11 => "acks monotone across restarts",
            Invariant::I12 => "liveness: faults healed, recovery and appends succeed",
            Invariant::I13 => "resource bounds: queue, batch, open handles, no leaks",
            Invariant::I14 => "timestamps raw; clock_adjusted exactly when below the previous",
            Invariant::I15 => "determinism: same seed, same trace hash",
            Invariant::I16 => "coverage: each fault kind and recovery branch fires",
            Invariant::I17 => "checkpoints verify, cover only durable seqs, never move back",
        }
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The failure class it puts the run in.
    pub class: Outcome,
    /// What was found, with seqs and locations.
    pub detail: String,
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events submitted.
    pub submitted: u64,
    /// Events acknowledged.
    pub acked: u64,
    /// Group commits.
    pub batches: u64,
    /// Crashes (either kind, including inside recovery).
    pub crashes: u64,
    /// Recoveries that completed.
    pub recoveries: u64,
    /// Segment rotations.
    pub rotations: u64,
    /// Simulated nanoseconds from start to end.
    pub sim_nanos: u64,
    /// Disk operations.
    pub disk_ops: u64,
    /// Records in the log at the end.
    pub head: u64,
}

/// A point on a failure card's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEvent {
    /// Simulated monotonic nanoseconds since the run started.
    pub at_nanos: u64,
    /// The lane: `app`, `disk`, `fault`, `recovery`, `clock`.
    pub lane: &'static str,
    /// What happened.
    pub label: String,
}

/// Everything a failure card shows; kept only for replays and failing seeds.
#[derive(Clone, Debug, Default)]
pub struct RunDetail {
    /// The knobs banner.
    pub knobs: String,
    /// The text trace (last lines), and how many older lines were dropped.
    pub trace: Vec<String>,
    /// Lines dropped from the front of `trace`.
    pub trace_dropped: u64,
    /// Harness events on a simulated timeline.
    pub timeline: Vec<TimelineEvent>,
    /// Model against recovered log, around the first divergence: (seq, model, recovered).
    pub divergence: Vec<(u64, String, String)>,
    /// The shrunk run ([`crate::shrink`]), when the failure was shrunk.
    pub shrunk: Option<ShrunkDetail>,
}

/// A failure shrunk to the smallest knobs that still break the same invariant.
#[derive(Clone, Debug, Default)]
pub struct ShrunkDetail {
    /// The overrides, as `torture replay --set` takes them.
    pub overrides: String,
    /// The replay command of the shrunk run.
    pub replay: String,
    /// Reruns tried.
    pub attempts: u32,
    /// Each kept step.
    pub steps: Vec<String>,
    /// The shrunk run's trace (last lines) and its length.
    pub trace: Vec<String>,
    /// Events in the shrunk run's trace (the original's is `trace_events` of the result).
    pub trace_events: u64,
    /// Its first violation.
    pub violation: String,
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Scenario,
    /// The outcome class (the first violation's class for failures).
    pub outcome: Outcome,
    /// Every invariant broken (the run stops at the first, so usually one).
    pub violations: Vec<Violation>,
    /// The simulator's trace hash at the end.
    pub trace_hash: u64,
    /// Events in the trace.
    pub trace_events: u64,
    /// Counters.
    pub counters: Counters,
    /// Fault kinds that fired (bit per [`crate::coverage::Fault`]).
    pub faults: u64,
    /// Recovery branches reached (bit per [`crate::coverage::Branch`]).
    pub branches: u64,
    /// Checks performed, per invariant (index as in [`INVARIANTS`]).
    pub checks: [u32; INVARIANTS.len()],
    /// Records whose loss was excused as outside the single-copy model (acked, unproven and
    /// hit by an at-rest or misdirected fault).
    pub excused: u32,
    /// Full detail (replay and failure cards only).
    pub detail: Option<RunDetail>,
}

impl RunResult {
    /// Whether the run failed.
    pub fn failed(&self) -> bool {
        self.outcome.is_failure()
    }

    /// The first violated invariant, if any.
    pub fn first_violation(&self) -> Option<&Violation> {
        self.violations.first()
    }
}
