//! Coverage (I16, the Antithesis "sometimes" idea): which fault kinds fired and which recovery
//! branches ran, per run as bit sets, and across a batch as counts with a gate.
//!
//! Each item names the [`Features`] that should make it fire. Over a batch, an item's rate is
//! the share of runs *with those features on* in which it fired; below
//! [`COVERAGE_RATE_MIN`] the batch fails (when the batch is big enough to judge, see
//! [`COVERAGE_RUNS_MIN`]).

use mtlog_audit_sim::FaultKind;

use crate::knobs::Features;

/// The smallest share of eligible runs an item must fire in.
pub const COVERAGE_RATE_MIN: f64 = 0.005;
/// Below this many eligible runs an item is reported but not gated.
pub const COVERAGE_RUNS_MIN: u64 = 1_000;

/// A fault kind, as counted for coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// D1 unsynced writes lost at power loss.
    PowerLossUnsynced,
    /// D2 torn write.
    TornWrite,
    /// D3 reordered persistence.
    Reordered,
    /// D3 size persisted without data.
    SizeWithoutData,
    /// D4 directory operations reverted.
    DirOpsReverted,
    /// D5 fdatasync EIO.
    SyncError,
    /// D5 directory fsync EIO.
    SyncDirError,
    /// D5 write EIO.
    WriteError,
    /// D6 bit flip at rest.
    BitFlip,
    /// D7 latent sector error.
    LatentSectorError,
    /// D8 misdirected write.
    MisdirectedWrite,
    /// D10 ENOSPC.
    StorageFull,
    /// D11 short read.
    ShortRead,
    /// D11 short write.
    ShortWrite,
    /// D12 slow I/O.
    SlowIo,
    /// D13 crash inside recovery.
    CrashInRecovery,
    /// D14 uninitialised sectors read as garbage.
    UninitialisedGarbage,
    /// C1 wall-clock step.
    ClockStep,
    /// C1 wall-clock step backward.
    ClockStepBackward,
    /// C2 drift.
    ClockDrift,
    /// C3 late timer.
    TimerLate,
    /// P1 process crash (kill -9).
    Kill9,
    /// P1 process crash at an armed I/O (mid-operation).
    KillMidIo,
    /// D1 power loss.
    PowerLoss,
}

/// Every fault item, in report order.
pub const FAULTS: [Fault; 24] = [
    Fault::PowerLoss,
    Fault::PowerLossUnsynced,
    Fault::TornWrite,
    Fault::Reordered,
    Fault::SizeWithoutData,
    Fault::DirOpsReverted,
    Fault::SyncError,
    Fault::SyncDirError,
    Fault::WriteError,
    Fault::BitFlip,
    Fault::LatentSectorError,
    Fault::MisdirectedWrite,
    Fault::StorageFull,
    Fault::ShortRead,
    Fault::ShortWrite,
    Fault::SlowIo,
    Fault::CrashInRecovery,
    Fault::UninitialisedGarbage,
    Fault::ClockStep,
    Fault::ClockStepBackward,
    Fault::ClockDrift,
    Fault::TimerLate,
    Fault::Kill9,
    Fault::KillMidIo,
];

/// Fault families of FAULT-MODEL.md §4a that this tier cannot exercise yet, with the reason.
pub const FAULTS_UNAVAILABLE: [(&str, &str); 3] = [
    ("D9 lost write (detect)", "needs shadow directories or external checkpoints"),
    ("repair from a copy", "needs a redundant copy: shadow directory or object store"),
    ("N1-N10 network", "not yet available (arrives with replication)"),
];

impl Fault {
    /// The bit of this item.
    pub fn bit(self) -> u64 {
        1 << FAULTS.iter().position(|f| *f == self).unwrap_or(63)
    }

    /// FAULT-MODEL.md id and a short label.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Fault::PowerLoss => ("D1", "power loss"),
            Fault::PowerLossUnsynced => ("D1", "unsynced writes lost"),
            Fault::TornWrite => ("D2", "torn write"),
            Fault::Reordered => ("D3", "reordered persistence"),
            Fault::SizeWithoutData => ("D3", "size without data"),
            Fault::DirOpsReverted => ("D4", "dir ops reverted"),
            Fault::SyncError => ("D5", "fdatasync EIO"),
            Fault::SyncDirError => ("D5", "dir fsync EIO"),
            Fault::WriteError => ("D5", "write EIO"),
            Fault::BitFlip => ("D6", "bit flip at rest"),
            Fault::LatentSectorError => ("D7", "latent sector error"),
            Fault::MisdirectedWrite => ("D8", "misdirected write"),
            Fault::StorageFull => ("D10", "ENOSPC"),
            Fault::ShortRead => ("D11", "short read"),
            Fault::ShortWrite => ("D11", "short write"),
            Fault::SlowIo => ("D12", "slow I/O"),
            Fault::CrashInRecovery => ("D13", "crash inside recovery"),
            Fault::UninitialisedGarbage => ("D14", "uninitialised garbage"),
            Fault::ClockStep => ("C1", "wall-clock step"),
            Fault::ClockStepBackward => ("C1", "wall-clock step backward"),
            Fault::ClockDrift => ("C2", "wall-clock drift"),
            Fault::TimerLate => ("C3", "late timer"),
            Fault::Kill9 => ("P1", "kill -9"),
            Fault::KillMidIo => ("P1", "kill -9 mid-I/O"),
        }
    }

    /// Whether a run with `f` should make this item fire sometimes.
    pub fn eligible(self, f: &Features) -> bool {
        match self {
            Fault::PowerLoss
            | Fault::PowerLossUnsynced
            | Fault::Reordered
            | Fault::SizeWithoutData
            | Fault::DirOpsReverted => f.power_loss,
            Fault::TornWrite => f.torn,
            Fault::SyncError | Fault::SyncDirError | Fault::WriteError => f.io_errors,
            Fault::BitFlip | Fault::LatentSectorError => f.at_rest || f.concurrent_corruption,
            Fault::MisdirectedWrite => f.misdirected,
            Fault::StorageFull => f.disk_full,
            Fault::ShortRead | Fault::ShortWrite | Fault::SlowIo | Fault::UninitialisedGarbage => {
                f.noise
            }
            Fault::CrashInRecovery => f.crash_in_recovery,
            Fault::ClockStep | Fault::ClockStepBackward | Fault::ClockDrift | Fault::TimerLate => {
                f.clock_jumps
            }
            Fault::Kill9 | Fault::KillMidIo => f.kill9,
        }
    }

    /// The coverage item a simulator fault record counts for.
    pub fn of(kind: &FaultKind) -> Option<Fault> {
        Some(match kind {
            FaultKind::PowerLossUnsynced => Fault::PowerLossUnsynced,
            FaultKind::TornWrite => Fault::TornWrite,
            FaultKind::Reordered => Fault::Reordered,
            FaultKind::SizeWithoutData => Fault::SizeWithoutData,
            FaultKind::DirOpsReverted => Fault::DirOpsReverted,
            FaultKind::SyncError => Fault::SyncError,
            FaultKind::SyncDirError => Fault::SyncDirError,
            FaultKind::WriteError => Fault::WriteError,
            FaultKind::BitFlip => Fault::BitFlip,
            FaultKind::LatentSectorError => Fault::LatentSectorError,
            FaultKind::MisdirectedWrite { .. } => Fault::MisdirectedWrite,
            FaultKind::StorageFull => Fault::StorageFull,
            FaultKind::ShortRead => Fault::ShortRead,
            FaultKind::ShortWrite => Fault::ShortWrite,
            FaultKind::SlowIo => Fault::SlowIo,
            FaultKind::UninitialisedGarbage => Fault::UninitialisedGarbage,
            FaultKind::WallClockStep { .. } => Fault::ClockStep,
            FaultKind::WallClockDrift { .. } => Fault::ClockDrift,
            FaultKind::TimerLate => Fault::TimerLate,
            FaultKind::LostWrite => return None,
            _ => return None,
        })
    }
}

/// A recovery branch or harness path, counted for coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    /// A recovery found data and no anomaly.
    RecoveryClean,
    /// A recovery quarantined and cut a tail.
    TailCut,
    /// A cut moved later segments into quarantine whole.
    SegmentsQuarantined,
    /// A cut of bytes past a failed fsync's durable offset (reopen in the same process).
    UnsyncedCut,
    /// Corruption in the durable region refused and reported.
    CorruptionRefused,
    /// Salvage reading returned records past reported corruption.
    SalvageRead,
    /// An append failed with DiskFull and a later one succeeded in the same process.
    DiskFullResume,
    /// An I/O error poisoned the writer (fail-stop).
    FailStop,
    /// A poisoned log was reopened in the same process (the page cache lies).
    ReopenAfterEio,
    /// A recovery interrupted by crashes was completed and matched the uninterrupted one.
    RecoveryResumed,
    /// Two recoveries of the same state compared equal.
    RecoveryTwice,
    /// A segment rotation.
    Rotation,
    /// A segment prepared in the background was installed.
    PreparedInstalled,
    /// A clean close sealed and shrank the active segment.
    CleanClose,
    /// A commit marker was written when the writer went idle.
    CommitMarker,
    /// An event too large for a record was refused before queueing.
    RecordTooLarge,
    /// A group commit held events of two or more writers.
    GroupCommit,
    /// A writer blocked on the bounded queue (back-pressure).
    Backpressure,
    /// A record carried the clock-adjusted flag.
    ClockAdjusted,
    /// The liveness phase (faults healed) appended and closed.
    Liveness,
}

/// Every branch item, in report order.
pub const BRANCHES: [Branch; 20] = [
    Branch::RecoveryClean,
    Branch::TailCut,
    Branch::SegmentsQuarantined,
    Branch::UnsyncedCut,
    Branch::CorruptionRefused,
    Branch::SalvageRead,
    Branch::DiskFullResume,
    Branch::FailStop,
    Branch::ReopenAfterEio,
    Branch::RecoveryResumed,
    Branch::RecoveryTwice,
    Branch::Rotation,
    Branch::PreparedInstalled,
    Branch::CleanClose,
    Branch::CommitMarker,
    Branch::RecordTooLarge,
    Branch::GroupCommit,
    Branch::Backpressure,
    Branch::ClockAdjusted,
    Branch::Liveness,
];

impl Branch {
    /// The bit of this item.
    pub fn bit(self) -> u64 {
        1 << BRANCHES.iter().position(|b| *b == self).unwrap_or(63)
    }

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Branch::RecoveryClean => "recovery: clean",
            Branch::TailCut => "recovery: torn-tail cut",
            Branch::SegmentsQuarantined => "recovery: later segments quarantined",
            Branch::UnsyncedCut => "recovery: cut past failed fsync",
            Branch::CorruptionRefused => "recovery: corruption refused",
            Branch::SalvageRead => "reader: salvage past corruption",
            Branch::DiskFullResume => "append: DiskFull then resume",
            Branch::FailStop => "append: fail-stop (poisoned)",
            Branch::ReopenAfterEio => "open: reopen after EIO, same process",
            Branch::RecoveryResumed => "recovery: resumed after crashes",
            Branch::RecoveryTwice => "recovery: twice, equal",
            Branch::Rotation => "writer: segment rotation",
            Branch::PreparedInstalled => "writer: background-prepared segment",
            Branch::CleanClose => "writer: seal and shrink on close",
            Branch::CommitMarker => "writer: commit marker when idle",
            Branch::RecordTooLarge => "emit: record too large refused",
            Branch::GroupCommit => "writer: batch of several writers",
            Branch::Backpressure => "emit: back-pressure on full queue",
            Branch::ClockAdjusted => "record: clock_adjusted flag",
            Branch::Liveness => "liveness: healed, appends resume",
        }
    }

    /// Whether a run with `f` should reach this branch sometimes.
    pub fn eligible(self, f: &Features) -> bool {
        match self {
            Branch::RecoveryClean
            | Branch::Rotation
            | Branch::PreparedInstalled
            | Branch::CommitMarker
            | Branch::RecordTooLarge
            | Branch::GroupCommit
            | Branch::Backpressure
            | Branch::Liveness => true,
            Branch::TailCut => f.power_loss || f.kill9,
            // Needs data in a segment after a cut one: the writer syncs a segment before it
            // writes the next, so only damage outside the model gets there. Shown, not gated.
            Branch::SegmentsQuarantined => false,
            Branch::UnsyncedCut | Branch::FailStop | Branch::ReopenAfterEio => f.io_errors,
            Branch::CorruptionRefused | Branch::SalvageRead => {
                f.at_rest || f.concurrent_corruption || f.misdirected
            }
            Branch::DiskFullResume => f.disk_full,
            Branch::RecoveryResumed | Branch::RecoveryTwice => f.crash_in_recovery,
            Branch::CleanClose => f.clean_close,
            Branch::ClockAdjusted => f.clock_jumps,
        }
    }
}

/// Per-item counts over a batch.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Runs in which the fault fired, per [`FAULTS`] index.
    pub fault_hits: Vec<u64>,
    /// Runs eligible for the fault.
    pub fault_runs: Vec<u64>,
    /// Runs in which the branch ran, per [`BRANCHES`] index.
    pub branch_hits: Vec<u64>,
    /// Runs eligible for the branch.
    pub branch_runs: Vec<u64>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally {
            fault_hits: vec![0; FAULTS.len()],
            fault_runs: vec![0; FAULTS.len()],
            branch_hits: vec![0; BRANCHES.len()],
            branch_runs: vec![0; BRANCHES.len()],
        }
    }

    /// Counts one run.
    pub fn add(&mut self, features: &Features, faults: u64, branches: u64) {
        for (i, f) in FAULTS.iter().enumerate() {
            if f.eligible(features) {
                self.fault_runs[i] += 1;
            }
            if faults & f.bit() != 0 {
                self.fault_hits[i] += 1;
            }
        }
        for (i, b) in BRANCHES.iter().enumerate() {
            if b.eligible(features) {
                self.branch_runs[i] += 1;
            }
            if branches & b.bit() != 0 {
                self.branch_hits[i] += 1;
            }
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &Tally) {
        let add = |a: &mut Vec<u64>, b: &Vec<u64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.fault_hits, &other.fault_hits);
        add(&mut self.fault_runs, &other.fault_runs);
        add(&mut self.branch_hits, &other.branch_hits);
        add(&mut self.branch_runs, &other.branch_runs);
    }

    /// The items below the gate: (label, hits, eligible runs). Empty when every item that has
    /// at least [`COVERAGE_RUNS_MIN`] eligible runs fired in at least [`COVERAGE_RATE_MIN`] of
    /// them.
    pub fn gaps(&self) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        let mut judge = |label: String, hits: u64, runs: u64| {
            if below_gate(hits, runs) {
                out.push((label, hits, runs));
            }
        };
        for (i, f) in FAULTS.iter().enumerate() {
            let (id, label) = f.label();
            judge(format!("{id} {label}"), self.fault_hits[i], self.fault_runs[i]);
        }
        for (i, b) in BRANCHES.iter().enumerate() {
            judge(b.label().to_owned(), self.branch_hits[i], self.branch_runs[i]);
        }
        out
    }
}

/// Whether an item with `hits` of `runs` eligible runs is a coverage gap: the batch gave it
/// enough runs to judge ([`COVERAGE_RUNS_MIN`]) and it fired in fewer than
/// [`COVERAGE_RATE_MIN`] of them.
pub fn below_gate(hits: u64, runs: u64) -> bool {
    runs >= COVERAGE_RUNS_MIN && (hits as f64) < COVERAGE_RATE_MIN * runs as f64
}
